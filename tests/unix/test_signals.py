"""Signals under the Unix server (servers/unix/signals.py): handlers run by raise() and
kill(), masks and pending signals, SIGSEGV with and without a handler, and signals sent
from outside to a thread waiting in nanosleep or running guest code; each compared with
the same program run natively."""

import os
import signal
import subprocess
import time

from normach.servers.unix import server_for
from normach.servers.unix.signals import raise_signal
from tests.unix.conftest import run_guest, run_native


def test_U1_7_a_handler_runs_at_raise_and_kill_of_itself(cluster, linux_exe):
    exe = linux_exe("signals_handler")
    native = run_native(exe)
    assert native[0] == 3 and b"handler: signal 2" in native[1]
    assert run_guest(cluster, exe) == native


def test_U1_7_a_signal_without_handler_ends_the_process_with_128_plus_signo(cluster, linux_exe):
    exe = linux_exe("signals_handler")
    native = run_native(exe, ["term"])
    assert native[0] == 128 + signal.SIGTERM
    assert run_guest(cluster, exe, ["term"]) == native


def test_U1_7_a_blocked_signal_is_delivered_when_unblocked(cluster, linux_exe):
    exe = linux_exe("signals_mask")
    native = run_native(exe)
    assert b"unblocked: count=1" in native[1]
    assert run_guest(cluster, exe) == native


def test_U1_7_a_sigsegv_handler_runs_and_exits(cluster, linux_exe):
    exe = linux_exe("signals_segv")
    native = run_native(exe, ["handled"])
    assert native[0] == 7 and b"MAPERR" in native[1]
    assert run_guest(cluster, exe, ["handled"]) == native


def test_U1_7_an_unhandled_sigsegv_gives_139(cluster, linux_exe):
    exe = linux_exe("signals_segv")
    native = run_native(exe)
    assert native[0] == 139
    assert run_guest(cluster, exe) == native


# -- signals from outside ----------------------------------------------------------------

def _native_signalled(exe: str, mode: str, signo: int) -> tuple[int, bytes]:
    p = subprocess.Popen([exe, mode], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    first = p.stdout.readline()
    time.sleep(0.3)                                   # in its wait, or spinning
    p.send_signal(signo)
    rest, _ = p.communicate(timeout=30)
    status = p.returncode if p.returncode >= 0 else 128 - p.returncode
    return status, first + rest


def _guest_signalled(cluster, exe: str, mode: str, signo: int) -> tuple[int, bytes]:
    server = server_for(cluster.kernel(0))
    p = cluster.spawn(exe, [mode])
    end = time.monotonic() + 60
    while b"ready" not in p.out.data:
        assert time.monotonic() < end, "the program never got ready"
        time.sleep(0.01)
    with server.lock:
        proc = next(q for q in server.pids.values()
                    if q.name == os.path.basename(exe) and q.alive)
    time.sleep(0.3)                                   # in its wait, or spinning
    server.timers.after(0, lambda: raise_signal(proc, signo))   # on the server thread
    status = cluster.wait(p, timeout=60)
    return status, p.out.data


def test_U1_7_a_signal_interrupts_nanosleep_with_eintr(cluster, linux_exe):
    exe = linux_exe("signals_wait")
    native = _native_signalled(exe, "sleep", signal.SIGUSR1)
    assert b"Interrupted" in native[1]
    assert _guest_signalled(cluster, exe, "sleep", signal.SIGUSR1) == native


def test_U1_7_a_signal_reaches_a_thread_running_guest_code(cluster, linux_exe):
    exe = linux_exe("signals_wait")
    native = _native_signalled(exe, "spin", signal.SIGUSR1)
    assert b"spun: got=10" in native[1]
    assert _guest_signalled(cluster, exe, "spin", signal.SIGUSR1) == native


def test_U1_7_an_unhandled_signal_ends_a_running_process(cluster, linux_exe):
    exe = linux_exe("signals_wait")
    native = _native_signalled(exe, "die", signal.SIGTERM)
    assert native[0] == 128 + signal.SIGTERM
    assert _guest_signalled(cluster, exe, "die", signal.SIGTERM) == native


def test_U1_7_signals_between_processes(cluster, linux_exe):
    """A child killed by SIGSEGV or SIGKILL (the parent sees WIFSIGNALED), children in
    sigsuspend() and pause() woken by kill(), a SIGCHLD handler run while waitpid waits."""
    exe = linux_exe("signals_child")
    native = run_native(exe)
    assert b"killed by signal 11" in native[1] and b"SIGCHLD handled 1" in native[1]
    assert run_guest(cluster, exe) == native
