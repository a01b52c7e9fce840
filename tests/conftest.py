"""Shared test helpers: the real-device corpus at ``../shared/corpus`` (see its README).

The corpus exists on developer machines and in CI but not on a fresh clone. Tests that need it are
marked ``corpus`` and skip with :data:`CORPUS_SKIP_REASON`; parametrized tests get a single skipping
parameter instead of an empty list, so an absent corpus shows up as a skip, never as zero tests.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Prefect keeps its state under PREFECT_HOME: never the user's, never the repository.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="mindmiles-test-prefect-home-"))

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CORPUS_FILES = CORPUS / "files"
CORPUS_REFERENCE = CORPUS / "reference"
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


def catalog_rows() -> list[dict[str, str]]:
    """Rows of ``catalog.csv`` (empty when the corpus is absent)."""
    if not corpus_present():
        return []
    with (CORPUS / "catalog.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def catalog_params(keep: Callable[[dict[str, str]], bool] = lambda row: True) -> list[Any]:
    """``pytest.param`` per catalog row that ``keep`` accepts, ids = file names.

    With the corpus absent, one parameter that skips with :data:`CORPUS_SKIP_REASON`.
    """
    if not corpus_present():
        return [
            pytest.param(
                None, id="corpus-absent", marks=pytest.mark.skip(reason=CORPUS_SKIP_REASON)
            )
        ]
    return [pytest.param(row, id=row["name"]) for row in catalog_rows() if keep(row)]


def corpus_bytes(name: str) -> bytes:
    """The bytes of ``files/<name>`` (skips when the corpus is absent)."""
    require_corpus()
    return (CORPUS_FILES / name).read_bytes()


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
