"""The warehouse's own small files under ``<warehouse>/.state/`` (not analyst tables).

On a local disk each is a private file written whole (:func:`warehouse.files.write_private`); on
object storage, an object (object stores never show half an object). The run record, the clients
awaiting a rebuild, the key's fingerprint and the writer's lease live here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from warehouse.files import remove_stale_temps, write_private
from warehouse.location import Where, is_remote, join
from warehouse.objects import delete_object, read_object, write_object

__all__ = [
    "STATE",
    "delete_state",
    "read_json_state",
    "read_state",
    "read_state_set",
    "state_location",
    "write_state",
]

STATE = ".state"


def state_location(warehouse: Where, name: str) -> Where:
    """Where the state file ``name`` lives: ``<warehouse>/.state/<name>``."""
    return join(warehouse, STATE, name)


def read_state(warehouse: Where, name: str) -> str | None:
    """The state file's text, or ``None`` when there is none."""
    where = state_location(warehouse, name)
    if is_remote(where):
        data = read_object(str(where))
        return None if data is None else data.decode("utf-8")
    try:
        return Path(where).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def read_json_state(warehouse: Where, name: str) -> Any:
    """The state file's JSON value, or ``None`` when there is none or it is not JSON (a torn write)."""
    text = read_state(warehouse, name)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def read_state_set(warehouse: Where, name: str) -> set[str]:
    """A state file holding a JSON list of names, as a set (empty when absent or unreadable)."""
    data = read_json_state(warehouse, name)
    return {str(item) for item in data} if isinstance(data, list) else set()


def write_state(warehouse: Where, name: str, text: str) -> None:
    """Write the state file whole, readable by its owner only."""
    where = state_location(warehouse, name)
    if is_remote(where):
        write_object(str(where), text.encode("utf-8"))
        return
    path = Path(where)
    remove_stale_temps(path)  # left by a writer killed mid-write (callers hold the lock)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(path, text)


def delete_state(warehouse: Where, name: str) -> None:
    """Remove the state file; nothing happens when there is none."""
    where = state_location(warehouse, name)
    if is_remote(where):
        delete_object(str(where))
    else:
        Path(where).unlink(missing_ok=True)
