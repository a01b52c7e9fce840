"""Inbox and warehouse on S3 (a moto server on loopback): killed runs, two runs at once, the lease.

Expected tables come from the same clinic ingested into local folders by the local engine.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipelines.cli import main
from schemas.errors import LockTimeout
from tests.clinic_factory import make_small_clinic
from tests.conftest import S3Server, warehouse_state
from warehouse import lock as lock_module
from warehouse.lock import warehouse_lock
from warehouse.object_inbox import staged_inbox
from warehouse.objects import read_object, write_object

SECRET = "object-storage-test-secret"
MINDMILES = str(Path(sys.executable).with_name("mindmiles"))


def _env(s3_server: S3Server, tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, **s3_server.env, "MINDMILES_SECRET": SECRET}
    env["MINDMILES_KEY_FILE"] = str(tmp_path / "key")
    env.pop("PREFECT_API_URL", None)
    return env


def _ingest_argv(inbox: str | Path, warehouse: str | Path) -> list[str]:
    return [MINDMILES, "ingest", "--inbox", str(inbox), "--warehouse", str(warehouse),
            "--settle-seconds", "0", "--engine", "local", "--json"]  # fmt: skip


@pytest.fixture(scope="module")
def small_reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """The small clinic, and the tables the local engine builds from it in local folders."""
    root = tmp_path_factory.mktemp("small")
    make_small_clinic(root / "template")
    shutil.copytree(root / "template", root / "inbox")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINDMILES_SECRET", SECRET)
        patch.setenv("MINDMILES_KEY_FILE", str(root / "key"))
        assert main(_ingest_argv(root / "inbox", root / "warehouse")[1:], out=io.StringIO()) == 0
    return root / "template", warehouse_state(root / "warehouse")


def _waiting(s3_server: S3Server, inbox: str) -> list[str]:
    return [k for k in s3_server.keys(inbox) if not k.startswith("_") and "/" in k]


def test_a_run_killed_mid_commit_is_finished_by_the_next(
    s3_server: S3Server, small_reference: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    template, expected = small_reference
    bucket = s3_server.new_bucket()
    inbox, warehouse = f"{bucket}/inbox", f"{bucket}/warehouse"
    s3_server.upload(template, inbox)
    env = _env(s3_server, tmp_path)
    run = subprocess.Popen(_ingest_argv(inbox, warehouse), env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    # Kill it as soon as the samples table has its first commit: activities and samples are in,
    # the ledger and the inbox moves are not.
    deadline = time.monotonic() + 120
    while not any(k.startswith("samples/_delta_log/") for k in s3_server.keys(warehouse)):
        assert run.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "the run never committed samples"
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert len(_waiting(s3_server, inbox)) == 4, "a file left the inbox before its data was in"
    lease = read_object(f"{warehouse}/.state/writer.lease")
    assert lease is not None, "the killed run's lease is still there"
    # The next run takes over the lease of the dead process at once and converges.
    started = time.monotonic()
    done = subprocess.run(_ingest_argv(inbox, warehouse), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 60
    assert warehouse_state(warehouse) == expected
    assert _waiting(s3_server, inbox) == []
    assert read_object(f"{warehouse}/.state/writer.lease") is None


def test_two_runs_started_at_once_leave_one_copy(
    s3_server: S3Server, small_reference: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    template, expected = small_reference
    bucket = s3_server.new_bucket()
    inbox, warehouse = f"{bucket}/inbox", f"{bucket}/warehouse"
    s3_server.upload(template, inbox)
    env = _env(s3_server, tmp_path)
    runs = [
        subprocess.Popen(
            _ingest_argv(inbox, warehouse),
            env=env,
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
    assert warehouse_state(warehouse) == expected
    assert _waiting(s3_server, inbox) == []
    processed = [k for k in s3_server.keys(inbox) if k.startswith("_processed/")]
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
