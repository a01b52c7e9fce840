"""Incremental cost of a run: full build vs a few new files vs nothing new.

Builds a warehouse of ``--clients`` x ``--runs`` synthetic FIT activities (20-40 min each) with the
local engine, then times a run with ``--new`` new files (spread over as many clients) and a run with
nothing new, and checks what those runs rewrote (table versions before and after).

Usage::

    .venv/bin/python bench/bench_incremental.py [--dir DIR] [--clients 50] [--runs 40] [--workers 2]

Every run is a fresh Python process and parses as ``mindmiles ingest --engine local`` does: in
``--workers`` isolated worker processes (their start-up is part of each run's time; the
interpreter's start and imports are not, and are printed apart).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from pipelines.isolation import IsolatedParser, IsolationLimits
from pipelines.run import RunSummary, run_ingest
from pipelines.settings import Settings
from synthetic.run_model import simulate_run, write_run_fit
from warehouse.inbox import Inbox
from warehouse.store import TableStore
from warehouse.tables import TABLES

SECRET = "bench-incremental-secret"
START = dt.datetime(2025, 9, 1, 6, 0, tzinfo=dt.UTC)


def _client(i: int) -> str:
    return f"B{i:04d}"


def write_inbox(inbox: Path, *, clients: int, runs: int, first_run: int = 0) -> int:
    """Write ``runs`` FIT files (runs ``first_run..``) for each client; return files written."""
    written = 0
    for c in range(clients):
        folder = inbox / _client(c)
        folder.mkdir(parents=True, exist_ok=True)
        for r in range(first_run, first_run + runs):
            start = START + dt.timedelta(days=2 * r, minutes=7 * c)
            run = simulate_run(
                start,
                duration_s=(20 + (7 * r + c) % 21) * 60,
                intensity="easy",
                hr_rest=55 + c % 10,
                hr_max=185 + c % 10,
                home=(51.5, -0.12),
                seed=c * 10_000 + r,
            )
            (folder / f"run{r:03d}.fit").write_bytes(
                write_run_fit(run, serial_number=1_000_000 + c)
            )
            written += 1
    return written


def write_roster(inbox: Path, clients: int) -> None:
    """One roster row per client."""
    rows = ["client_code,sex,birth_year,hr_rest,hr_max,timezone,lthr"]
    rows += [
        f"{_client(c)},{'fm'[c % 2]},{1970 + c % 30},{55 + c % 10},{185 + c % 10},Europe/London,165"
        for c in range(clients)
    ]
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "roster.csv").write_text("\n".join(rows) + "\n")


def versions(warehouse: Path) -> dict[str, int | None]:
    """Current Delta version of every table."""
    store = TableStore(warehouse)
    return {name: store.version(name) for name in TABLES}


def run_once(settings: Settings, workers: int) -> tuple[float, RunSummary]:
    """One run as ``mindmiles ingest --engine local`` does it; return seconds and summary.

    Called in a fresh process (see :func:`timed`): the workers' fork server is then a fork of
    that process, as it is under the CLI, and its start is part of the time.
    """
    started = time.perf_counter()
    with IsolatedParser(IsolationLimits(workers=workers)) as parser:
        parser.warm(sum(1 for _ in Inbox(Path(settings.inbox)).candidates()))  # as the CLI does
        summary = run_ingest(settings, parse_batches=parser, parse_ahead=True)
    return time.perf_counter() - started, summary


def timed(base: Path, workers: int) -> tuple[float, RunSummary]:
    """Run once in a fresh Python, as every ``mindmiles ingest`` is; return seconds, summary.

    The seconds are the run's own (workers' start-up included), not the interpreter's start and
    imports, which every run pays alike (the process's whole time is printed on stderr).
    """
    command = [sys.executable, __file__, "--dir", str(base), "--run-once"]
    started = time.perf_counter()
    done = subprocess.run([*command, "--workers", str(workers)], check=True, capture_output=True)
    whole = time.perf_counter() - started
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    print(f"  run {result['seconds']:.2f} s; its whole process {whole:.2f} s", file=sys.stderr)
    return result["seconds"], RunSummary(**result["summary"])


def _settings(base: Path) -> Settings:
    return Settings(
        inbox=base / "inbox",
        warehouse=base / "warehouse",
        secret=SECRET,
        settle_seconds=0.0,
        key_file=base / "unused.key",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Build, add files, run again; print the three timings as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--runs", type=int, default=40, help="activities per client")
    parser.add_argument("--new", type=int, default=5, help="new files for the incremental run")
    parser.add_argument("--workers", type=int, default=2, help="processes parsing the full build")
    parser.add_argument("--run-once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_once:  # the child of timed()
        seconds, summary = run_once(_settings(args.dir), args.workers)
        print(json.dumps({"seconds": seconds, "summary": asdict(summary)}))
        return 0
    base = args.dir or Path(tempfile.mkdtemp(prefix="mindmiles-bench-"))
    inbox, warehouse = base / "inbox", base / "warehouse"
    shutil.rmtree(base / "inbox", ignore_errors=True)
    shutil.rmtree(base / "warehouse", ignore_errors=True)
    t0 = time.perf_counter()
    write_roster(inbox, args.clients)
    n_files = write_inbox(inbox, clients=args.clients, runs=args.runs)
    generate_s = time.perf_counter() - t0
    print(f"generated {n_files} FIT files in {generate_s:.1f} s", file=sys.stderr)

    full_s, full = timed(base, args.workers)
    print(f"full build: {full_s:.1f} s ({full.activities} activities)", file=sys.stderr)

    before = versions(warehouse)
    new_clients = min(args.new, args.clients)
    for c in range(new_clients):  # one new run for each of the first clients
        write_inbox_single(inbox, c, args.runs)
    few_s, few = timed(base, args.workers)
    after_few = versions(warehouse)
    rewritten_few = sorted(n for n in TABLES if before[n] != after_few[n])

    empty_s, empty = timed(base, args.workers)
    rewritten_empty = sorted(n for n in TABLES if after_few[n] != versions(warehouse)[n])
    report = {
        "activities_held": full.activities + few.activities,
        "full_build_s": round(full_s, 2),
        "full_build_workers": args.workers,
        "full_build_stage_s": full.stage_s,
        "new_files": few.files_seen,
        "new_files_run_s": round(few_s, 2),
        "new_files_share_of_full": f"{few_s / full_s:.1%}",
        "new_files_stage_s": few.stage_s,
        "new_files_clients_rebuilt": few.clients_rebuilt,
        "new_files_tables_rewritten": rewritten_few,
        "nothing_new_run_s": round(empty_s, 3),
        "nothing_new_files_seen": empty.files_seen,
        "nothing_new_tables_rewritten": rewritten_empty,
        "generate_s": round(generate_s, 1),
        "dir": str(base),
    }
    print(json.dumps(report, indent=2))
    return 0


def write_inbox_single(inbox: Path, client: int, run_no: int) -> None:
    """One new FIT file for ``client`` (its run number ``run_no``)."""
    folder = inbox / _client(client)
    start = START + dt.timedelta(days=2 * run_no, minutes=7 * client)
    run = simulate_run(
        start,
        duration_s=30 * 60,
        intensity="easy",
        hr_rest=55,
        hr_max=185,
        home=(51.5, -0.12),
        seed=client * 10_000 + run_no,
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"run{run_no:03d}.fit").write_bytes(
        write_run_fit(run, serial_number=1_000_000 + client)
    )


if __name__ == "__main__":
    raise SystemExit(main())
