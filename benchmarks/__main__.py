"""python -m benchmarks [--json PATH]: run every benchmark, print the table, write JSON."""

import argparse
import os


def main(argv=None) -> None:
    from . import bench_core, bench_dipc, bench_machine, bench_xmm
    from .harness import report
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    ap.add_argument("--json", default=os.path.join("benchmarks", "results", "latest.json"))
    args = ap.parse_args(argv)
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    report(bench_core.run_all() + bench_machine.run_all() + bench_dipc.run_all()
           + bench_xmm.run_all(), args.json)


if __name__ == "__main__":
    main()
