"""Benchmark how long the `clearance` command takes to start and answer, as a whole process.

    .venv/bin/python bench/cli.py [--runs 5] [--json FILE]

Each command runs `--runs` times after one warm-up run (so the bytecode is cached, as after an
install), on a demo directory in a temporary CLEARANCE_HOME; the table gives the median, minimum
and maximum wall time, and the same for `python -c pass` for scale. Compare figures only with
others measured in the same session (this machine's speed drifts from day to day).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, table, write_json

BIN = Path(sys.executable).parent
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "clearance --help": [str(BIN / "clearance"), "--help"],
    "clearance lookup ADDRESS": [str(BIN / "clearance"), "lookup", "j.smith@wessex.gov.uk"],
    "clearance lookup --json": [
        str(BIN / "clearance"),
        "lookup",
        "j.smith@wessex.gov.uk",
        "-c",
        "OFFICIAL",
        "--json",
    ],
}


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):  # 1: a lookup's "no"
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clearance-bench-cli-") as home:
        env = {**os.environ, "CLEARANCE_HOME": home}
        subprocess.run(
            [str(BIN / "clearance"), "demo"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        rows = []
        results = {}
        for name, argv in COMMANDS.items():
            timed(argv, env)  # warm-up
            samples = [timed(argv, env) for _ in range(args.runs)]
            median = statistics.median(samples)
            results[name] = {"median_s": median, "min_s": min(samples), "max_s": max(samples)}
            rows.append([name, f"{median:.3f}", f"{min(samples):.3f}", f"{max(samples):.3f}"])
    print(f"{args.runs} runs each after a warm-up; wall seconds")
    print(table(["command", "median", "min", "max"], rows))
    if args.json:
        write_json(args.json, {"machine": machine(), "runs": args.runs, "commands": results})


if __name__ == "__main__":
    main()
