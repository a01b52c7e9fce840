"""Drop to visible under ``mindmiles serve``: the median of ``--drops`` files dropped one by one.

Starts ``python -m pipelines.serve`` on a tiny clinic (an embedded Prefect server on a free port,
the default poll and settle times unless given), then drops one synthetic FIT file at a time into
the client's folder (written beside it and renamed in, so that the copy ends at a known instant)
and times how long until the run that took it in has finished: its activity is in the
``activities`` table, its run is in the run record, and the therapist report was rewritten after
the drop. The next file is dropped only then.

Usage::

    .venv/bin/python bench/bench_watch.py [--drops 5] [--warmup 1] [--poll-seconds 1] [--settle-seconds 2]

Prints one line per drop and the median of the timed drops, in seconds from the end of the copy.
The first ``--warmup`` drops (timed, not in the median) meet a serving process that has just
started: its parsing workers may still be importing, and the run's code paths run a first time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from synthetic.run_model import simulate_run, write_run_fit
from warehouse.runlog import read_runs
from warehouse.store import TableStore

ROOT = Path(__file__).resolve().parents[1]
CLIENT = "W001"
ROSTER = "client_code,sex,birth_year,hr_rest,hr_max,timezone\nW001,f,1990,55,190,Europe/London\n"
START = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


def _fit(index: int) -> bytes:
    run = simulate_run(
        START + dt.timedelta(days=index),
        duration_s=30 * 60,
        intensity="easy",
        hr_rest=55,
        hr_max=190,
        home=(51.5, -0.12),
        seed=index,
    )
    return write_run_fit(run)


def _wait(condition: object, *, timeout_s: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if process.poll() is not None:
            raise SystemExit(f"the serving process exited ({process.returncode})")
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {timeout_s:.0f} s")
        time.sleep(0.05)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print each drop's time and the median."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--poll-seconds", type=float, default=None)
    parser.add_argument("--settle-seconds", type=float, default=None)
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="mindmiles-bench-watch-"))
    inbox, warehouse = base / "inbox", base / "warehouse"
    (inbox / CLIENT).mkdir(parents=True)
    (inbox / "roster.csv").write_text(ROSTER)
    env = {
        **os.environ,
        "PREFECT_HOME": str(base / "prefect-home"),
        "MINDMILES_SECRET": "bench-watch-secret-16",
        "MINDMILES_KEY_FILE": str(base / "unused.key"),
    }
    env.pop("PREFECT_API_URL", None)
    command = [sys.executable, "-m", "pipelines.serve", "--inbox", str(inbox)]
    command += ["--warehouse", str(warehouse), "--port", "0"]
    if args.poll_seconds is not None:
        command += ["--poll-seconds", str(args.poll_seconds)]
    if args.settle_seconds is not None:
        command += ["--settle-seconds", str(args.settle_seconds)]
    log = base / "serve.log"
    files = [_fit(i) for i in range(args.warmup + args.drops)]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=sink)
    report = inbox / "_reports" / "index.html"
    times: list[float] = []
    try:
        _wait(lambda: "serving:" in log.read_text(), timeout_s=300, process=process)
        time.sleep(3)  # the runner registers the deployments
        for index, data in enumerate(files):
            staged = inbox / CLIENT / f".staging-{index}"
            staged.write_bytes(data)
            staged.rename(inbox / CLIENT / f"run{index}.fit")  # the copy ends here
            dropped, dropped_wall = time.monotonic(), time.time()

            def visible(index: int = index, dropped_wall: float = dropped_wall) -> bool:
                if len(read_runs(warehouse)) < index + 1:
                    return False
                held = TableStore(warehouse).read("activities").height
                return held == index + 1 and report.stat().st_mtime > dropped_wall

            _wait(visible, timeout_s=180, process=process)
            took = time.monotonic() - dropped
            stages = read_runs(warehouse)[-1].get("stage_s")
            kind = "warm-up drop" if index < args.warmup else "drop"
            print(f"{kind} {index + 1}: visible after {took:.1f} s (run stages {stages})")
            if index >= args.warmup:
                times.append(took)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=90)
    print(f"median of {len(times)} drops: {statistics.median(times):.1f} s (log: {log})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
