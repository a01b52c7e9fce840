"""Shared test helpers: the real-device corpus at ``../shared/corpus`` (see its README).

The corpus exists on developer machines and in CI but not on a fresh clone. Tests that need it are
marked ``corpus`` and skip with :data:`CORPUS_SKIP_REASON`; parametrized tests get a single skipping
parameter instead of an empty list, so an absent corpus shows up as a skip, never as zero tests.
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Prefect keeps its state under PREFECT_HOME: never the user's, never the repository.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="mindmiles-test-prefect-home-"))

# CI (``.ci/run`` sets HYPOTHESIS_PROFILE=ci) draws the same examples on every run: a landing is
# never refused by an example drawn that day. Elsewhere each run draws new ones (the default).
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CORPUS_FILES = CORPUS / "files"
CORPUS_REFERENCE = CORPUS / "reference"
ADDED = CORPUS / "added"
ADDED_FILES = ADDED / "files"
"""The 32 files added in 2026-12 (issue 16), with their own ``catalog.csv`` in the same columns."""
CORPUS_SKIP_REASON = (
    "needs ../shared/corpus (real device files; present on developer machines and CI, "
    "not on a fresh clone)"
)


def corpus_present() -> bool:
    """True when the corpus and its catalog are where the README says."""
    return (CORPUS / "catalog.csv").is_file() and CORPUS_FILES.is_dir()


def require_corpus() -> None:
    """Skip the calling test when the corpus is absent."""
    if not corpus_present():
        pytest.skip(CORPUS_SKIP_REASON)


def catalog_rows(*, added: bool = False) -> list[dict[str, str]]:
    """Rows of ``catalog.csv`` (``added/catalog.csv`` with ``added``); empty without the corpus."""
    if not corpus_present():
        return []
    with ((ADDED if added else CORPUS) / "catalog.csv").open(
        newline="", encoding="utf-8"
    ) as handle:
        return list(csv.DictReader(handle))


def catalog_params(
    keep: Callable[[dict[str, str]], bool] = lambda row: True, *, added: bool = False
) -> list[Any]:
    """``pytest.param`` per catalog row that ``keep`` accepts, ids = file names.

    With the corpus absent, one parameter that skips with :data:`CORPUS_SKIP_REASON`.
    """
    if not corpus_present():
        return [
            pytest.param(
                None, id="corpus-absent", marks=pytest.mark.skip(reason=CORPUS_SKIP_REASON)
            )
        ]
    return [pytest.param(row, id=row["name"]) for row in catalog_rows(added=added) if keep(row)]


def corpus_path(name: str) -> Path:
    """Where a corpus file is: ``files/<name>``, else ``added/files/<name>`` (names are unique)."""
    require_corpus()
    path = CORPUS_FILES / name
    return path if path.exists() else ADDED_FILES / name


def corpus_bytes(name: str) -> bytes:
    """The bytes of a corpus file, old or added (skips when the corpus is absent)."""
    return corpus_path(name).read_bytes()


@pytest.fixture(scope="session")
def parsed_corpus() -> Callable[[str], Any]:
    """``parse(name) -> FileResult`` of ``parse_file`` on a corpus file, parsed once per session."""
    from ingest.parse import parse_file

    cache: dict[str, Any] = {}

    def parse(name: str) -> Any:
        if name not in cache:
            cache[name] = parse_file(corpus_bytes(name), client_id="client-under-test")
        return cache[name]

    return parse


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[str]:
    """One temporary Prefect server for the whole session (15-50 s to start); yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield str(PREFECT_API_URL.value())


@dataclass(frozen=True)
class S3Server:
    """An S3 API (moto) on 127.0.0.1; ``AWS_*`` variables point every client at it."""

    endpoint: str
    env: dict[str, str]

    def new_bucket(self) -> str:
        """Create an empty bucket; return its ``s3://`` URI."""
        import boto3

        name = f"mindmiles-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=self.endpoint).create_bucket(Bucket=name)
        return f"s3://{name}"

    def upload(self, folder: Path, uri: str) -> None:
        """Put every file under ``folder`` at the same relative key under ``uri`` (boto3)."""
        import boto3

        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        client = boto3.client("s3", endpoint_url=self.endpoint)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = "/".join(filter(None, [prefix, path.relative_to(folder).as_posix()]))
            client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())

    def keys(self, uri: str) -> list[str]:
        """Every key under ``uri``, relative to it (boto3)."""
        import boto3

        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        prefix = f"{prefix}/" if prefix else ""
        pages = boto3.client("s3", endpoint_url=self.endpoint).get_paginator("list_objects_v2")
        return sorted(
            item["Key"][len(prefix) :]
            for page in pages.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        )


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """Start ``python -m moto.server`` on a free loopback port for the session, stop it after."""
    from tests.loopback import moto_server

    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as env:
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)  # deltalake, polars and obstore read them
        try:
            yield S3Server(env["AWS_ENDPOINT_URL"], env)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _reference(root: Path, make: Callable[[Path], object]) -> tuple[Path, Path]:
    """A clinic's inbox (``root/template``) and the warehouse the local engine builds from it."""
    from pipelines.cli import main

    make(root / "template")
    shutil.copytree(root / "template", root / "local-inbox")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINDMILES_SECRET", DEMO_SECRET)
        patch.setenv("MINDMILES_KEY_FILE", str(root / "key"))
        argv = ["ingest", "--inbox", str(root / "local-inbox"), "--warehouse"]
        argv += [str(root / "local-warehouse"), "--settle-seconds", "0", "--engine", "local"]
        assert main(argv, out=io.StringIO()) == 0
    return root / "template", root / "local-warehouse"


@pytest.fixture(scope="session")
def demo_clinic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo clinic's inbox (faults included), and the warehouse the local engine builds."""
    from synthetic.clinic import make_clinic

    return _reference(
        tmp_path_factory.mktemp("demo"), lambda inbox: make_clinic(inbox, seed=7, with_faults=True)
    )


@pytest.fixture(scope="session")
def small_clinic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The small clinic's inbox (four runs), and the warehouse the local engine builds."""
    from tests.clinic_factory import make_small_clinic

    return _reference(tmp_path_factory.mktemp("small"), make_small_clinic)


def meters_apart(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in metres (independent of the pipeline's own helper)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


def files_under(*roots: Path) -> list[Path]:
    """Every file under each of ``roots`` that exists (the sentinel searches read them all)."""
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


DEMO_SECRET = "demo-clinic-test-secret-16+"
VOLATILE = {"files": ("received_utc",)}
"""Columns holding the wall-clock time of a run: not part of the content compared."""


def warehouse_state(
    warehouse: Path | str, *, tables: Iterable[str] | None = None
) -> dict[str, list[tuple[str, ...]]]:
    """Each table's rows (every table's by default), sorted, as text (run-time columns left out)."""
    from warehouse.store import TableStore
    from warehouse.tables import TABLES

    store = TableStore(warehouse)
    return {
        name: sorted(
            tuple(str(v) for v in row)
            for row in store.read(name).drop(VOLATILE.get(name, ())).rows()
        )
        for name in (TABLES if tables is None else tables)
    }


def fitdecode_frames(data: bytes, name: str) -> Iterator[Any]:
    """Every ``name`` data message of ``data`` as fitdecode reads it, leniently (fields of a bad
    size as bytes, CRC unchecked): the independent decoder the FIT tests take expected values from.
    """
    import fitdecode

    with fitdecode.FitReader(
        data,
        error_handling=fitdecode.ErrorHandling.IGNORE,
        check_crc=fitdecode.CrcCheck.DISABLED,
    ) as reader:
        for frame in reader:
            if isinstance(frame, fitdecode.FitDataMessage) and frame.name == name:
                yield frame


def fitdecode_messages(data: bytes, name: str) -> list[dict[str, Any]]:
    """Field values of every ``name`` message as fitdecode reads them (:func:`fitdecode_frames`)."""
    return [{f.name: f.value for f in frame.fields} for frame in fitdecode_frames(data, name)]
