"""The Dask engine on loopback: a scheduler and two workers, a Prefect server, an S3 server.

All started by these tests on 127.0.0.1 and stopped by them. The demo clinic's inbox on S3,
ingested through the cluster into a warehouse on S3, gives the same tables, row for row, as the
local engine on local folders; a worker SIGKILLed while it holds tasks costs a retry, nothing lost
or doubled.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import pipelines.flows as flows
import pipelines.run as run_module
from pipelines.cli import main
from tests.conftest import DEMO_SECRET, S3Server, warehouse_state
from tests.loopback import DaskCluster, dask_cluster

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(
    prefect_harness: str, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaskCluster]:
    """Scheduler and two single-thread workers; they report to the session's Prefect server."""
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_harness,
        **s3_server.env,
        "DASK_DISTRIBUTED__WORKER__DAEMON": "False",
        "POLARS_MAX_THREADS": "1",
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    env.pop("MINDMILES_SECRET", None)  # workers never need the clinic secret
    with dask_cluster(2, env, tmp_path_factory.mktemp("dask-logs")) as cluster:
        yield cluster


def _ingest(inbox: Path | str, warehouse: Path | str, *engine: str) -> str:
    out = io.StringIO()
    argv = ["ingest", "--inbox", str(inbox), "--warehouse", str(warehouse), "--settle-seconds", "0"]
    assert main([*argv, *engine], out=out) == 0, out.getvalue()
    return out.getvalue()


def test_the_cluster_builds_on_s3_the_tables_the_local_engine_builds(
    cluster: DaskCluster,
    demo_clinic: tuple[Path, Path],
    s3_server: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefect_harness: str,
) -> None:
    template, local_warehouse = demo_clinic
    bucket = s3_server.new_bucket()
    inbox, warehouse = f"{bucket}/inbox", f"{bucket}/warehouse"
    s3_server.upload(template, inbox)
    waiting = [k for k in s3_server.keys(inbox) if "/" in k]
    monkeypatch.setenv("MINDMILES_SECRET", DEMO_SECRET)
    monkeypatch.setenv("MINDMILES_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("PREFECT_API_URL", prefect_harness)
    # Batches of 64 files (the settings' own size), so that the demo's files come in waves: the
    # next wave is parsed on the cluster while the flow writes one.
    monkeypatch.setattr(flows, "CLUSTER_BATCH_FILES", 1)
    waves: list[int] = []
    real_waves = run_module._waves

    def counted_waves(batches: list[Any], size: int) -> list[Any]:
        made = real_waves(batches, size)
        waves.append(len(made))
        return made

    monkeypatch.setattr(run_module, "_waves", counted_waves)
    _ingest(inbox, warehouse, "--engine", "dask", "--dask-address", cluster.address)
    assert max(waves) >= 2, waves
    assert warehouse_state(warehouse) == warehouse_state(local_warehouse)
    assert _dask_ran_tasks(cluster, {"parse-batch", "derive-clients"})
    # Plain Polars through the Delta log, no project code: the same activities.
    activities = pl.read_delta(f"{warehouse}/activities")
    assert activities.height == pl.read_delta(str(local_warehouse / "activities")).height
    # Every waiting file was moved (copy, then delete) out of the client folders.
    after = s3_server.keys(inbox)
    left = [k for k in after if not k.startswith(("_", "roster.csv"))]
    assert left == ["C004/2026-03-07-0555.fit.part"]  # a copy still arriving: waits, as locally
    moved = {k.split("/", 2)[2] for k in after if k.startswith(("_processed/", "_quarantine/"))}
    assert {k.split("/", 1)[1] for k in waiting if k not in left} <= moved


def _dask_ran_tasks(cluster: DaskCluster, names: set[str]) -> bool:
    """Whether the workers' logs show Prefect task runs of each name (they log to stdout)."""
    text = "".join(p.read_text(errors="replace") for p in cluster.log_dir.glob("worker-*.log"))
    return all(name in text for name in names)


def test_a_worker_killed_mid_run_costs_a_retry_not_data(
    cluster: DaskCluster,
    small_clinic: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefect_harness: str,
) -> None:
    from distributed import Client

    template, local_warehouse = small_clinic
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    shutil.copytree(template, inbox)
    monkeypatch.setenv("MINDMILES_SECRET", DEMO_SECRET)
    monkeypatch.setenv("MINDMILES_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("PREFECT_API_URL", prefect_harness)
    killed: list[str] = []
    finished = threading.Event()

    def kill_a_busy_worker() -> None:
        with Client(cluster.address, timeout=30) as client:
            pids = client.run(os.getpid)
            while not finished.is_set():
                busy = [address for address, tasks in client.processing().items() if tasks]
                if busy:
                    time.sleep(0.3)  # well into its task
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    killed.append(busy[0])
                    return
                time.sleep(0.01)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    try:
        _ingest(inbox, warehouse, "--engine", "dask", "--dask-address", cluster.address)
    finally:
        finished.set()
        killer.join()
        cluster.start_worker()  # back to two for whatever runs next
    assert killed, "no worker was caught with a task in hand"
    assert warehouse_state(warehouse) == warehouse_state(local_warehouse)
