"""Inbox and warehouse on S3 (a moto server on loopback): killed runs, two runs at once, the lease.

Expected tables come from the same clinic ingested into local folders by the local engine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from schemas.errors import LockTimeout
from tests.conftest import DEMO_SECRET, S3Server, warehouse_state
from warehouse import lock as lock_module
from warehouse.lock import warehouse_lock
from warehouse.object_inbox import staged_inbox
from warehouse.objects import read_object, write_object

MINDMILES = str(Path(sys.executable).with_name("mindmiles"))


def _ingest_argv(inbox: str, warehouse: str) -> list[str]:
    return [MINDMILES, "ingest", "--inbox", inbox, "--warehouse", warehouse,
            "--settle-seconds", "0", "--engine", "local", "--json"]  # fmt: skip


@dataclass(frozen=True)
class OnS3:
    """The small clinic's inbox uploaded to a new bucket, a warehouse beside it, and what to expect."""

    inbox: str
    warehouse: str
    env: dict[str, str]
    """For ``mindmiles`` subprocesses: the S3 server and the clinic secret."""
    expected: dict[str, list[tuple[str, ...]]]
    """The tables the local engine builds from the same clinic in local folders."""

    def waiting(self, s3_server: S3Server) -> list[str]:
        """Objects still in the client folders."""
        return [k for k in s3_server.keys(self.inbox) if not k.startswith("_") and "/" in k]


@pytest.fixture
def on_s3(s3_server: S3Server, small_clinic: tuple[Path, Path], tmp_path: Path) -> OnS3:
    template, local_warehouse = small_clinic
    bucket = s3_server.new_bucket()
    s3_server.upload(template, f"{bucket}/inbox")
    env = {**os.environ, **s3_server.env, "MINDMILES_SECRET": DEMO_SECRET}
    env["MINDMILES_KEY_FILE"] = str(tmp_path / "key")
    env.pop("PREFECT_API_URL", None)
    return OnS3(f"{bucket}/inbox", f"{bucket}/warehouse", env, warehouse_state(local_warehouse))


def test_a_run_killed_mid_commit_is_finished_by_the_next(on_s3: OnS3, s3_server: S3Server) -> None:
    run = subprocess.Popen(_ingest_argv(on_s3.inbox, on_s3.warehouse), env=on_s3.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    # Kill it as soon as the samples table has its first commit: activities and samples are in,
    # the ledger and the inbox moves are not.
    deadline = time.monotonic() + 120
    while not any(k.startswith("samples/_delta_log/") for k in s3_server.keys(on_s3.warehouse)):
        assert run.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "the run never committed samples"
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert len(on_s3.waiting(s3_server)) == 4, "a file left the inbox before its data was in"
    lease = read_object(f"{on_s3.warehouse}/.state/writer.lease")
    assert lease is not None, "the killed run's lease is still there"
    # The next run takes over the lease of the dead process at once and converges.
    started = time.monotonic()
    done = subprocess.run(
        _ingest_argv(on_s3.inbox, on_s3.warehouse), env=on_s3.env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 60
    assert warehouse_state(on_s3.warehouse) == on_s3.expected
    assert on_s3.waiting(s3_server) == []
    assert read_object(f"{on_s3.warehouse}/.state/writer.lease") is None


def test_two_runs_started_at_once_leave_one_copy(on_s3: OnS3, s3_server: S3Server) -> None:
    runs = [
        subprocess.Popen(
            _ingest_argv(on_s3.inbox, on_s3.warehouse),
            env=on_s3.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    summaries = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        summaries.append(json.loads(out))
    assert sorted(s["ingested"] for s in summaries) == [0, 4]  # one took them in, one found none
    assert warehouse_state(on_s3.warehouse) == on_s3.expected
    assert on_s3.waiting(s3_server) == []
    processed = [k for k in s3_server.keys(on_s3.inbox) if k.startswith("_processed/")]
    assert len(processed) == 4


def test_the_lease_admits_one_writer_at_a_time(s3_server: S3Server) -> None:
    warehouse = f"{s3_server.new_bucket()}/warehouse"
    inside: list[int] = []
    overlaps: list[int] = []

    def hold(n: int) -> None:
        with warehouse_lock(warehouse, timeout_s=60, who=f"writer {n}"):
            inside.append(n)
            if len(inside) > 1:
                overlaps.append(n)
            time.sleep(0.3)
            inside.remove(n)

    threads = [threading.Thread(target=hold, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
    assert read_object(f"{warehouse}/.state/writer.lease") is None


def test_a_live_lease_makes_others_wait_and_an_expired_one_is_taken_over(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = f"{s3_server.new_bucket()}/warehouse"
    uri = f"{warehouse}/.state/writer.lease"
    other_host = {"holder": "a run elsewhere", "token": "t", "host": "elsewhere", "pid": 1}
    write_object(uri, json.dumps({**other_host, "expires": time.time() + 600}).encode())
    with (
        pytest.raises(LockTimeout, match="locked by another run"),
        warehouse_lock(warehouse, timeout_s=0.5),
    ):
        pass
    write_object(uri, json.dumps({**other_host, "expires": time.time() - 1}).encode())
    with warehouse_lock(warehouse, timeout_s=5, who="the next run"):
        held = json.loads(read_object(uri) or b"{}")
        assert "the next run" in held["holder"]
    # The holder renews its lease: a run longer than the lease keeps it.
    monkeypatch.setattr(lock_module, "LEASE_RENEW_S", 0.1)
    with warehouse_lock(warehouse, timeout_s=5):
        first = json.loads(read_object(uri) or b"{}")["expires"]
        time.sleep(0.5)
        assert json.loads(read_object(uri) or b"{}")["expires"] > first


def test_a_name_taken_by_other_bytes_gets_the_local_clash_name(s3_server: S3Server) -> None:
    inbox = f"{s3_server.new_bucket()}/inbox"
    write_object(f"{inbox}/_processed/C001/run.fit", b"older bytes")
    write_object(f"{inbox}/C001/run.fit", b"newer bytes")
    with staged_inbox(inbox) as local:
        target = local / "_processed" / "C001" / "run.fit"
        target.parent.mkdir(parents=True)
        (local / "C001" / "run.fit").replace(target)
        (local / "_processed" / "C001" / "run.fit.note.txt").write_text("a note")
    keys = s3_server.keys(inbox)
    renamed = [k for k in keys if k.startswith("_processed/C001/run.") and k.endswith(".fit")]
    assert "C001/run.fit" not in keys
    assert read_object(f"{inbox}/_processed/C001/run.fit") == b"older bytes"
    assert len(renamed) == 2
    (new,) = [k for k in renamed if k != "_processed/C001/run.fit"]
    assert read_object(f"{inbox}/{new}") == b"newer bytes"
    assert f"{new}.note.txt" in keys


def test_a_killed_runs_local_copy_of_the_inbox_is_removed(s3_server: S3Server) -> None:
    """The private copy is client data: a copy whose run is gone is deleted by the next run."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    import tempfile

    abandoned = Path(tempfile.gettempdir()) / f"mindmiles-inbox-{dead.stdout.strip()}-x1"
    (abandoned / "C001").mkdir(parents=True)
    (abandoned / "C001" / "run.fit").write_bytes(b"a client's run")
    inbox = f"{s3_server.new_bucket()}/inbox"
    with staged_inbox(inbox) as local:
        assert local.name.startswith(f"mindmiles-inbox-{os.getpid()}-")
    assert not abandoned.exists()
    assert not local.exists()
