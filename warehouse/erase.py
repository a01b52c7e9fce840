"""Erase one client from every table: rows, older versions, Delta log entries, partition folders.

Each table holding rows of the client loses them in one commit, then keeps nothing of its history
(:meth:`TableStore.purge_history`: old data files, log entries and checkpoints quote the removed
values). A marker in ``.state/`` names the client while this is under way, so that an erasure
killed between a delete and its purge is finished by running it again (the tables then hold no
row of the client, but their history still does); it is removed at the end. The marker, like
``pending_derive.json``, is the only place in the warehouse the client's pseudonym appears while
erasing; afterwards it appears nowhere.
"""

from __future__ import annotations

import json
import logging

from warehouse.location import Where
from warehouse.runlog import read_pending, write_pending
from warehouse.state import delete_state, read_state_set, write_state
from warehouse.store import TableStore
from warehouse.tables import TABLES

__all__ = ["ERASING", "erase_rows", "held_rows"]

log = logging.getLogger(__name__)

ERASING = "erasing.json"
"""``.state/`` marker of an erasure under way: the pseudonyms being erased."""


def held_rows(warehouse: Where, client_id: str) -> dict[str, int]:
    """Rows of ``client_id`` per table, for the tables that hold any."""
    store = TableStore(warehouse)
    counts = {name: store.count_client(name, client_id) for name in TABLES}
    return {name: n for name, n in counts.items() if n}


def erase_rows(warehouse: Where, client_id: str) -> dict[str, int] | None:
    """Remove every row of ``client_id`` from every table and from the tables' history.

    Call it while holding the warehouse's writer lock.

    Returns
    -------
    dict[str, int] or None
        Rows removed per table (tables that held none are left out); ``None`` when there was
        nothing to do: no row and no unfinished erasure of this client (nothing is written).
    """
    store = TableStore(warehouse)
    unfinished = client_id in read_state_set(warehouse, ERASING)
    held = held_rows(warehouse, client_id)
    if not held and not unfinished:
        return None
    write_state(
        warehouse, ERASING, json.dumps(sorted(read_state_set(warehouse, ERASING) | {client_id}))
    )
    removed = {name: store.delete_client(name, client_id) for name in held}
    # After an interrupted erasure any table may still hold the removed rows in its history.
    for name in TABLES if unfinished else held:
        store.purge_history(name)
    pending = read_pending(warehouse)
    if client_id in pending:
        write_pending(warehouse, pending - {client_id})
    left = read_state_set(warehouse, ERASING) - {client_id}
    if left:
        write_state(warehouse, ERASING, json.dumps(sorted(left)))
    else:
        delete_state(warehouse, ERASING)
    log.info("erased %d row(s) of one client from %d table(s)", sum(removed.values()), len(held))
    return removed
