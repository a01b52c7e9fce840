"""The one end-to-end test through Prefect: the ingest flow under a test harness."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="mindmiles-prefect-home-"))

from pipelines.flows import ingest_flow
from tests.clinic_factory import CLIENT, make_small_clinic

pytestmark = pytest.mark.prefect


def test_ingest_flow_end_to_end(
    prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    make_small_clinic(inbox)
    monkeypatch.setenv("MINDMILES_SECRET", "flow-test-secret")
    summary = ingest_flow(str(inbox), str(warehouse), 0.0)
    assert (summary["files_seen"], summary["ingested"], summary["activities"]) == (4, 4, 2)
    assert (warehouse / "activities" / "_delta_log").is_dir()
    assert len(list((inbox / "_processed" / CLIENT).iterdir())) == 4
    # The secret is not a flow parameter: Prefect must never store it.
    again = ingest_flow(str(inbox), str(warehouse), 0.0)
    assert again["files_seen"] == 0
