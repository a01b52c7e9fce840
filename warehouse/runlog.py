"""The record of runs: ``<warehouse>/.state/runs.jsonl`` (not an analyst table).

Kept apart from the tables so that a run with nothing new leaves every table untouched. Written
only by the warehouse's one writer (under its lock), so a read-append-write is safe on object
storage too, where nothing can be appended in place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from warehouse.location import Where, is_remote
from warehouse.state import (
    delete_state,
    read_json_state,
    read_state,
    read_state_set,
    state_location,
    write_state,
)

__all__ = [
    "RECEIPT_KIND",
    "append_run",
    "read_derived_with",
    "read_failures",
    "read_pending",
    "read_receipts",
    "read_runs",
    "write_derived_with",
    "write_failures",
    "write_pending",
]

RUNS = "runs.jsonl"
PENDING = "pending_derive.json"
RECEIPT_KIND = "erasure"
"""``kind`` of an erasure receipt in the run log (runs have no ``kind``)."""
FAILURES = "run_failures.json"
DERIVED_WITH = "derived_with.json"


def append_run(warehouse: Where, record: dict[str, Any]) -> None:
    """Append one run's summary."""
    line = json.dumps(record, sort_keys=True) + "\n"
    if is_remote(warehouse):
        write_state(warehouse, RUNS, (read_state(warehouse, RUNS) or "") + line)
        return
    path = Path(state_location(warehouse, RUNS))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(line)


def _records(warehouse: Where) -> list[dict[str, Any]]:
    records = []
    for line in (read_state(warehouse, RUNS) or "").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_runs(warehouse: Where) -> list[dict[str, Any]]:
    """All recorded runs, oldest first (unreadable lines and erasure receipts are skipped)."""
    return [r for r in _records(warehouse) if "kind" not in r]


def read_receipts(warehouse: Where) -> list[dict[str, Any]]:
    """The erasure receipts (``kind: erasure``) of the run log, oldest first."""
    return [r for r in _records(warehouse) if r.get("kind") == RECEIPT_KIND]


def read_pending(warehouse: Where) -> set[str]:
    """Clients whose derived tables a previous run promised but may not have rebuilt."""
    return read_state_set(warehouse, PENDING)


def write_pending(warehouse: Where, clients: set[str]) -> None:
    """Record (atomically) the clients whose derived tables must be rebuilt; empty clears it."""
    if not clients:
        delete_state(warehouse, PENDING)
        return
    write_state(warehouse, PENDING, json.dumps(sorted(clients)))


def read_derived_with(warehouse: Where) -> str | None:
    """The thresholds (their JSON) every client's derived tables were last built with, if known."""
    return read_state(warehouse, DERIVED_WITH)


def write_derived_with(warehouse: Where, thresholds_json: str) -> None:
    """Record the thresholds every client's derived tables were just built with."""
    write_state(warehouse, DERIVED_WITH, thresholds_json)


def read_failures(warehouse: Where) -> dict[str, int]:
    """How many failed runs each file (``client_id:sha256``) was being processed in."""
    data = read_json_state(warehouse, FAILURES)
    if not isinstance(data, dict):
        return {}
    return {str(k): int(v) for k, v in data.items() if isinstance(v, int)}


def write_failures(warehouse: Where, failures: dict[str, int]) -> None:
    """Record (atomically) the failed-run count per file; empty clears it."""
    if not failures:
        delete_state(warehouse, FAILURES)
        return
    write_state(warehouse, FAILURES, json.dumps(failures, sort_keys=True))
