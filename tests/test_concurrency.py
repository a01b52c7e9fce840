"""One writer at a time: concurrent and killed ingestion runs (real, separate processes).

The runs are :func:`pipelines.run.run_ingest` in processes forked from the pre-warmed server of
:mod:`tests.crash_child` (a fresh interpreter would spend seconds importing first). The expected
warehouse is a single uninterrupted run over a copy of the same inbox; the expected file count is
what :func:`_make_inbox` wrote. Tables are compared whole, except the ledger's ``received_utc``
(the clock of the run that received the file).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from polars.testing import assert_frame_equal

from pipelines.run import run_ingest
from pipelines.settings import Settings
from schemas.errors import LockTimeout
from synthetic.run_model import simulate_run, write_run_fit
from tests.clinic_factory import make_small_clinic
from tests.crash_child import ForkServer
from warehouse.lock import warehouse_lock
from warehouse.store import TableStore
from warehouse.tables import TABLES

SECRET = "concurrency-test-secret"
SECOND_CLIENT = "K456"
EXTRA_RUNS = 3
"""FIT files added to the small clinic, so that a run has a second client and some work."""
FILES_IN_INBOX = 4 + EXTRA_RUNS  # the small clinic's 2 FIT + journal + plan, and the extra FIT
ACTIVITIES = 2 + EXTRA_RUNS
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _make_inbox(inbox: Path) -> None:
    make_small_clinic(inbox)
    with (inbox / "roster.csv").open("a") as roster:
        roster.write(f"{SECOND_CLIENT},m,1985,60,185,Europe/Berlin,165\n")
    folder = inbox / SECOND_CLIENT
    folder.mkdir()
    for i in range(EXTRA_RUNS):
        start = dt.datetime(2026, 2, 1, 6, 30, tzinfo=dt.UTC) + dt.timedelta(days=2 * i)
        run = simulate_run(
            start,
            duration_s=600,
            intensity="easy",
            hr_rest=60,
            hr_max=185,
            home=(52.52, 13.40),
            seed=100 + i,
        )
        (folder / f"run{i:02d}.fit").write_bytes(write_run_fit(run, serial_number=1_234_567_890))


def _settings(inbox: Path, warehouse: Path, key_dir: Path) -> Settings:
    return Settings(
        inbox=inbox,
        warehouse=warehouse,
        secret=SECRET,
        settle_seconds=0.0,
        key_file=key_dir / "unused.key",
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An inbox to copy; never ingested itself."""
    inbox = tmp_path_factory.mktemp("template") / "inbox"
    _make_inbox(inbox)
    return inbox


@pytest.fixture(scope="module")
def reference(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse of one uninterrupted run over a copy of the template."""
    base = tmp_path_factory.mktemp("reference")
    shutil.copytree(template, base / "inbox")
    summary = run_ingest(_settings(base / "inbox", base / "warehouse", base))
    assert (summary.files_seen, summary.ingested, summary.activities) == (
        FILES_IN_INBOX,
        FILES_IN_INBOX,
        ACTIVITIES,
    )
    return base / "warehouse"


def _assert_same_tables(warehouse: Path, reference: Path) -> None:
    got, want = TableStore(warehouse), TableStore(reference)
    for name in TABLES:
        a, b = got.read(name), want.read(name)
        if name == "files":
            a, b = a.drop("received_utc"), b.drop("received_utc")
        assert a.height == b.height, name
        assert_frame_equal(a, b, check_row_order=False)


def _processed_files(inbox: Path) -> list[str]:
    return sorted(
        str(p.relative_to(inbox / "_processed"))
        for p in (inbox / "_processed").rglob("*")
        if p.is_file()
    )


def _template_files(template: Path) -> list[str]:
    return sorted(
        str(p.relative_to(template))
        for p in template.rglob("*")
        if p.is_file() and p.name != "roster.csv"
    )


def _request(inbox: Path, warehouse: Path, home: Path, who: str) -> dict[str, Any]:
    """Settings for a forked run (as :func:`_settings`), and its name in the lock file."""
    return {
        "inbox": str(inbox),
        "warehouse": str(warehouse),
        "key_file": str(home / "unused.key"),
        "secret": SECRET,
        "settle_seconds": 0.0,
        "who": who,
    }


@pytest.fixture(scope="module")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    """The pre-warmed server that forks the runs."""
    server = ForkServer(tmp_path_factory.mktemp("fork-server") / "stderr.txt")
    server.launch()
    try:
        yield server
    finally:
        server.stop()


def _has_open(pid: int, path: Path) -> bool:
    """True when process ``pid`` has ``path`` open (Linux ``/proc``)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except (FileNotFoundError, PermissionError):
        return False
    for fd in fds:
        try:
            if fd.readlink() == path:
                return True
        except OSError:
            continue
    return False


def _wait_for(condition: object, *, timeout_s: float, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.01)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc to see who waits")
def test_two_runs_at_once_process_each_file_once(
    template: Path, reference: Path, tmp_path: Path, fork_server: ForkServer
) -> None:
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    shutil.copytree(template, inbox)
    lock = warehouse / ".lock"
    # Hold the lock until both runs wait on it, so that they are certainly concurrent.
    with warehouse_lock(warehouse, timeout_s=1, who="test"):
        runs = [
            fork_server.start(_request(inbox, warehouse, tmp_path, who=f"run {i}")) for i in (1, 2)
        ]
        assert runs[0].pid != runs[1].pid
        _wait_for(
            lambda: all(_has_open(run.pid, lock) for run in runs),
            timeout_s=60,
            what="both runs to wait on the warehouse lock",
        )
        assert all(run.status is None for run in runs)
    for run in runs:
        fork_server.wait(run, timeout_s=180)
    assert [run.succeeded for run in runs] == [True, True], [run.error for run in runs]
    summaries = [run.summary for run in runs]
    assert None not in summaries
    # one run took everything, the other found an empty inbox (it waited, then looked)
    assert sorted(s["files_seen"] for s in summaries if s) == [0, FILES_IN_INBOX]
    assert sorted(s["ingested"] for s in summaries if s) == [0, FILES_IN_INBOX]
    assert sum(s["duplicates"] + s["quarantined"] + s["deferred"] for s in summaries if s) == 0
    assert _processed_files(inbox) == _template_files(template)
    _assert_same_tables(warehouse, reference)


def test_killed_run_holding_the_lock_does_not_block_the_next(
    template: Path, reference: Path, tmp_path: Path, fork_server: ForkServer
) -> None:
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    shutil.copytree(template, inbox)
    victim = fork_server.start(_request(inbox, warehouse, tmp_path, who="victim"))
    lock = warehouse / ".lock"
    _wait_for(
        lambda: lock.exists() and f"pid {victim.pid}" in lock.read_text(),
        timeout_s=60,
        what="the run to take the lock",
    )
    fork_server.kill(victim)
    fork_server.wait(victim, timeout_s=30)
    assert victim.killed  # killed while holding the lock, not finished
    assert victim.summary is None
    assert f"pid {victim.pid}" in lock.read_text()  # its note is stale; the kernel freed the lock
    started = time.monotonic()
    nxt = fork_server.wait(
        fork_server.start(_request(inbox, warehouse, tmp_path, who="next")), timeout_s=180
    )
    assert nxt.succeeded, nxt.error
    assert time.monotonic() - started < 120  # it did not wait for the lock's one-hour timeout
    assert nxt.summary is not None
    assert nxt.summary["ingested"] == FILES_IN_INBOX
    assert _processed_files(inbox) == _template_files(template)
    _assert_same_tables(warehouse, reference)


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from warehouse.lock import warehouse_lock
    with warehouse_lock(Path(sys.argv[1]), timeout_s=5, who="holder-under-test"):
        print("held", flush=True)
        time.sleep(60)
    """
)


def test_a_waiting_run_says_whom_it_waits_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with (
            caplog.at_level(logging.INFO, logger="warehouse.lock"),
            pytest.raises(LockTimeout),
            warehouse_lock(tmp_path, timeout_s=0.5, who="waiter"),
        ):
            pytest.fail("the lock was taken while another process held it")
        waiting = [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()]
        assert waiting, caplog.text
        assert f"holder-under-test (pid {holder.pid}" in waiting[0]
    finally:
        holder.kill()
        holder.wait(timeout=30)
    # once the holder is dead, the lock is free at once
    with warehouse_lock(tmp_path, timeout_s=0.5, who="after"):
        assert "after (pid" in (tmp_path / ".lock").read_text()
