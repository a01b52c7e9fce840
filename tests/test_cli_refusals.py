"""Commands refuse what does not exist, and numbers out of range, in one line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.clinic_factory import make_small_clinic

SECRET = "refusals-test-secret-0123456789"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MINDMILES_SECRET", SECRET)
    monkeypatch.setenv("MINDMILES_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.delenv("MINDMILES_WAREHOUSE", raising=False)
    monkeypatch.delenv("MINDMILES_INBOX", raising=False)
    return tmp_path


def test_ingest_refuses_a_missing_inbox_and_creates_nothing(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing, warehouse = env / "no-such-inbox", env / "warehouse"
    code, _ = run("ingest", "--inbox", str(missing), "--warehouse", str(warehouse))
    err = capsys.readouterr().err
    assert code == 1
    assert "does not exist" in err
    assert err.count("\n") == 1
    assert not missing.exists()
    assert not warehouse.exists()


@pytest.mark.parametrize("command", ["status", "query", "report"])
def test_reading_commands_refuse_a_folder_that_is_not_a_warehouse(
    env: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    inbox, typo = env / "inbox", env / "warehuose"
    make_small_clinic(inbox)
    typo.mkdir()
    extra = {"status": [], "query": ["SELECT 1"], "report": ["--inbox", str(inbox)]}[command]
    code, out = run(command, "--warehouse", str(typo), *extra)
    err = capsys.readouterr().err
    assert code == 1
    assert "is not a mindmiles warehouse" in err
    assert out == ""
    assert not (inbox / "_reports").exists()  # no empty pages over the real ones


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["report", "--weeks", "200000"], "200000 is not a whole number from 1 to 520"),
        (["report", "--weeks", "0"], "0 is not a whole number from 1 to 520"),
        (["ingest", "--settle-seconds", "-1"], "-1 is not a number from 0 to 3600"),
        (["ingest", "--settle-seconds", "nan"], "nan is not a number from 0 to 3600"),
        (["serve", "--port", "70000"], "70000 is not a whole number from 0 to 65535"),
    ],
)
def test_numbers_out_of_range_are_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    with pytest.raises(SystemExit) as stop:
        run(*argv)
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert words in err
    assert "Traceback" not in err


def test_report_out_through_a_symlink_into_the_warehouse_is_refused(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox, warehouse = env / "inbox", env / "warehouse"
    make_small_clinic(inbox)
    argv = ["--inbox", str(inbox), "--warehouse", str(warehouse)]
    assert run("ingest", *argv, "--settle-seconds", "0", "--engine", "local")[0] == 0
    sneaky = env / "reports"
    sneaky.symlink_to(warehouse / "restricted", target_is_directory=True)
    code, _ = run("report", *argv, "--out", str(sneaky))
    assert code == 1
    assert "outside the warehouse" in capsys.readouterr().err
    assert not any(p.suffix == ".html" for p in (warehouse / "restricted").rglob("*"))


@pytest.mark.parametrize(
    ("extra", "environment", "words"),
    [
        ([], {}, "--engine dask needs the scheduler"),
        (["--dask-address", "127.0.0.1:8786"], {}, "is not tcp://HOST:PORT"),
        (["--dask-address", "tcp://127.0.0.1:8786"], {}, "needs a Prefect server"),
        (["--dask-address", "ftp://x:1"], {"PREFECT_API_URL": "http://127.0.0.1:1/api"}, "is not"),
    ],
    ids=["no-address", "no-scheme", "no-prefect-server", "wrong-scheme"],
)
def test_the_dask_engine_is_refused_before_anything_starts(
    env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
    environment: dict[str, str],
    words: str,
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("MINDMILES_DASK_ADDRESS", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    inbox, warehouse = env / "inbox", env / "warehouse"
    make_small_clinic(inbox)
    argv = ["ingest", "--inbox", str(inbox), "--warehouse", str(warehouse), "--engine", "dask"]
    code, _ = run(*argv, *extra)
    err = capsys.readouterr().err
    assert code == 1
    assert words in err
    assert err.count("\n") == 1
    assert not warehouse.exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (
            ["query", "--warehouse", "s3://no-such-bucket/wh", "SELECT 1"],
            "cannot read the warehouse",
        ),
        (["report", "--warehouse", "s3://no-such-bucket/wh", "--inbox", "in"], "cannot read the"),
        (["ingest", "--inbox", "ftp://host/in", "--warehouse", "w"], "unsupported location"),
    ],
    ids=["query-no-bucket", "report-no-bucket", "ftp"],
)
def test_locations_are_checked_before_anything_is_written(
    env: Path,
    capsys: pytest.CaptureFixture[str],
    s3_server: object,
    argv: list[str],
    words: str,
) -> None:
    code, _ = run(*argv)
    err = capsys.readouterr().err
    assert code == 1
    assert words in err
