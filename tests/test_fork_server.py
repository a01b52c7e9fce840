"""The parsing workers' fork server, forked from a fresh run's process (pipelines.fork_server).

A fresh ``mindmiles ingest`` forks the server from itself instead of starting a Python that
imports everything again; the isolation limits must hold the same there. Each case runs in a
fresh interpreter (as the CLI is): this test session has long since started Polars' threads,
so here the standard server is the one in use.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

ATTACKS = """
import json, multiprocessing.forkserver as fs, sys, time
from pathlib import Path
import pipelines.run
from ingest.archive import ArchiveLimits
from ingest.parse import sha256_hex
from pipelines.isolation import IsolatedParser, IsolationLimits
from pipelines.run import ParseJob
from synthetic.run_model import simulate_run, write_run_fit
from tests.isolation_helpers import misbehaving_parse
import datetime as dt

if __name__ == "__main__":
    folder = Path(sys.argv[1])
    if sys.argv[2] == "polars-first":  # Polars work before the workers start
        import polars as pl
        pl.DataFrame({"a": range(100_000)}).group_by("a").len()
    run = simulate_run(dt.datetime(2026, 3, 2, 7, tzinfo=dt.UTC), duration_s=90, intensity="easy",
                       hr_rest=55, hr_max=185, home=(51.5, -0.1), seed=1)
    good = write_run_fit(run)
    jobs = []
    for name in ["a-good.fit", "hang.fit", "segv.fit", "hog.fit", "oom.fit", "b-good.fit"]:
        path = folder / name
        path.write_bytes(good if "good" in name else good + name.encode())
        jobs.append(ParseJob(str(path), "c", sha256_hex(path.read_bytes()), path.stat().st_size))
    limits = IsolationLimits(memory_bytes=int(1.5 * 1024**3), seconds_per_file=8)
    started = time.monotonic()
    with IsolatedParser(limits, parse_one=misbehaving_parse) as parser:
        parser.warm(2)
        ready_s = time.monotonic() - started
        server = fs._forkserver._forkserver_pid
        cmdline = Path(f"/proc/{server}/cmdline").read_bytes()
        batches = parser([jobs[:3], jobs[3:]], ArchiveLimits())
        results = zip(jobs, [r for batch in batches for r in batch], strict=True)
    print(json.dumps({
        "forked": cmdline == Path("/proc/self/cmdline").read_bytes(),  # a copy of this process
        "ready_s": ready_s,
        "results": [
            [Path(j.path).name, r.outcome, r.reason_code, r.detail,
             None if r.samples is None else r.samples.height]
            for j, r in results
        ],
    }))
"""


def _attacks(tmp_path: Path, mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", ATTACKS, str(tmp_path), mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


EXPECTED = [
    # the synthetic 90 s run is recorded once a second: 90 records
    ["a-good.fit", "ingested", None, "", 90],
    ["hang.fit", "quarantined", "resource_limit", "no result within 8 s", None],
    ["segv.fit", "quarantined", "resource_limit", "parser process ended (SIGSEGV)", None],
    ["hog.fit", "quarantined", "resource_limit", "MemoryError under a 1.5 GiB limit", None],
    ["oom.fit", "quarantined", "resource_limit", "parser process ended (SIGKILL)", None],
    ["b-good.fit", "ingested", None, "", 90],
]


@pytest.mark.slow
def test_a_fresh_process_forks_the_server_and_the_limits_hold(tmp_path: Path) -> None:
    """Forked from the process (no second import of everything): ready in well under a second
    (the standard server takes 2-3 s here), and a hang, a crash, a memory hog and a kill each
    cost only their own file."""
    outcome = _attacks(tmp_path, "fresh")
    assert outcome["forked"] is True
    assert isinstance(outcome["ready_s"], float)
    assert outcome["ready_s"] < 1.0, outcome["ready_s"]
    assert outcome["results"] == EXPECTED


@pytest.mark.slow
def test_after_polars_work_the_standard_server_starts_instead(tmp_path: Path) -> None:
    """Polars' compute threads exist once it has worked; a fork would copy none of them (its
    children would wait for them forever), so the server starts afresh, and works the same."""
    outcome = _attacks(tmp_path, "polars-first")
    assert outcome["forked"] is False
    assert outcome["results"] == EXPECTED


def test_polars_compute_threads_make_a_fork_unsafe() -> None:
    code = (
        "import polars as pl\n"
        "from pipelines.fork_server import unsafe_threads\n"
        "before = unsafe_threads()\n"
        "pl.DataFrame({'a': range(100_000)}).group_by('a').len()\n"
        "print(before, [t for t in unsafe_threads() if t.startswith('polars-')] != [])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[] True"
