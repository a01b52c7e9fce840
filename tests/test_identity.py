"""Identity per client: the same watch file in two clients' folders is two clients' activities."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest

from pipelines.cli import main
from tests.clinic_factory import CLIENT, make_small_clinic
from warehouse.secret import pseudonymize
from warehouse.store import TableStore

SECRET = "identity-test-secret-0123456789"
OTHER = "K456"


def run(inbox: Path, warehouse: Path) -> None:
    out = io.StringIO()
    argv = ["ingest", "--inbox", str(inbox), "--warehouse", str(warehouse)]
    assert main([*argv, "--settle-seconds", "0", "--engine", "local"], out=out) == 0


def test_same_bytes_for_two_clients_are_two_activities(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDMILES_SECRET", SECRET)
    monkeypatch.setenv("MINDMILES_KEY_FILE", str(tmp_path / "key"))
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    make_small_clinic(inbox)  # K123: run0.fit and run1.fit
    roster = (inbox / "roster.csv").read_text()
    (inbox / "roster.csv").write_text(roster + roster.splitlines()[1].replace(CLIENT, OTHER) + "\n")
    (inbox / OTHER).mkdir()
    (inbox / OTHER / "copy.fit").write_bytes((inbox / CLIENT / "run0.fit").read_bytes())
    run(inbox, warehouse)
    run(inbox, warehouse)  # and a second run is quiet (no duplicate-id failure)
    store = TableStore(warehouse)
    first, second = pseudonymize(CLIENT, SECRET.encode()), pseudonymize(OTHER, SECRET.encode())
    activities = store.read("activities")
    # K123's two runs plus K456's copy of the first: three activities, three ids
    assert activities.group_by("client_id").len().sort("client_id").rows() == sorted(
        [(first, 2), (second, 1)]
    )
    assert activities["activity_id"].n_unique() == 3
    samples = store.read("samples")
    owners = samples.group_by("activity_id").agg(pl.col("client_id").unique())
    # every activity's samples belong to that activity's client only
    joined = owners.join(activities.select("activity_id", "client_id"), on="activity_id")
    assert all(got == [want] for got, want in joined.select("client_id", "client_id_right").rows())
    copied = activities.filter(pl.col("client_id") == second)
    assert samples.filter(pl.col("activity_id") == copied["activity_id"][0]).height > 0
