"""How the `normach` command fails: one line on stderr and a documented exit code.

The codes follow docker's convention, so scripts can tell normach's own failure
from the program's:

  0-123  the program's own exit status (`run`, `wait`)
  124    the program was still running at --timeout (it was killed)
  125    normach's own failure: a bad option or argument, no cluster, a node that
         cannot start or join, authentication failed
  126    the program cannot run: not an ELF, another machine, a dynamic ELF, C
         sources (or a .defs interface) that do not build
  127    the program (or the program id) was not found
  130    interrupted (Ctrl-C)

No mistake prints a traceback: a bug of normach is one line too, and
NORMACH_DEBUG=1 shows its traceback.
"""

from __future__ import annotations

import os
import sys

import click

TIMEOUT = 124
FAILURE = 125
NOT_RUNNABLE = 126
NOT_FOUND = 127
INTERRUPTED = 130


class Fail(click.ClickException):
    """A one-line error with its exit code."""

    def __init__(self, message: str, code: int = FAILURE):
        super().__init__(message)
        self.exit_code = code

    def show(self, file=None) -> None:
        click.echo(f"normach: {self.format_message()}", err=True)


def kern_fail(what: str, e) -> Fail:
    """A KernError from the cluster as a one-line failure (KERN_INVALID_ARGUMENT of a
    lookup is "not found" only where the caller says so)."""
    return Fail(f"{what}: {e.detail or e.name}" if getattr(e, "detail", "") else f"{what}: {e}")


class Group(click.Group):
    """The command group: every failure becomes one line and an exit code."""

    def main(self, args=None, prog_name=None, **extra):
        try:
            rv = super().main(args=args, prog_name=prog_name or "normach",
                              standalone_mode=False, **extra)
        except click.exceptions.Exit as e:          # --help, --version
            sys.exit(e.exit_code)
        except click.UsageError as e:
            where = f"{e.ctx.command_path}: " if e.ctx is not None else ""
            click.echo(f"normach: {where}{e.format_message()} (see --help)".replace(
                "normach: normach ", "normach "), err=True)
            sys.exit(FAILURE)
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except (click.Abort, KeyboardInterrupt):
            click.echo("normach: interrupted", err=True)
            sys.exit(INTERRUPTED)
        except BrokenPipeError:
            sys.exit(FAILURE)
        except SystemExit:
            raise
        except Exception as e:                      # a bug of ours: still one line
            if os.environ.get("NORMACH_DEBUG"):
                raise
            click.echo(f"normach: internal error: {type(e).__name__}: {e} "
                       "(NORMACH_DEBUG=1 shows where)", err=True)
            sys.exit(FAILURE)
        sys.exit(rv if isinstance(rv, int) else 0)
