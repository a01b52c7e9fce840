"""A clinic sets thresholds in one TOML file; the run and the report both use them."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import polars as pl
import pytest

from pipelines.cli import main
from pipelines.settings import Settings, read_thresholds
from report.model import ReportRules, band_words
from schemas.errors import ConfigError
from tests.clinic_factory import RUN_MINUTES, make_small_clinic
from transform.adherence import AdherenceBand
from transform.config import DEFAULT_THRESHOLDS, Thresholds

CUSTOM = """
[load]
acwr_spike = 1.3

[adherence]
min_session_s = 1500
bands = [
    {name = "green", low_pct = 75, high_pct = 125, low_inclusive = true, high_inclusive = true},
]

[run_journal]
post_window_s = 3600
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "thresholds.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_config_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    thresholds = read_thresholds(write(tmp_path, CUSTOM))
    assert thresholds.load.acwr_spike == 1.3
    assert thresholds.load.monotony_high == DEFAULT_THRESHOLDS.load.monotony_high
    assert thresholds.adherence.min_session_s == 1500.0
    assert thresholds.adherence.bands == (
        AdherenceBand(
            name="green", low_pct=75, high_pct=125, low_inclusive=True, high_inclusive=True
        ),
    )
    assert thresholds.run_journal.post_window == dt.timedelta(hours=1)
    assert thresholds.run_journal.pre_window == DEFAULT_THRESHOLDS.run_journal.pre_window


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[lod]\nacwr_spike = 1.3\n", "unknown threshold section"),
        ("[load]\nacwr_spik = 1.3\n", "has no setting 'acwr_spik'"),
        ("[load]\nacwr_spike = 'high'\n", "expected a number"),
        ("[run_journal]\npost_window = 3600\n", "has no setting 'post_window'"),
        ("[run_journal]\npost_window_s = -1\n", "must not be negative"),
        ("[load\n", "is not valid TOML"),
    ],
)
def test_a_bad_config_file_is_refused_in_one_line(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_thresholds(write(tmp_path, text))
    message = str(caught.value)
    assert words in message
    assert "\n" not in message


def test_settings_read_the_file_from_the_option_or_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, CUSTOM)
    by_option = Settings.from_options(inbox="i", warehouse="w", environ={}, config=path)
    by_env = Settings.from_options(
        inbox="i", warehouse="w", environ={"MINDMILES_CONFIG": str(path)}
    )
    assert by_option.thresholds == by_env.thresholds
    assert by_option.thresholds.load.acwr_spike == 1.3  # as written in CUSTOM
    assert by_option.config_file == path.absolute()
    assert Settings.from_options(inbox="i", warehouse="w", environ={}).thresholds == Thresholds()


def test_the_report_states_the_configured_thresholds() -> None:
    rules = ReportRules.from_thresholds(Thresholds.from_mapping({"load": {"acwr_spike": 1.3}}))
    assert rules.acwr_spike == 1.3
    # the published TrainingPeaks bands, worded from the default band table
    words = band_words(DEFAULT_THRESHOLDS.adherence)
    assert words["green"] == "on plan (80-120 % of planned minutes)"
    assert words["red"].startswith("off plan")


def run_ingest(inbox: Path, warehouse: Path, *extra: str) -> None:
    out = io.StringIO()
    argv = ["ingest", "--inbox", str(inbox), "--warehouse", str(warehouse)]
    code = main([*argv, "--settle-seconds", "0", "--engine", "local", *extra], out=out)
    assert code == 0, out.getvalue()


def test_the_run_derives_with_the_configured_thresholds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDMILES_SECRET", "test-secret-of-sixteen-bytes")
    monkeypatch.setenv("MINDMILES_KEY_FILE", str(tmp_path / "key"))
    results = {}
    for name, extra in (("default", ()), ("custom", ("--config", str(write(tmp_path, CUSTOM))))):
        inbox, warehouse = tmp_path / name / "inbox", tmp_path / name / "warehouse"
        make_small_clinic(inbox)
        run_ingest(inbox, warehouse, *extra)
        results[name] = pl.read_delta(str(warehouse / "weekly_adherence"))
    # the clinic's two runs last 30 and 20 minutes: both count by default (10 min), and with
    # min_session_s = 1500 (25 min) only the 30-minute one does
    default, custom = (results[n]["completed_sessions"].sum() for n in ("default", "custom"))
    assert default == sum(1 for m in RUN_MINUTES if m * 60 >= 600) == 2
    assert custom == sum(1 for m in RUN_MINUTES if m * 60 >= 1500) == 1


def test_cli_refuses_a_bad_config_file_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path, "[load]\nacwr_spik = 1\n")
    code = main(["ingest", "--inbox", "i", "--warehouse", "w", "--config", str(bad)])
    assert code == 1
    err = capsys.readouterr().err
    assert "has no setting 'acwr_spik'" in err
    assert "Traceback" not in err
