"""The warehouse knows which secret built it: another or a short secret stops a command early."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.clinic_factory import CLIENT, make_small_clinic
from warehouse.secret import FINGERPRINT_FILE, fingerprint

FIRST = "first-clinic-secret-0123456789"
OTHER = "other-clinic-secret-0123456789"


def ingest(inbox: Path, warehouse: Path, secret: str, key: Path) -> tuple[int, str]:
    out = io.StringIO()
    env = {"MINDMILES_SECRET": secret, "MINDMILES_KEY_FILE": str(key)}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        argv = ["ingest", "--inbox", str(inbox), "--warehouse", str(warehouse)]
        code = main([*argv, "--settle-seconds", "0", "--engine", "local"], out=out)
    return code, out.getvalue()


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (the lock file excepted)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_another_secret_stops_before_writing_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    make_small_clinic(inbox)
    assert ingest(inbox, warehouse, FIRST, tmp_path / "key")[0] == 0
    recorded = (warehouse / FINGERPRINT_FILE).read_text().strip()
    assert recorded == fingerprint(FIRST.encode())
    assert FIRST not in recorded  # a fingerprint, never the secret
    assert oct((warehouse / FINGERPRINT_FILE).stat().st_mode & 0o777) == "0o600"
    # a new file arrives; the run is started with another secret
    (inbox / CLIENT / "late.fit").write_bytes(
        (inbox / "_processed" / CLIENT / "run0.fit").read_bytes()
    )
    os.utime(inbox / CLIENT / "late.fit", (1, 1))
    before, inbox_before = tree(warehouse), tree(inbox)
    code, _ = ingest(inbox, warehouse, OTHER, tmp_path / "key")
    err = capsys.readouterr().err
    assert code == 1
    assert recorded in err
    assert "another clinic secret" in err
    assert err.count("\n") == 1
    assert tree(warehouse) == before
    assert tree(inbox) == inbox_before  # nothing moved either
    # the right secret works again
    assert ingest(inbox, warehouse, FIRST, tmp_path / "key")[0] == 0


@pytest.mark.parametrize("secret", ["s", "fifteen-bytes!!"])
def test_a_short_secret_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], secret: str
) -> None:
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    make_small_clinic(inbox)
    code, _ = ingest(inbox, warehouse, secret, tmp_path / "key")
    assert code == 1
    assert "at least 16" in capsys.readouterr().err
    assert not (warehouse / FINGERPRINT_FILE).exists()
