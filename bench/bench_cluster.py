"""Cluster benchmark: the Dask engine against the local engine, in one command, on one machine.

Starts a temporary Prefect server, a Dask scheduler and ``--workers`` single-thread workers (all
on 127.0.0.1), then ingests the same inbox three ways, each into a fresh warehouse:

* **local**: ``run_ingest`` with an :class:`~pipelines.isolation.IsolatedParser` (two worker
  processes): the baseline;
* **dask**: the Prefect flow with ``dask_address`` (parse batches and per-client derivation as
  tasks on the workers);
* **dask, S3** (``--s3``): the same into a warehouse on a loopback moto S3 server, inbox on it too.

Inboxes: ``--files`` synthetic one-hour runs, and every real device file of ``../shared/corpus``
(``files/`` and ``added/``) when present. It also measures the per-task orchestration cost (an
empty task mapped ``--probe`` times on the cluster), from which a backfill on N machines is
projected. On this 2-core machine the cluster cannot beat the local engine: the figure to watch
is its overhead.

Usage::

    .venv/bin/python bench/bench_cluster.py [--files 2000] [--workers 2] [--probe 100] [--s3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_backfill import write_inbox

from tests.loopback import dask_cluster, moto_server

SECRET = "bench-cluster-secret-16+"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def corpus_inbox(inbox: Path) -> int:
    """Every real device file of the corpus in one client folder; return how many."""
    inbox.mkdir(parents=True)
    (inbox / "roster.csv").write_text(
        "client_code,sex,birth_year,hr_rest,hr_max,timezone,lthr\nR001,f,1985,55,185,UTC,\n"
    )
    folder = inbox / "R001"
    folder.mkdir()
    count = 0
    for sub in ("files", "added"):
        for path in sorted((CORPUS / sub).glob("*")) if (CORPUS / sub).is_dir() else []:
            if path.is_file():
                shutil.copy(path, folder / f"{sub}-{path.name}")
                count += 1
    return count


def run_local(inbox: Path, warehouse: Path) -> tuple[float, dict[str, Any]]:
    """The baseline: the local engine (isolated worker processes, no Prefect)."""
    from dataclasses import asdict

    from pipelines.isolation import IsolatedParser
    from pipelines.run import run_ingest
    from pipelines.settings import Settings

    settings = Settings(inbox=inbox, warehouse=warehouse, secret=SECRET, settle_seconds=0.0,
                        key_file=warehouse.parent / "key")  # fmt: skip
    started = time.perf_counter()
    with IsolatedParser() as parser:  # as `mindmiles ingest --engine local` runs
        summary = run_ingest(settings, parse_batches=parser, parse_ahead=True)
    return time.perf_counter() - started, asdict(summary)


def run_dask(inbox: str, warehouse: str, address: str) -> tuple[float, dict[str, Any]]:
    """The Prefect flow with its tasks on the cluster."""
    from pipelines.flows import ingest_flow

    started = time.perf_counter()
    summary = ingest_flow(inbox, warehouse, 0.0, None, dask_address=address)
    return time.perf_counter() - started, summary


def probe_orchestration(address: str, tasks: int) -> float:
    """Seconds of orchestration per task: an empty Prefect task mapped on the cluster."""
    from prefect import flow, task
    from prefect.futures import wait
    from prefect_dask.task_runners import DaskTaskRunner

    @task(persist_result=False)
    def nothing(i: int) -> int:
        return i

    @flow(task_runner=DaskTaskRunner(address=address))  # type: ignore[arg-type]
    def probe() -> float:
        started = time.perf_counter()
        futures = nothing.map(list(range(tasks)))
        wait(futures)
        return time.perf_counter() - started

    return float(probe())


def _row(name: str, seconds: float, baseline: float, summary: dict[str, Any]) -> str:
    stages = summary.get("stage_s", {})
    order = ("discover_hash", "parse", "validate", "write", "derive", "publish")
    cells = " ".join(f"{stages.get(s, 0.0):8.2f}" for s in order)
    ratio = seconds / baseline
    return f"{name:<28} {seconds:8.1f} {ratio:7.2f}x {cells} {summary['activities']:>10}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--probe", type=int, default=100)
    parser.add_argument("--s3", action="store_true", help="also run inbox and warehouse on S3")
    args = parser.parse_args(argv)

    os.environ["MINDMILES_SECRET"] = SECRET
    root = Path(tempfile.mkdtemp(prefix="mindmiles-bench-cluster-"))
    os.environ.setdefault("PREFECT_HOME", str(root / "prefect-home"))
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    inboxes = {"synthetic": root / "synthetic"}
    started = time.perf_counter()
    write_inbox(inboxes["synthetic"], files=args.files, clients=args.clients)
    print(f"generated {args.files} one-hour FIT files in {time.perf_counter() - started:.1f} s")
    if (CORPUS / "files").is_dir():
        print(f"real corpus files: {corpus_inbox(root / 'corpus')}")
        inboxes["corpus"] = root / "corpus"

    header = f"{'run':<28} {'total s':>8} {'vs local':>8} {'discover':>8} {'parse':>8} "
    header += f"{'validate':>8} {'write':>8} {'derive':>8} {'publish':>8} {'activities':>10}"
    with prefect_test_harness(server_startup_timeout=180):
        env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()),
               "DASK_DISTRIBUTED__WORKER__DAEMON": "False", "POLARS_MAX_THREADS": "1"}  # fmt: skip
        os.environ["PREFECT_API_URL"] = env["PREFECT_API_URL"]
        with moto_server(root / "moto.log") if args.s3 else nullcontext() as aws:
            env.update(aws or {})
            os.environ.update(aws or {})
            with dask_cluster(args.workers, env, root) as cluster:
                address = cluster.address
                per_task = probe_orchestration(address, args.probe) * args.workers / args.probe
                print(f"\norchestration: {per_task * 1000:.0f} ms per task on the cluster "
                      f"({args.probe} empty tasks over {args.workers} workers)\n")  # fmt: skip
                print(header)
                for label, inbox in inboxes.items():
                    copies = {k: root / f"{label}-{k}" for k in ("local", "dask")}
                    for copy in copies.values():
                        shutil.copytree(inbox, copy / "inbox")
                    base, summary = run_local(copies["local"] / "inbox", copies["local"] / "wh")
                    print(_row(f"{label}: local", base, base, summary))
                    seconds, summary = run_dask(
                        str(copies["dask"] / "inbox"), str(copies["dask"] / "wh"), address
                    )
                    print(_row(f"{label}: dask x{args.workers}", seconds, base, summary))
                    if args.s3:
                        seconds, summary = run_s3(inbox, address, label)
                        print(_row(f"{label}: dask x{args.workers}, S3", seconds, base, summary))
    shutil.rmtree(root, ignore_errors=True)
    return 0


def run_s3(inbox: Path, address: str, label: str) -> tuple[float, dict[str, Any]]:
    """Upload the inbox to a new bucket and run the dask engine with both ends on S3."""
    import boto3

    bucket = f"bench-{label}-{int(time.time())}"
    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    client.create_bucket(Bucket=bucket)
    for path in sorted(p for p in inbox.rglob("*") if p.is_file()):
        key = f"inbox/{path.relative_to(inbox).as_posix()}"
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    return run_dask(f"s3://{bucket}/inbox", f"s3://{bucket}/warehouse", address)


if __name__ == "__main__":
    raise SystemExit(main())
