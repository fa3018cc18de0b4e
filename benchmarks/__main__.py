"""python -m benchmarks [--json PATH]: run every benchmark, print the table, write JSON.

Each group runs in a fresh Python process, so one group's clusters, threads and
garbage never weigh on the next group's figures.
"""

import argparse
import json
import os
import subprocess
import sys

GROUPS = ("bench_core", "bench_machine", "bench_dipc", "bench_xmm", "bench_migration",
          "bench_soak", "bench_cluster", "bench_mig", "bench_unix")


def _run_group(name: str) -> list:
    """The Results of benchmarks/<name>.py, measured in a child process."""
    from .harness import Result
    code = (f"import json; from dataclasses import asdict; from benchmarks import {name}; "
            f"print(json.dumps([asdict(r) for r in {name}.run_all()]))")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"benchmark group {name} failed")
    return [Result(**r) for r in json.loads(proc.stdout.strip().splitlines()[-1])]


def main(argv=None) -> None:
    from .harness import report
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    ap.add_argument("--json", default=os.path.join("benchmarks", "results", "latest.json"))
    args = ap.parse_args(argv)
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    results = []
    for name in GROUPS:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results += _run_group(name)
    report(results, args.json)


if __name__ == "__main__":
    main()
