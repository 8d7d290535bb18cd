"""Fuzz restricted loads for a long run: ``hatch run fuzz:serialize --cases 10000 --seed 1``.

Generates ``--cases`` crafted checkpoints (``fuzz_cases``: opcode streams from a grammar,
mutations of real checkpoints, damaged frames), loads each with ``trusted=False`` in a
sandboxed child and prints a table of outcomes by generator, then every violation (an
undocumented exception, a crash, a hang, code that ran, a forbidden import, memory over the
bound) with the case's bytes. Exits with status 1 if there was any violation.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import fuzz_cases as fc  # this script's directory is on sys.path
import fuzz_harness as fh


def main(argv: list[str] | None = None) -> int:
    """Run the fuzzer; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases to run (10000)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (0)")
    parser.add_argument("--workers", type=int, default=None, help="worker interpreters")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per load (20)")
    parser.add_argument(
        "--max-bytes", type=int, default=fc.FUZZ_MAX_BYTES, help="max_bytes of each load"
    )
    parser.add_argument("--save", type=Path, help="write each violating case to this folder")
    parser.add_argument(
        "--minimize", action="store_true", help="shrink each violating case before printing"
    )
    args = parser.parse_args(argv)

    import numpy
    import rlu_serialize

    versions = f"Python {platform.python_version()}, numpy {numpy.__version__}"
    jax = fc.jax_module()
    versions += f", jax {jax.__version__}" if jax is not None else ", no jax"
    print(
        f"fuzzing rlu_serialize.loads(trusted=False) from {Path(rlu_serialize.__file__).parent}"
        f"\n{versions}; {args.cases} cases, seed {args.seed}, max_bytes {args.max_bytes}, "
        f"timeout {args.timeout:g} s",
        flush=True,
    )
    last = [time.monotonic()]

    def progress(summary: fh.Summary) -> None:
        if time.monotonic() - last[0] >= 10 or len(summary.outcomes) >= args.cases:
            last[0] = time.monotonic()
            print(
                f"  {len(summary.outcomes)} cases, {len(summary.violations)} violations, "
                f"{summary.seconds:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    with fh.Runner(args.max_bytes, args.timeout, args.workers) as runner:
        print(f"{runner.workers} workers; memory baselines (bytes): {runner.baselines}")
        summary = fh.run_fuzz(args.cases, args.seed, runner, progress)
        print(summary.table())
        for number, outcome in enumerate(summary.violations):
            case = outcome.case
            if args.minimize:
                case = fh.minimize(runner, outcome)
                print(f"\nminimized repro {number}: {case.data.hex()}")
            if args.save is not None:
                args.save.mkdir(parents=True, exist_ok=True)
                label = f"{case.kind}-{outcome.outcome}".replace(" ", "-").replace(":", "-")
                name = f"{number:03d}-{label}.lz4"
                (args.save / name).write_bytes(case.data)
        if args.save is not None and summary.violations:
            print(f"\nviolating cases written to {args.save}")
    return 1 if summary.violations else 0


if __name__ == "__main__":
    sys.exit(main())
