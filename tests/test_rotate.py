"""``mindmiles rotate-key``: every pseudonym rewritten, nothing lost, journals still merge."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.clinic_factory import CLIENT, JOURNAL, SENTINEL_NOTE, make_small_clinic
from warehouse.secret import FINGERPRINT_FILE, fingerprint, pseudonymize
from warehouse.store import TableStore
from warehouse.tables import TABLES

OLD, NEW = "old-secret-" + "a" * 40, "new-secret-" + "b" * 40


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


@pytest.fixture
def rotated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path, dict[str, int], str]:
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    make_small_clinic(inbox)
    key_file = tmp_path / "config" / "secret.key"
    key_file.parent.mkdir()
    key_file.write_text(OLD + "\n")
    key_file.chmod(0o600)
    monkeypatch.delenv("MINDMILES_SECRET", raising=False)
    monkeypatch.setenv("MINDMILES_KEY_FILE", str(key_file))
    common = ("--inbox", str(inbox), "--warehouse", str(warehouse))
    assert run("ingest", *common, "--settle-seconds", "0", "--engine", "local")[0] == 0
    store = TableStore(warehouse)
    before = {name: store.read(name).height for name in TABLES if store.version(name) is not None}
    new_file = tmp_path / "new.key"
    new_file.write_text(NEW)
    code, out = run("rotate-key", *common, "--new-secret-file", str(new_file))
    assert code == 0, out
    assert key_file.read_text().strip() == NEW
    return inbox, warehouse, before, out


def test_every_client_id_is_rewritten_and_no_row_lost(
    rotated: tuple[Path, Path, dict[str, int], str],
) -> None:
    _, warehouse, before, out = rotated
    assert "Rotated the pseudonyms of 1 client(s)" in out
    store = TableStore(warehouse)
    new_id, old_id = pseudonymize(CLIENT, NEW.encode()), pseudonymize(CLIENT, OLD.encode())
    for name, rows in before.items():
        frame = store.read(name)
        assert frame.height == rows, name
        if "client_id" in frame.columns:
            assert set(frame["client_id"].to_list()) <= {new_id}, name
    for path in warehouse.rglob("*"):
        if path.is_file():
            assert old_id.encode() not in path.read_bytes(), path
    assert (warehouse / "samples" / f"client_id={new_id}").is_dir()
    notes = store.read("journal_notes").join(store.read("journal"), on="entry_id")
    assert notes["note"].to_list() == [SENTINEL_NOTE]  # notes still belong to their entries
    # the warehouse now expects the new secret
    recorded = (warehouse / FINGERPRINT_FILE).read_text().strip()
    assert recorded == fingerprint(NEW.encode()) != fingerprint(OLD.encode())


def test_the_same_journal_dropped_again_after_rotation_adds_nothing(
    rotated: tuple[Path, Path, dict[str, int], str],
) -> None:
    inbox, warehouse, before, _ = rotated
    # A re-export with one more line: entry ids must agree with the rotated ones.
    extra = "2026-03-06T20:00:00+00:00,daily,6,3,3,6,7.5,4,,\n"
    (inbox / CLIENT / "journal-2.csv").write_text(JOURNAL + extra)
    code, out = run(
        "ingest",
        "--inbox",
        str(inbox),
        "--warehouse",
        str(warehouse),
        "--settle-seconds",
        "0",
        "--engine",
        "local",
        "--json",
    )
    assert code == 0
    assert json.loads(out)["ingested"] == 1
    assert TableStore(warehouse).read("journal").height == before["journal"] + 1


def test_a_client_without_a_code_stops_the_rotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    make_small_clinic(inbox)
    monkeypatch.setenv("MINDMILES_SECRET", OLD)
    common = ("--inbox", str(inbox), "--warehouse", str(warehouse))
    assert run("ingest", *common, "--settle-seconds", "0", "--engine", "local")[0] == 0
    # The inbox forgets the client: its code is nowhere, so its id cannot be rotated.
    shutil.rmtree(inbox / "_processed" / CLIENT)
    shutil.rmtree(inbox / CLIENT)
    (inbox / "roster.csv").write_text("client_code,sex,birth_year,hr_rest,hr_max,timezone\n")
    new_file = tmp_path / "new.key"
    new_file.write_text(NEW)
    code, _ = run("rotate-key", *common, "--new-secret-file", str(new_file))
    assert code == 1
    store = TableStore(warehouse)
    assert store.read("activities")["client_id"].unique().to_list() == [
        pseudonymize(CLIENT, OLD.encode())
    ]
