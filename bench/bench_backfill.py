"""Backfill benchmark: 1,000 one-hour running FIT files ingested end to end.

Runs, in one command and on the same machine state:

* the production path: ``run_ingest`` with an :class:`~pipelines.isolation.IsolatedParser` (two
  long-lived worker processes, the columnar FIT decoder), over ``--files`` synthetic one-hour runs;
* the fitparse path: the same pipeline with fitparse as the FIT decoder, over a ``--subset`` of the
  files, scaled up to ``--files`` for the comparison.

It prints the wall time, per-stage breakdown (discover and hash, parse, validate, write, derive,
publish), records per second and the peak memory of the whole process tree (sampled every 0.1 s
from ``/proc``: summed RSS, which counts shared pages once per process, and summed PSS, which
does not; see :class:`PeakRss`), and exits 1 when the production path misses the issue's bar
(issue 14: 1,000 files under 10 s, 1 GiB PSS).

Usage::

    .venv/bin/python bench/bench_backfill.py [--files 1000] [--subset 100] [--clients 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from ingest.archive import ArchiveLimits
from ingest.fit import read_fit
from ingest.frames import ParsedFile
from ingest.parse import FileResult, parse_file
from pipelines.isolation import IsolatedParser
from pipelines.run import ParseJob, RunSummary, run_ingest
from pipelines.settings import Settings
from synthetic.run_model import simulate_run, write_run_fit

SECRET = "bench-backfill-secret"
START = dt.datetime(2025, 1, 6, 6, 30, tzinfo=dt.UTC)
ONE_HOUR_S = 3600
BAR_S = 10.0
"""Issue 14's bar for 1,000 one-hour files end to end (scaled with ``--files``)."""
GIB = 1 << 30


def write_inbox(inbox: Path, *, files: int, clients: int) -> int:
    """Write ``files`` one-hour runs spread over ``clients`` folders; return the records written."""
    inbox.mkdir(parents=True, exist_ok=True)
    roster = ["client_code,sex,birth_year,hr_rest,hr_max,timezone,lthr"]
    for c in range(clients):
        roster.append(
            f"K{c:03d},{'fm'[c % 2]},{1970 + c},{52 + c % 8},{182 + c % 10},Europe/London,"
        )
    (inbox / "roster.csv").write_text("\n".join(roster) + "\n")
    records = 0
    for i in range(files):
        client = i % clients
        start = START + dt.timedelta(days=i // clients, minutes=3 * client)
        run = simulate_run(
            start,
            duration_s=ONE_HOUR_S,
            intensity="easy",
            hr_rest=55,
            hr_max=188,
            home=(51.5 + client / 100, -0.12),
            seed=i,
        )
        folder = inbox / f"K{client:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"run-{i:05d}.fit").write_bytes(write_run_fit(run))
        records += ONE_HOUR_S
    return records


def _fitparse_reader(data: bytes, fmt: str) -> ParsedFile:
    return read_fit(data)


def parse_job_fitparse(job: ParseJob, limits: ArchiveLimits) -> FileResult:
    """Parse one job with fitparse as the FIT decoder (run inside the worker processes)."""
    data = Path(job.path).read_bytes()
    return parse_file(
        data, client_id=job.client_id, limits=limits, validate=False, reader=_fitparse_reader
    )


class PeakRss:
    """Peak memory of this process and its children, sampled from ``/proc``, two ways.

    ``peak``: the sum of each process's resident set (RSS). A page that several processes share
    (the parsing workers are forks, sharing the imported code and data of the process they were
    forked from) counts once per process, so this overstates what the tree holds. ``peak_pss``:
    the sum of proportional set sizes (each shared page divided among its sharers), what the
    machine really gives the tree: the figure the memory bar is judged on.
    """

    def __init__(self, interval_s: float = 0.1) -> None:
        self.peak = 0
        self.peak_pss = 0
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _field(path: str, name: str) -> int:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(name):
                    return int(line.split()[1]) * 1024
        except OSError:
            return 0
        return 0

    @staticmethod
    def _children(pid: int) -> list[int]:
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        found = [int(p) for p in text.split()]
        return found + [g for c in found for g in PeakRss._children(c)]

    def _sample(self) -> None:
        me, sample = os.getpid(), 0
        while not self._stop.is_set():
            tree = [me, *self._children(me)]
            rss = sum(self._field(f"/proc/{p}/status", "VmRSS:") for p in tree)
            self.peak = max(self.peak, rss)
            if sample % 3 == 0:  # PSS costs the kernel a page-table walk (4 ms a process here)
                pss = sum(self._field(f"/proc/{p}/smaps_rollup", "Pss:") for p in tree)
                self.peak_pss = max(self.peak_pss, pss)
            sample += 1
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed_run(
    inbox: Path, warehouse: Path, parser: IsolatedParser
) -> tuple[float, RunSummary, PeakRss]:
    """Ingest ``inbox`` once; return wall seconds (workers' start included), summary, peak RSS."""
    settings = Settings(
        inbox=inbox,
        warehouse=warehouse,
        secret=SECRET,
        settle_seconds=0.0,
        key_file=warehouse.parent / "key",
    )
    started = time.perf_counter()
    # As the CLI does: start the workers while nothing else runs (the first pool of this process
    # forks them from it, see pipelines.fork_server), then sample memory from a thread.
    parser.warm(sum(1 for p in inbox.rglob("*.fit")))
    with PeakRss() as rss:
        summary = run_ingest(settings, parse_batches=parser, parse_ahead=True)
    elapsed = time.perf_counter() - started
    return elapsed, summary, rss


def _row(
    name: str, elapsed: float, summary: RunSummary, records: int, rss: PeakRss, scale: float
) -> str:
    stages = summary.stage_s
    order = ("discover_hash", "parse", "validate", "write", "derive", "publish")
    cells = " ".join(f"{stages.get(s, 0.0) * scale:9.2f}" for s in order)
    memory = f"{rss.peak / GIB:8.2f} {rss.peak_pss / GIB:8.2f}"
    return f"{name:<24} {elapsed * scale:8.1f} {cells} {records / elapsed:12,.0f} {memory}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run both paths and print the comparison; exit 1 when the bar is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--subset", type=int, default=100)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    args = parser.parse_args(argv)
    root = args.dir or Path(tempfile.mkdtemp(prefix="mindmiles-backfill-"))
    try:
        t0 = time.perf_counter()
        records = write_inbox(root / "fast" / "inbox", files=args.files, clients=args.clients)
        sub_records = write_inbox(
            root / "fitparse" / "inbox", files=args.subset, clients=args.clients
        )
        print(
            f"generated {args.files} + {args.subset} one-hour FIT files in {time.perf_counter() - t0:.1f} s"
        )
        with IsolatedParser() as workers:
            fast = timed_run(root / "fast" / "inbox", root / "fast" / "warehouse", workers)
        with IsolatedParser(parse_one=parse_job_fitparse) as workers:
            slow = timed_run(root / "fitparse" / "inbox", root / "fitparse" / "warehouse", workers)
        scale = args.files / args.subset
        print(
            f"\n{'path':<24} {'total s':>8} {'discover':>9} {'parse':>9} {'validate':>9} "
            f"{'write':>9} {'derive':>9} {'publish':>9} {'records/s':>12} {'RSS GiB':>8} {'PSS GiB':>8}"
        )
        print(_row(f"columnar, {args.files} files", fast[0], fast[1], records, fast[2], 1.0))
        print(
            _row(
                f"fitparse, {args.subset} x{scale:g}", slow[0], slow[1], sub_records, slow[2], scale
            )
        )
        print(
            f"\nend-to-end speed-up: {slow[0] * scale / fast[0]:.1f}x "
            f"(parse stage {slow[1].stage_s['parse'] * scale / fast[1].stage_s['parse']:.1f}x)"
        )
        print(f"activities: {fast[1].activities} (fast), {slow[1].activities} (fitparse subset)")
        bar_s = BAR_S * args.files / 1000
        ok = fast[0] < bar_s and fast[2].peak_pss < GIB and fast[1].activities == args.files
        print(
            f"bar (< {bar_s:g} s, < 1 GiB PSS, every file an activity):", "met" if ok else "MISSED"
        )
        return 0 if ok else 1
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
