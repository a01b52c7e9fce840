"""A rebuild reuses stored sample-derived values (pipelines.derive, transform.sample_inputs).

The bar: whatever a run reuses, the derived tables are the ones a rebuild from nothing builds,
row for row and bit for bit. Each test builds a warehouse with real runs (synthetic FIT files
through ``run_ingest``), changes something, and compares every derived table with the tables
that :func:`derive_for_clients` builds on a copy of the warehouse whose derived tables were
emptied first (nothing stored, nothing reused: the behaviour before reuse existed). A spy on
``hr_load`` checks which activities were computed, so that a test cannot pass by recomputing
everything.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import pipelines.derive
from pipelines.derive import DERIVED_TABLES, derive_for_clients
from pipelines.run import run_ingest
from pipelines.settings import Settings
from synthetic.run_model import SimulatedRun, simulate_run, write_run_fit, write_run_gpx
from tests.test_duplicate_channels import expected_hr, fit_swim, tcx_swim
from transform.config import Thresholds
from warehouse.erase import erase_rows
from warehouse.secret import pseudonymize
from warehouse.store import TableStore

SECRET = "derive-reuse-secret"
START = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
ROSTER = "client_code,sex,birth_year,hr_rest,hr_max,timezone,lthr\n{rows}"
CLIENTS = {"RA01": "f,1990,55,190,Europe/London,170", "RB02": "m,1984,60,185,Europe/London,"}
JOURNAL = (
    "timestamp,kind,mood,anxiety,stress,energy,sleep_hours,sleep_quality,rpe,notes\n"
    "2026-03-02T07:50:00+00:00,post_run,6,3,4,6,,,4,\n"
    "2026-03-14T20:00:00+00:00,daily,5,4,4,5,7,3,,\n"
)
"""RA01's journal: an RPE for the first run, and the clinic's last day with data (14 March), so
that no run added below moves the end of every client's daily_load."""


def simulated(client: int, day: int, minutes: int) -> SimulatedRun:
    """A 1 Hz easy run of ``minutes`` on March ``2 + day``."""
    return simulate_run(
        START + dt.timedelta(days=day, minutes=5 * client),
        duration_s=minutes * 60,
        intensity="easy",
        hr_rest=58,
        hr_max=188,
        home=(51.5, -0.12),
        seed=100 * client + day,
    )


def fit_of(run: SimulatedRun, client: int) -> bytes:
    return write_run_fit(run, serial_number=2_000_000 + client)


def fit_run(client: int, day: int, minutes: int) -> bytes:
    return fit_of(simulated(client, day, minutes), client)


def write_roster(settings: Settings, clients: dict[str, str]) -> None:
    rows = "".join(f"{code},{row}\n" for code, row in clients.items())
    (settings.inbox / "roster.csv").write_text(ROSTER.format(rows=rows))


def drop(settings: Settings, code: str, files: dict[str, bytes]) -> None:
    folder = settings.inbox / code
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    made = Settings(
        inbox=tmp_path / "inbox",
        warehouse=tmp_path / "warehouse",
        secret=SECRET,
        settle_seconds=0,
        key_file=tmp_path / "keys" / "secret.key",
    )
    made.inbox.mkdir(parents=True)
    write_roster(made, CLIENTS)
    return made


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ids of the activities whose heart-rate load was computed from samples (in order)."""
    seen: list[str] = []
    real = pipelines.derive.hr_load

    def spy(samples: pl.DataFrame, roster: pl.DataFrame, **kwargs: object) -> pl.DataFrame:
        seen.extend(samples["activity_id"].unique(maintain_order=True).to_list())
        return real(samples, roster, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipelines.derive, "hr_load", spy)
    return seen


def build(settings: Settings) -> None:
    """Two clients, three runs each (one long enough to be judged for decoupling)."""
    drop(settings, "RA01", {f"a{d}.fit": fit_run(1, d, m) for d, m in ((0, 50), (2, 20), (4, 25))})
    drop(settings, "RA01", {"journal.csv": JOURNAL.encode()})
    drop(settings, "RB02", {f"b{d}.fit": fit_run(2, d, m) for d, m in ((1, 30), (3, 45), (9, 20))})
    run_ingest(settings)


def built(settings: Settings, computed: list[str]) -> tuple[TableStore, pl.DataFrame]:
    """Build; return the store and activity_metrics as built, with the spy emptied."""
    build(settings)
    store = TableStore(settings.warehouse)
    computed.clear()
    return store, store.read("activity_metrics")


def derived(store: TableStore) -> dict[str, pl.DataFrame]:
    return {name: store.read(name) for name in DERIVED_TABLES}


def from_scratch(
    settings: Settings, tmp_path: Path, thresholds: Thresholds
) -> dict[str, pl.DataFrame]:
    """The derived tables rebuilt for every client from a copy with no derived row stored."""
    copy = tmp_path / "scratch"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(settings.warehouse, copy)
    store = TableStore(copy)
    for name in DERIVED_TABLES:
        store.reset(name)
    clients = set(store.read("activities")["client_id"]) | set(store.read("journal")["client_id"])
    derive_for_clients(store, clients, thresholds=thresholds)
    return derived(store)


def assert_same_as_from_scratch(
    settings: Settings, tmp_path: Path, thresholds: Thresholds | None = None
) -> dict[str, pl.DataFrame]:
    held = derived(TableStore(settings.warehouse))
    expected = from_scratch(settings, tmp_path, thresholds or settings.thresholds)
    for name in DERIVED_TABLES:
        assert held[name].height > 0, name
        try:
            assert_frame_equal(held[name], expected[name], check_exact=True)
        except AssertionError as error:
            raise AssertionError(f"{name} differs from a rebuild from scratch: {error}") from error
    return held


def activity_ids(store: TableStore, code: str | None = None) -> list[str]:
    activities = store.read("activities").sort("start_utc")
    if code is not None:
        activities = activities.filter(pl.col("client_id") == client_of(code))
    return activities["activity_id"].to_list()


def client_of(code: str) -> str:
    return pseudonymize(code, SECRET.encode())


def test_build_then_new_files_compute_only_the_new_runs(
    settings: Settings, tmp_path: Path, computed: list[str]
) -> None:
    build(settings)
    store = TableStore(settings.warehouse)
    first = activity_ids(store)
    assert sorted(computed) == sorted(first)  # the first build computes all six
    metrics = store.read("activity_metrics")
    assert metrics["steady_run"].any()  # a decoupling value is among those reused below
    assert metrics["inputs_sha256"].str.len_chars().to_list() == [64] * 6
    computed.clear()
    drop(settings, "RA01", {"a6.fit": fit_run(1, 6, 30)})
    drop(settings, "RB02", {"b5.fit": fit_run(2, 5, 35)})
    run_ingest(settings)
    new = sorted(set(activity_ids(store)) - set(first))
    assert len(new) == 2
    assert sorted(computed) == new  # both clients rebuilt, four runs reused
    assert_same_as_from_scratch(settings, tmp_path)
    computed.clear()
    run_ingest(settings)  # nothing new: nothing rebuilt, nothing computed
    assert computed == []


def test_a_roster_change_recomputes_that_clients_runs_only(
    settings: Settings, tmp_path: Path, computed: list[str]
) -> None:
    store, before = built(settings, computed)
    write_roster(settings, {**CLIENTS, "RA01": "f,1990,55,196,Europe/London,170"})  # HRmax 196
    run_ingest(settings)  # a roster change rebuilds every client
    assert sorted(computed) == sorted(activity_ids(store, "RA01"))
    after = assert_same_as_from_scratch(settings, tmp_path)["activity_metrics"]
    mine = pl.col("client_id") == client_of("RA01")
    assert (
        after.filter(mine)["trimp_banister"] < before.filter(mine)["trimp_banister"]
    ).all()  # the same heart rates are a smaller share of a larger reserve
    assert_frame_equal(after.filter(~mine), before.filter(~mine), check_exact=True)


def test_a_load_threshold_change_recomputes_every_run(
    settings: Settings, tmp_path: Path, computed: list[str]
) -> None:
    store, before = built(settings, computed)
    thresholds = Thresholds.from_mapping({"load": {"decoupling_warmup_s": 300}})
    clients = set(store.read("activities")["client_id"])
    derive_for_clients(store, clients, thresholds=thresholds)
    assert sorted(computed) == sorted(activity_ids(store))
    after = assert_same_as_from_scratch(settings, tmp_path, thresholds)["activity_metrics"]
    changed = before.join(after, on="activity_id").filter(
        pl.col("decoupling_pct").ne_missing(pl.col("decoupling_pct_right"))
    )
    assert changed.height >= 1  # the steady run's halves start 5 minutes earlier
    computed.clear()
    derive_for_clients(store, clients, thresholds=thresholds)  # the same again: all reused
    assert computed == []
    assert_same_as_from_scratch(settings, tmp_path, thresholds)


def test_a_run_after_the_thresholds_change_derives_every_client_again(
    settings: Settings, tmp_path: Path, computed: list[str]
) -> None:
    """Nothing new in the inbox, but another config: every client's tables are built again with
    it (they used to keep the old values and config_json until a client's own data changed);
    the same config again rewrites nothing."""
    store, _ = built(settings, computed)
    versions = {name: store.version(name) for name in DERIVED_TABLES}
    run_ingest(settings)  # the same thresholds, nothing new
    assert {name: store.version(name) for name in DERIVED_TABLES} == versions
    changed = replace(
        settings, thresholds=Thresholds.from_mapping({"load": {"decoupling_warmup_s": 300}})
    )
    run_ingest(changed)
    assert sorted(computed) == sorted(activity_ids(store))  # the load config is an input of all
    assert_same_as_from_scratch(changed, tmp_path)
    versions = {name: store.version(name) for name in DERIVED_TABLES}
    computed.clear()
    run_ingest(changed)
    assert {name: store.version(name) for name in DERIVED_TABLES} == versions
    assert computed == []


def take_in_copies(
    settings: Settings, first: tuple[str, bytes], later: tuple[str, bytes], computed: list[str]
) -> set[str]:
    """Build, hold ``first`` for RB02, then take in ``later`` (the same workout from another
    source); return the activities held before ``later`` came."""
    build(settings)
    drop(settings, "RB02", dict([first]))
    run_ingest(settings)
    held = set(activity_ids(TableStore(settings.warehouse)))
    assert len(held) == 7
    computed.clear()
    drop(settings, "RB02", dict([later]))
    run_ingest(settings)
    return held


def test_a_held_run_that_takes_a_copys_heart_rate_is_computed_again(
    settings: Settings, tmp_path: Path, computed: list[str]
) -> None:
    # the held FIT swim has no heart rate; the TCX of it brings some, merged into the FIT's
    # samples under the same id
    held = take_in_copies(settings, ("swim.fit", fit_swim()), ("swim.tcx", tcx_swim()), computed)
    store = TableStore(settings.warehouse)
    assert set(activity_ids(store)) == held
    (swim,) = store.read("activity_metrics").filter(pl.col("sport") == "swimming").rows(named=True)
    assert swim["trimp_banister"] is not None
    assert computed == [swim["activity_id"]]
    assert_same_as_from_scratch(settings, tmp_path)


def test_a_held_tcx_with_heart_rate_then_the_fit_without_makes_one_swim_with_both(
    settings: Settings, tmp_path: Path, computed: list[str]
) -> None:
    """The other order: the TCX (sport Other, heart rate) is held, the FIT (swimming, none)
    comes later. The new FIT's heart-rate columns hold no value at all (typed Null before
    validation): the run used to fail building the merged row (Polars ComputeError)."""
    held = take_in_copies(settings, ("swim.tcx", tcx_swim()), ("swim.fit", fit_swim()), computed)
    store = TableStore(settings.warehouse)
    now = set(activity_ids(store))
    assert len(now) == len(held)  # one activity for the swim, not two
    (swim,) = store.read("activities").filter(pl.col("sport") == "swimming").rows(named=True)
    assert swim["has_hr"] is True
    want = expected_hr(tcx_swim())  # read back from the TCX with ElementTree
    assert swim["hr_max_bpm"] == max(want)
    samples = store.read("samples").filter(pl.col("activity_id") == swim["activity_id"])
    assert samples.sort("elapsed_s")["hr_bpm"].to_list() == want
    assert swim["activity_id"] in computed
    assert_same_as_from_scratch(settings, tmp_path)


def test_a_held_copy_replaced_by_a_richer_one_leaves_no_row(
    settings: Settings, tmp_path: Path, computed: list[str]
) -> None:
    # a route without heart rate (GPX) is held; the watch's FIT of the run replaces it
    run = simulated(2, 7, 30)
    gpx = ("run.gpx", write_run_gpx(run, with_hr=False))
    held = take_in_copies(settings, gpx, ("run.fit", fit_of(run, 2)), computed)
    store = TableStore(settings.warehouse)
    now = set(activity_ids(store))
    (fit_id,) = now - held
    (gpx_id,) = held - now
    assert computed == [fit_id]
    assert gpx_id not in store.read("activity_metrics")["activity_id"].to_list()
    assert_same_as_from_scratch(settings, tmp_path)


def test_a_poorer_copy_dropped_recomputes_only_the_restamped_run(
    settings: Settings, tmp_path: Path, computed: list[str]
) -> None:
    run = simulated(2, 7, 30)
    held = take_in_copies(
        settings, ("run.fit", fit_of(run, 2)), ("run.gpx", write_run_gpx(run)), computed
    )
    store = TableStore(settings.warehouse)
    assert set(activity_ids(store)) == held
    # the held FIT's row now names the copy it was kept over, so its values are computed again
    # (to the same values); the other six are reused
    restamped = store.read("activities").filter(pl.col("kept_reason").str.contains("gpx"))
    assert computed == restamped["activity_id"].to_list()
    assert restamped["start_utc"].to_list() == [run.start]
    assert_same_as_from_scratch(settings, tmp_path)


def test_a_client_erased_then_taken_in_again_is_computed_afresh(
    settings: Settings, tmp_path: Path, computed: list[str]
) -> None:
    build(settings)
    store = TableStore(settings.warehouse)
    gone = client_of("RB02")
    assert erase_rows(settings.warehouse, gone)
    assert store.read("activity_metrics").filter(pl.col("client_id") == gone).is_empty()
    processed = settings.inbox / "_processed" / "RB02"
    for path in sorted(processed.rglob("*.fit")):
        drop(settings, "RB02", {path.name: path.read_bytes()})
        path.unlink()
    computed.clear()
    run_ingest(settings)
    assert sorted(computed) == sorted(activity_ids(store, "RB02"))
    assert len(computed) == 3
    assert_same_as_from_scratch(settings, tmp_path)


def test_a_run_that_moves_the_clinics_last_day_extends_every_clients_days(
    settings: Settings, tmp_path: Path, computed: list[str]
) -> None:
    """Bug: a client without new data kept ``daily_load`` (and ``indicators``) ending on the
    clinic's old last day when another client's run moved it, so a client who stopped recording
    showed no days of silence until something rebuilt them. RB02 runs on 22 March, after the
    clinic's last day (14 March): RA01's days run to 22 March too, as a rebuild from scratch has
    them, and only the new run is computed from samples."""
    store, _ = built(settings, computed)
    before = set(activity_ids(store))
    drop(settings, "RB02", {"b20.fit": fit_run(2, 20, 30)})
    run_ingest(settings)
    new = set(activity_ids(store)) - before
    assert len(new) == 1
    assert computed == list(new)
    ends = store.read("daily_load").group_by("client_id").agg(pl.col("local_date").max())
    assert dict(ends.iter_rows()) == {
        client_of("RA01"): dt.date(2026, 3, 22),
        client_of("RB02"): dt.date(2026, 3, 22),
    }
    assert_same_as_from_scratch(settings, tmp_path)
    computed.clear()
    run_ingest(settings)  # nothing new: no client is behind, nothing computed
    assert computed == []
