"""The folder watch (fast, no server) and ``python -m pipelines.serve`` end to end (one server start).

Expected activity start times come from :mod:`tests.clinic_factory`'s constants; expected hashes
from :mod:`hashlib` over the bytes the test wrote.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.watch import InboxWatcher
from synthetic.run_model import simulate_run, write_run_fit
from tests.clinic_factory import CLIENT, ROSTER, RUN_MINUTES, RUN_STARTS
from warehouse.runlog import read_runs
from warehouse.store import TableStore

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="mindmiles-prefect-home-"))

ROOT = Path(__file__).resolve().parents[1]
SECRET = "serve-test-secret"
POLL_S = 0.5
"""The watch's poll interval: short, so that the tests wait little for it to look."""
SERVER_START_TIMEOUT_S = 240.0
INGEST_TIMEOUT_S = 150.0


# -- the watcher alone -----------------------------------------------------------------------------
class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _touch(path: Path, data: bytes, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def test_a_new_file_is_ready_after_two_equal_looks_and_only_once(tmp_path: Path) -> None:
    clock = FakeClock(1_000_000.0)
    watcher = InboxWatcher(tmp_path, settle_seconds=2.0, clock=clock)
    file = tmp_path / "K1" / "run.fit"
    _touch(file, b"x" * 10, clock.now - 60)
    assert watcher.poll().ready == ()  # first look: cannot know yet
    assert watcher.poll().ready == (file,)  # second equal look
    watcher.mark_handled((file,))
    assert watcher.poll().ready == ()  # handled: not again while unchanged
    _touch(file, b"y" * 20, clock.now - 30)  # changed in place (a new export under the same name)
    assert watcher.poll().ready == ()
    assert watcher.poll().ready == (file,)


def test_a_growing_file_a_partial_name_and_a_fresh_file_are_not_ready(tmp_path: Path) -> None:
    clock = FakeClock(1_000_000.0)
    watcher = InboxWatcher(tmp_path, settle_seconds=2.0, clock=clock)
    growing = tmp_path / "K1" / "big.zip"
    partial = tmp_path / "K1" / "export.fit.crdownload"
    _touch(partial, b"p", clock.now - 600)
    for size in range(1, 5):
        _touch(growing, b"g" * size, clock.now - 60 + size)
        poll = watcher.poll()
        assert poll.ready == ()
        assert poll.waiting == 2
    fresh = tmp_path / "K1" / "fresh.fit"
    _touch(fresh, b"f", clock.now - 1.0)  # modified 1 s ago, settle is 2 s
    assert watcher.poll().settles_in == pytest.approx(1.0, abs=0.01)  # looked at again then
    assert fresh not in watcher.poll().ready
    clock.now += 5
    assert watcher.poll().ready == (growing, fresh)  # the partial name never is


def test_the_roster_at_start_is_not_new_but_an_edit_is(tmp_path: Path) -> None:
    clock = FakeClock(1_000_000.0)
    roster = tmp_path / "roster.csv"
    _touch(roster, ROSTER.encode(), clock.now - 60)
    watcher = InboxWatcher(tmp_path, settle_seconds=0.0, clock=clock)
    assert watcher.poll().ready == ()
    assert watcher.poll().ready == ()
    _touch(roster, ROSTER.encode() + b"K2,m,1980,60,180,UTC\n", clock.now - 10)
    watcher.poll()
    assert watcher.poll().ready == (roster,)


def test_taken_in_files_are_not_looked_at(tmp_path: Path) -> None:
    clock = FakeClock(1_000_000.0)
    _touch(tmp_path / "_processed" / "K1" / "old.fit", b"o", clock.now - 600)
    _touch(tmp_path / "_quarantine" / "K1" / "bad.fit", b"b", clock.now - 600)
    watcher = InboxWatcher(tmp_path, settle_seconds=0.0, clock=clock)
    watcher.poll()
    assert watcher.poll().ready == ()


# -- the serving process ---------------------------------------------------------------------------
@dataclass
class Served:
    process: subprocess.Popen[bytes]
    inbox: Path
    warehouse: Path
    log: Path
    api_url: str
    server_start_s: float

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def _wait(
    condition: Callable[[], bool], *, timeout_s: float, what: str, served: Served | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if served is not None and served.process.poll() is not None:
            pytest.fail(
                f"the serving process exited ({served.process.returncode}):\n{served.text()[-3000:]}"
            )
        if time.monotonic() > deadline:
            tail = served.text()[-3000:] if served is not None else ""
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}\n{tail}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("serve")
    inbox, warehouse, home = base / "inbox", base / "warehouse", base / "prefect-home"
    (inbox / CLIENT).mkdir(parents=True)
    (inbox / "roster.csv").write_text(ROSTER)
    home.mkdir()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "MINDMILES_SECRET": SECRET,
        "MINDMILES_KEY_FILE": str(base / "unused.key"),
    }
    env.pop("PREFECT_API_URL", None)
    log = base / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipelines.serve",
                "--inbox",
                str(inbox),
                "--warehouse",
                str(warehouse),
                "--port",
                "0",
                "--poll-seconds",
                str(POLL_S),
                "--settle-seconds",
                "1",
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    served = Served(process, inbox, warehouse, log, "", 0.0)
    try:
        _wait(
            lambda: "serving:" in served.text(),
            timeout_s=SERVER_START_TIMEOUT_S,
            what="the Prefect server and the deployments",
            served=served,
        )
        found = re.search(r"Prefect server started in ([\d.]+) s; UI at (\S+)", served.text())
        assert found is not None, served.text()
        served.server_start_s = float(found.group(1))
        served.api_url = found.group(2) + "/api"
        yield served
    finally:
        if process.poll() is None:  # only when a test failed before the Ctrl-C test
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


def _fit(index: int) -> bytes:
    run = simulate_run(
        RUN_STARTS[index],
        duration_s=RUN_MINUTES[index] * 60,
        intensity="easy",
        hr_rest=55,
        hr_max=190,
        home=(51.5, -0.12),
        seed=index,
    )
    return write_run_fit(run)


def _activities(warehouse: Path) -> list[dt.datetime]:
    if not (warehouse / "activities").exists():
        return []
    return sorted(TableStore(warehouse).read("activities")["start_utc"].to_list())


@pytest.mark.slow
def test_a_dropped_fit_file_reaches_the_warehouse(served: Served, tmp_path: Path) -> None:
    time.sleep(4 * POLL_S)
    assert read_runs(served.warehouse) == []  # an unchanged roster and no files: no run at all
    staged = tmp_path / "run0.fit"
    staged.write_bytes(_fit(0))
    shutil.move(staged, served.inbox / CLIENT / "run0.fit")
    dropped = time.monotonic()
    _wait(
        lambda: len(read_runs(served.warehouse)) == 1,
        timeout_s=INGEST_TIMEOUT_S,
        what="the activity in the warehouse",
        served=served,
    )
    print(f"dropped file in the warehouse after {time.monotonic() - dropped:.1f} s")
    assert _activities(served.warehouse) == [RUN_STARTS[0]]
    assert [r["ingested"] for r in read_runs(served.warehouse)] == [1]


@pytest.mark.slow
def test_a_slow_copy_is_ingested_once_complete_after_it_ends(served: Served) -> None:
    _wait(
        lambda: len(read_runs(served.warehouse)) == 1,
        timeout_s=INGEST_TIMEOUT_S,
        what="the previous test's run",
        served=served,
    )
    data = _fit(1)
    target = served.inbox / CLIENT / "run1.fit"
    pieces = 12
    step = len(data) // pieces + 1
    with target.open("wb") as out:  # a piece every half poll: each look sees it grow (6 polls)
        for start in range(0, len(data), step):
            out.write(data[start : start + step])
            out.flush()
            time.sleep(POLL_S / 2)
    copy_ended = dt.datetime.now(dt.UTC)
    _wait(
        lambda: len(read_runs(served.warehouse)) == 2,
        timeout_s=INGEST_TIMEOUT_S,
        what="the slowly copied activity",
        served=served,
    )
    runs = read_runs(served.warehouse)
    assert len(runs) == 2  # one run for the copied file, none while it was being copied
    last = runs[-1]
    assert (last["files_seen"], last["ingested"], last["deferred"], last["quarantined"]) == (
        1,
        1,
        0,
        0,
    )
    assert dt.datetime.fromisoformat(last["finished_utc"]) > copy_ended
    assert _activities(served.warehouse) == sorted(RUN_STARTS)
    files = TableStore(served.warehouse).read("files")
    assert hashlib.sha256(data).hexdigest() in files["sha256"].to_list()
    assert files.height == 2
    assert (served.inbox / "_processed" / CLIENT / "run1.fit").read_bytes() == data
    assert not (served.inbox / "_quarantine").exists()


@pytest.mark.slow
def test_runs_are_recorded_history_pruned_and_ctrl_c_stops_everything(served: Served) -> None:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterKey,
        LogFilter,
        LogFilterFlowRunId,
    )

    from pipelines.serve import _healthy, prune_flow_runs

    _wait(
        lambda: len(read_runs(served.warehouse)) == 2,
        timeout_s=INGEST_TIMEOUT_S,
        what="the previous tests' runs",
        served=served,
    )
    _wait(
        lambda: "run watch-" in served.text() and served.text().count(" completed") >= 2,
        timeout_s=30,
        what="the watch to see its runs end",
        served=served,
    )
    with SyncPrefectClient(served.api_url) as client:
        runs = client.read_flow_runs()
        watch = sorted(
            (r.name, r.state_type.value)
            for r in runs
            if r.name.startswith("watch-") and r.state_type
        )
        assert [state for _, state in watch] == ["COMPLETED", "COMPLETED"]
        # quick runs, run inside the serving process, are still the folder-watch deployment's
        folder_watch = client.read_deployment_by_name("mindmiles-ingest/folder-watch")
        watch_runs = [r for r in runs if r.name.startswith("watch-")]
        assert {r.deployment_id for r in watch_runs} == {folder_watch.id}
        # each run's log says what it did, in plain words, and names no client
        # (run logs reach the API in batches, a moment after the run's end)
        deadline = time.monotonic() + 20
        while True:
            logs = client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[r.id for r in watch_runs]))
            )
            messages = [entry.message for entry in logs]
            taken = sum("1 file(s) looked at: 1 taken in" in m for m in messages)
            if taken >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert sum("1 file(s) looked at: 1 taken in" in m for m in messages) == 2, messages
        assert not any(CLIENT in m for m in messages)
        scheduled = [r.id for r in runs if r.state_type and r.state_type.value == "SCHEDULED"]
        assert len(runs) == len(watch) + len(scheduled)  # the rest are upcoming nightly runs
        assert scheduled  # the cron deployment has its next runs scheduled
        summaries = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ingest-summary"]))
        )
        assert len(summaries) == 2
        assert all("| ingested | 1 |" in str(a.data) for a in summaries)
        now = dt.datetime.now(dt.UTC)
        assert prune_flow_runs(client, ended_before=now - dt.timedelta(days=1)) == 0
        assert prune_flow_runs(client, ended_before=now + dt.timedelta(minutes=1)) == 2
        assert sorted(r.id for r in client.read_flow_runs()) == sorted(scheduled)  # kept
    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(timeout=90) == 0, served.text()[-3000:]
    assert not _healthy(served.api_url)  # the embedded server went with it
    log = served.text()
    assert "stopped" in log
    # what serve printed at start: the UI, both deployments with the schedule, where logs go
    assert f"Prefect UI     {served.api_url.removesuffix('/api')}" in log
    assert "mindmiles-ingest/nightly       cron '0 2 * * *' in UTC: next " in log
    assert "mindmiles-ingest/folder-watch  when a new file in" in log
    assert f"logs           this terminal (stderr); also {served.warehouse}" in log
    assert CLIENT not in log  # client codes never reach logs
    print(f"Prefect server start: {served.server_start_s:.1f} s")
    assert json.dumps(read_runs(served.warehouse)).count(CLIENT) == 0
