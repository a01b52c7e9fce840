"""The record of runs: ``<warehouse>/.state/runs.jsonl`` (not an analyst table).

Kept apart from the tables so that a run with nothing new leaves every table byte-identical.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from warehouse.files import remove_stale_temps, write_private

__all__ = ["append_run", "read_pending", "read_runs", "write_pending"]


def _path(warehouse: Path) -> Path:
    return warehouse / ".state" / "runs.jsonl"


def append_run(warehouse: Path, record: dict[str, Any]) -> None:
    """Append one run's summary."""
    path = _path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")


def read_runs(warehouse: Path) -> list[dict[str, Any]]:
    """All recorded runs, oldest first (unreadable lines are skipped)."""
    path = _path(warehouse)
    if not path.exists():
        return []
    runs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return runs


def _pending_path(warehouse: Path) -> Path:
    return warehouse / ".state" / "pending_derive.json"


def read_pending(warehouse: Path) -> set[str]:
    """Clients whose derived tables a previous run promised but may not have rebuilt."""
    path = _pending_path(warehouse)
    if not path.exists():
        return set()
    try:
        return set(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError):
        return set()


def write_pending(warehouse: Path, clients: set[str]) -> None:
    """Record (atomically) the clients whose derived tables must be rebuilt; empty clears it."""
    path = _pending_path(warehouse)
    remove_stale_temps(path)  # left by a writer killed mid-write (callers hold the lock)
    if not clients:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(path, json.dumps(sorted(clients)))
