"""``warehouse.erase.erase_rows`` on a two-client roster table: history, a killed erasure."""

from __future__ import annotations

import json
from pathlib import Path

from clinic.roster import read_roster
from warehouse.erase import ERASING, erase_rows
from warehouse.state import read_state, write_state
from warehouse.store import TableStore

ROSTER = (
    b"client_code,sex,birth_year,hr_rest,hr_max,timezone\n"
    b"keepaaaaaaaaaaaaaaaaaaa1,f,1990,55,185,Europe/London\n"
    b"gonebbbbbbbbbbbbbbbbbbb2,m,1980,60,180,Europe/Berlin\n"
)
GONE = "gonebbbbbbbbbbbbbbbbbbb2"


def _bytes_under(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def _store(tmp_path: Path) -> TableStore:
    store = TableStore(tmp_path / "warehouse")
    store.replace("roster", read_roster(ROSTER, pseudonymize=lambda code: code).roster)
    return store


def test_erasure_purges_the_history_and_a_repeat_is_a_no_op(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert erase_rows(store.root, GONE) == {"roster": 1}
    assert store.read("roster")["client_id"].to_list() == ["keepaaaaaaaaaaaaaaaaaaa1"]
    assert GONE.encode() not in _bytes_under(tmp_path / "warehouse")
    version = store.version("roster")
    assert erase_rows(store.root, GONE) is None
    assert store.version("roster") == version


def test_an_erasure_killed_before_its_purge_is_finished_by_the_next(tmp_path: Path) -> None:
    store = _store(tmp_path)
    # As left by an erasure killed after its delete: marker written, rows gone, history kept
    write_state(store.root, ERASING, json.dumps([GONE]))
    store.delete_client("roster", GONE)
    assert GONE.encode() in _bytes_under(tmp_path / "warehouse" / "roster")  # old version, log
    assert erase_rows(store.root, GONE) == {}
    assert GONE.encode() not in _bytes_under(tmp_path / "warehouse")
    assert read_state(store.root, ERASING) is None
    assert erase_rows(store.root, GONE) is None
