"""``mindmiles demo``: a synthetic clinic, the whole pipeline, and what it built."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

import polars as pl

from pipelines.settings import Settings
from report import default_report_dir
from synthetic.clinic import make_clinic
from warehouse.secret import pseudonymize
from warehouse.store import TableStore

__all__ = ["DEMO_SECRET", "run_demo"]

DEMO_SECRET = "mindmiles-demo-secret-not-for-real-clients"
"""The demo's clinic secret (a real clinic keeps its own outside the warehouse)."""

ADHERENCE_COLUMNS = [
    "week_start",
    "planned_sessions",
    "completed_sessions",
    "planned_minutes",
    "completed_minutes",
    "adherence_ratio",
    "band",
    "journal_entries",
]


def _adherence_table(store: TableStore, client_id: str) -> pl.DataFrame:
    frame = store.read("weekly_adherence").filter(pl.col("client_id") == client_id)
    columns = [c for c in ADHERENCE_COLUMNS if c in frame.columns]
    return frame.select(columns).sort("week_start")


def run_demo(folder: Path, *, seed: int, engine: str, out: TextIO) -> int:
    """Write a synthetic clinic under ``folder``, ingest it, and print what was built."""
    inbox, warehouse = folder / "inbox", folder / "warehouse"
    manifest = make_clinic(inbox, seed=seed, with_faults=True)
    out.write(
        f"Synthetic clinic: {len(manifest.clients)} clients, {manifest.run_count} runs, "
        f"files {dict(manifest.files_by_kind)} in {inbox}\n"
    )
    os.environ.setdefault("MINDMILES_SECRET", DEMO_SECRET)
    settings = Settings.from_options(inbox=inbox, warehouse=warehouse, settle_seconds=0.0)
    if settings.secret == DEMO_SECRET:
        out.write(
            f"Clinic secret: the demo's own, MINDMILES_SECRET={DEMO_SECRET} (set it to query or "
            "report on this warehouse; a real clinic keeps its own secret outside the warehouse)\n"
        )
    else:
        out.write("Clinic secret: the one in MINDMILES_SECRET\n")
    if engine == "prefect":
        from pipelines.flows import ingest_flow

        summary = ingest_flow(str(inbox), str(warehouse), 0.0)
    else:
        from dataclasses import asdict

        from pipelines.isolation import IsolatedParser
        from pipelines.run import run_ingest

        with IsolatedParser() as parser:
            parser.warm(sum(manifest.files_by_kind.values()))
            summary = asdict(run_ingest(settings, parse_batches=parser, parse_ahead=True))
    out.write(
        f"Run: {summary['files_seen']} files seen, {summary['ingested']} ingested, "
        f"{summary['duplicates']} duplicates, {summary['skipped']} skipped, "
        f"{summary['quarantined']} quarantined, {summary['deferred']} deferred; "
        f"{summary['activities']} activities ({summary['duration_s']} s)\n"
    )
    store = TableStore(warehouse)
    secret = (settings.secret or DEMO_SECRET).encode()
    pl.Config.set_tbl_rows(30)
    pl.Config.set_tbl_hide_dataframe_shape(True)
    for code in manifest.clients:
        client_id = pseudonymize(code, secret)
        out.write(f"\nClient {code} ({manifest.personas[code]}), weekly adherence:\n")
        out.write(f"{_adherence_table(store, client_id)}\n")
    indicators = store.read("indicators").filter(pl.col("indicator") != "insufficient_data")
    out.write("\nIndicators raised (per client):\n")
    codes = {pseudonymize(code, secret): code for code in manifest.clients}
    for (client_id,), rows in indicators.sort("client_id", "local_date").group_by(
        "client_id", maintain_order=True
    ):
        days = int(rows["days"].sum())
        out.write(
            f"  {codes.get(str(client_id), client_id)}: {rows.height} episode(s), "
            f"{days} day(s) raised\n"
        )
        for row in rows.unique("indicator", keep="last", maintain_order=True).iter_rows(named=True):
            span = f"{row['local_date']} to {row['until_date']}" + (
                " (ongoing)" if row["ongoing"] else ""
            )
            out.write(f"    {span} {row['indicator']}: {row['explanation']}\n")
    out.write(
        f"\nWarehouse: {warehouse}\nQuery it with SQL, e.g.:\n"
        f"  mindmiles query --warehouse {warehouse} "
        '"select sport, count(*) from activities group by 1"\n'
        f"  mindmiles query --warehouse {warehouse} "
        '"select client_id, week_start, band, mood_mean_10, indicator_codes from client_week"\n'
        f"  duckdb -c \"select * from '{warehouse}/weekly_adherence/*.parquet' limit 5\"\n"
        f"or from Python: polars.scan_delta('{warehouse}/samples') (every table is a Delta table)\n"
    )
    overview = default_report_dir(inbox) / "index.html"
    if overview.is_file():
        out.write(f"\nTherapist reports (open in a browser, no network needed): {overview}\n")
    return 0
