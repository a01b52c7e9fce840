"""Issue 15, items 1 and 2: a failed run is recorded, moves nothing and cannot poison the schedule;
a journal appended to while a run reads it is deferred, never moved with rows missing.

Failures are provoked by replacing the journal merge with one that raises (a bug of the run), so
each failing run stops before anything is published; one tiny inbox, no watch files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

import pipelines.run as run_module
from pipelines.run import run_ingest
from pipelines.settings import Settings
from pipelines.status import render_status, warehouse_status
from warehouse.runlog import read_runs
from warehouse.store import TableStore

HEADER = "timestamp,kind,mood,anxiety,stress,energy,sleep_hours,sleep_quality,rpe,notes\n"
ROW_1 = "2026-03-03T06:50:00+00:00,pre_run,4,6,6,4,6.5,3,,\n"
ROW_2 = "2026-03-04T06:50:00+00:00,pre_run,5,5,5,5,7,3,,\n"


def _settings(tmp_path: Path) -> Settings:
    folder = tmp_path / "inbox" / "K1"
    folder.mkdir(parents=True)
    (tmp_path / "inbox" / "roster.csv").write_text(
        "client_code,sex,birth_year,hr_rest,hr_max,timezone\nK1,f,1990,55,190,Europe/London\n"
    )
    (folder / "journal.csv").write_text(HEADER + ROW_1)
    return Settings(
        inbox=tmp_path / "inbox",
        warehouse=tmp_path / "warehouse",
        secret="containment-test-secret",
        settle_seconds=0,
        key_file=tmp_path / "key",
    )


def test_a_file_that_makes_two_runs_fail_is_quarantined_on_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    journal = Path(settings.inbox) / "K1" / "journal.csv"

    def broken_merge(*args: Any, **kwargs: Any) -> set[str]:
        raise RuntimeError("merge exploded")

    with monkeypatch.context() as patch:
        patch.setattr(run_module, "merge_table_files", broken_merge)
        for attempt in (1, 2):
            with pytest.raises(RuntimeError, match="merge exploded"):
                run_ingest(settings)
            runs = read_runs(settings.warehouse)
            assert len(runs) == attempt
            assert runs[-1]["failed"] is True
            assert runs[-1]["error"] == "RuntimeError: merge exploded"
            assert journal.exists(), "nothing moved for a run that published nothing"
            assert not (Path(settings.inbox) / "_processed").exists()
    shown = render_status(warehouse_status(settings.warehouse))
    assert "Last run FAILED" in shown
    assert "RuntimeError: merge exploded" in shown

    summary = run_ingest(settings)  # the merge works again, but this file is set aside
    assert summary.reason_codes.get("run_failed") == 1
    moved = Path(settings.inbox) / "_quarantine" / "K1" / "journal.csv"
    assert moved.read_text() == HEADER + ROW_1
    note = moved.with_name("journal.csv.reason.txt").read_text()
    assert "Reason code: run_failed" in note
    assert "made 2 runs fail" in note
    assert "failed" not in read_runs(settings.warehouse)[-1]
    assert "Last run FAILED" not in render_status(warehouse_status(settings.warehouse))
    assert run_ingest(settings).files_seen == 0, "the next run succeeds with nothing left"


def test_a_journal_appended_to_during_the_run_is_deferred_then_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    journal = Path(settings.inbox) / "K1" / "journal.csv"
    real_read = run_module.read_table_file

    def read_then_append(data: bytes, **kwargs: Any) -> Any:
        result = real_read(data, **kwargs)
        with journal.open("a") as handle:  # the therapist's phone syncs a new entry now
            handle.write(ROW_2)
        return result

    with monkeypatch.context() as patch:
        patch.setattr(run_module, "read_table_file", read_then_append)
        first = run_ingest(settings)
    assert first.deferred == 1
    assert journal.read_text() == HEADER + ROW_1 + ROW_2, "left in place, nothing lost"
    assert not (Path(settings.inbox) / "_processed" / "K1" / "journal.csv").exists()

    second = run_ingest(settings)
    assert second.ingested == 1
    assert (Path(settings.inbox) / "_processed" / "K1" / "journal.csv").exists()
    assert TableStore(settings.warehouse).read("journal").height == 2


def test_a_derived_table_failing_its_checks_names_table_client_and_column_not_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.derive as derive_module
    from schemas.errors import TableInvalid

    settings = _settings(tmp_path)
    real = derive_module.daily_load

    def round_off(*args: Any, **kwargs: Any) -> Any:  # the -2e-15 of the issue, on one day
        frame = real(*args, **kwargs)
        return frame.with_columns(
            load=pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(-2e-15)).otherwise(pl.col("load"))
        )

    with monkeypatch.context() as patch:
        patch.setattr(derive_module, "daily_load", round_off)
        with pytest.raises(TableInvalid) as info:
            run_ingest(settings)
    message = str(info.value)
    client = TableStore(settings.warehouse).read("journal")["client_id"][0]
    assert "table daily_load" in message
    assert "column(s) load " in message
    assert client in message
    assert "file" not in message.replace("not of a file", "")
    assert read_runs(settings.warehouse)[-1]["failed"] is True
    assert (Path(settings.inbox) / "K1" / "journal.csv").exists(), "nothing moved"
    assert run_ingest(settings).ingested == 0, "the next run publishes (the file is known)"
    assert not (Path(settings.inbox) / "K1" / "journal.csv").exists()


def test_clinic_csvs_are_read_by_the_limited_runner_and_a_refusal_is_contained(
    tmp_path: Path,
) -> None:
    """CSVs go through ``parse_batches`` (the isolated workers with memory and time limits in the
    CLI); a CSV those workers refuse for time is quarantined and the run goes on. The refusal is
    made here with the isolation layer's own result (spawning a worker costs ~10 s), and the
    worker side is the same ``parse_job`` that ``tests/test_hostile.py`` drives through limits."""
    from pipelines.isolation import _refused

    settings = _settings(tmp_path)
    big = Path(settings.inbox) / "K1" / "big journal.csv"
    big.write_text(HEADER + ROW_2)
    handed: list[str] = []

    def limited(batches: Any, limits: Any) -> list[list[Any]]:
        out = []
        for batch in batches:
            results = []
            for job in batch:
                handed.append(Path(job.path).name)
                if Path(job.path).name == "big journal.csv":
                    results.append(_refused(job, "time", "killed after 0.5 s", limit="0.5 s"))
                else:
                    results.append(run_module.parse_job(job, limits))
            out.append(results)
        return out

    summary = run_ingest(settings, parse_batches=limited)
    assert sorted(handed) == ["big journal.csv", "journal.csv"]
    assert summary.reason_codes.get("resource_limit") == 1
    assert summary.ingested == 1, "the small journal beside it is taken in"
    note = (Path(settings.inbox) / "_quarantine" / "K1" / "big journal.csv.reason.txt").read_text()
    assert "Reason code: resource_limit" in note
    assert "took longer than the 0.5 s allowed" in note
    assert TableStore(settings.warehouse).read("journal").height == 1
    assert run_ingest(settings).files_seen == 0, "the next run succeeds"
