"""What ``mindmiles status`` reports: outcomes, refusals and the last runs."""

from __future__ import annotations

from typing import Any

import polars as pl

from warehouse.location import Where
from warehouse.runlog import read_runs
from warehouse.store import TableStore

__all__ = ["render_status", "warehouse_status"]

LAST_RUNS = 5


def warehouse_status(warehouse: Where) -> dict[str, Any]:
    """Counts by outcome and reason, refused files by client, activities, and the last runs."""
    store = TableStore(warehouse)
    files = store.read("files").filter(pl.col("container_sha256").is_null())
    activities = store.read("activities")
    outcomes = dict(files.group_by("outcome").len().sort("outcome").iter_rows())
    reasons = (
        files.filter(pl.col("reason_code").is_not_null())
        .group_by("outcome", "reason_code", "reason_message")
        .len()
        .sort("outcome", "reason_code")
        .to_dicts()
    )
    per_client = (
        files.group_by("client_id", "outcome").len().sort("client_id", "outcome").to_dicts()
    )
    return {
        "files": outcomes,
        "reasons": reasons,
        "per_client": per_client,
        "activities": activities.height,
        "clients": activities["client_id"].n_unique(),
        "runs": read_runs(warehouse)[-LAST_RUNS:],
    }


def render_status(status: dict[str, Any]) -> str:
    """Plain text for clinic staff."""
    lines = [f"Activities held: {status['activities']} for {status['clients']} client(s)."]
    files = status["files"]
    lines.append(
        "Files received: "
        + (", ".join(f"{n} {outcome}" for outcome, n in files.items()) if files else "none yet")
        + "."
    )
    if status["reasons"]:
        lines.append("Why files were not (fully) taken in:")
        for row in status["reasons"]:
            lines.append(
                f"  - {row['len']} {row['outcome']}: {row['reason_message']} [{row['reason_code']}]"
            )
        lines.append(
            "Refused files are in <inbox>/_quarantine/<client>/, each with a .reason.txt note."
        )
    if status["runs"]:
        last = status["runs"][-1]
        if last.get("failed"):
            lines.append(
                f"Last run FAILED at {last.get('finished_utc')}: {last.get('error')}. Nothing of "
                "it was published and no file was moved; the next run tries again (a file that "
                "makes two runs fail is set aside in _quarantine with reason run_failed)."
            )
            return "\n".join(lines) + "\n"
        missing = last.get("clients_without_roster") or 0
        if missing:
            lines.append(
                f"{missing} client folder(s) have no row in roster.csv: their files are taken in, "
                "but heart-rate zones, load and local dates need the roster row (add it)."
            )
        lines.append(
            f"Last run finished {last.get('finished_utc')}: {last.get('files_seen')} files seen, "
            f"{last.get('ingested')} ingested, {last.get('quarantined')} quarantined, "
            f"{last.get('deferred')} deferred (still being copied)."
        )
    return "\n".join(lines) + "\n"
