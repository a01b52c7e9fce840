"""``mindmiles query`` is read-only and sees the analyst tables and nothing else.

Each attempt below is refused with one line on stderr and exit code 1 (no traceback), writes
nothing, and never prints restricted free text; the next ordinary query still works.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.clinic_factory import SENTINEL_NOTE, make_small_clinic


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("query")
    inbox, warehouse = root / "inbox", root / "warehouse"
    make_small_clinic(inbox)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINDMILES_SECRET", "test-secret-of-sixteen-bytes")
        patch.setenv("MINDMILES_KEY_FILE", str(root / "key"))
        argv = ["ingest", "--inbox", str(inbox), "--warehouse", str(warehouse)]
        assert main([*argv, "--settle-seconds", "0", "--engine", "local"], out=io.StringIO()) == 0
    return warehouse


def query(warehouse: Path, sql: str, *extra: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["query", "--warehouse", str(warehouse), *extra, sql], out=out)
    return code, out.getvalue()


def attempts(warehouse: Path, outside: Path) -> list[str]:
    restricted = warehouse / "restricted" / "journal_notes"
    return [
        "SELECT * FROM read_text('/etc/shadow')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM glob('/root/**')",
        f"SELECT * FROM read_parquet('{restricted}/**/*.parquet')",
        f"SELECT * FROM read_parquet('{warehouse}/activities/../restricted/journal_notes/*.parquet')",
        f"SELECT * FROM read_parquet('{warehouse}/.versions/journal_notes/**/*.parquet')",
        f"SELECT * FROM read_text('{warehouse.parent}/key')",
        f"COPY (SELECT * FROM activities) TO '{outside}'",
        f"COPY (SELECT * FROM read_parquet('{restricted}/**/*.parquet')) TO '{outside}'",
        f"ATTACH '{outside}.db' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "SELECT FROM WHERE",  # not SQL
        "SELECT * FROM no_such_table",
    ]


def test_every_attempt_is_refused_in_one_line(
    warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "copied.csv"
    for sql in attempts(warehouse, outside):
        code, out = query(warehouse, sql)
        err = capsys.readouterr().err
        assert code == 1, sql
        assert out == "", sql
        assert err.startswith("mindmiles: "), (sql, err)
        assert err.count("\n") == 1, (sql, err)
        assert "Traceback" not in err
        assert SENTINEL_NOTE not in err
        assert not outside.exists()
        assert not Path(f"{outside}.db").exists()
    # the next ordinary query still answers
    code, out = query(warehouse, "SELECT count(*) AS n FROM activities", "--format", "csv")
    assert (code, out) == (0, "n\n2\n")


def test_csv_output_neutralises_formulas(warehouse: Path) -> None:
    sql = "SELECT '=HYPERLINK(\"x\")' AS a, '@SUM(1)' AS b, '+1' AS c, -5 AS d, 'plain' AS e"
    code, out = query(warehouse, sql, "--format", "csv")
    assert code == 0
    # CSV quotes the cell holding quotes; each text cell is prefixed, the number is not
    assert out.splitlines()[1] == '"\'=HYPERLINK(""x"")",\'@SUM(1),\'+1,-5,plain'
