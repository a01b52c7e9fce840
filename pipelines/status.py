"""What ``mindmiles status`` reports: outcomes, refusals, open problems and the last runs."""

from __future__ import annotations

from typing import Any

import polars as pl

from warehouse.location import Where
from warehouse.problems import OpenProblems
from warehouse.runlog import read_receipts, read_runs
from warehouse.store import TableStore

__all__ = ["render_status", "warehouse_status"]

LAST_RUNS = 5


def warehouse_status(warehouse: Where, *, problems: OpenProblems | None = None) -> dict[str, Any]:
    """Counts by outcome and reason, refused files by client, activities, and the last runs.

    With ``problems`` (the inbox's, :func:`pipelines.problems.open_problems`), also the open
    problems under ``open_problems``; without, that key is ``None``.
    """
    store = TableStore(warehouse)
    files = store.read("files").filter(pl.col("container_sha256").is_null())
    activities = store.read("activities")
    outcomes = dict(files.group_by("outcome").len().sort("outcome").iter_rows())
    reasons = (
        files.filter(pl.col("reason_code").is_not_null())
        .group_by("outcome", "reason_code", "reason_message")
        .len(name="count")
        .sort("outcome", "reason_code")
        .to_dicts()
    )
    per_client = (
        files.group_by("client_id", "outcome")
        .len(name="count")
        .sort("client_id", "outcome")
        .to_dicts()
    )
    return {
        "files": outcomes,
        "reasons": reasons,
        "per_client": per_client,
        "activities": activities.height,
        "clients": activities["client_id"].n_unique(),
        "runs": read_runs(warehouse)[-LAST_RUNS:],
        "open_problems": None if problems is None else problems.to_dict(),
        "erasures": read_receipts(warehouse)[-LAST_RUNS:],
    }


def _render_problems(problems: dict[str, Any]) -> list[str]:
    """The open problems, each with what fixes it (folder names: staff-facing)."""
    if not problems["count"]:
        return ["Open problems: none."]
    lines = [f"Open problems ({problems['count']}), listed until fixed:"]
    for name in problems["folders_without_roster"]:
        lines.append(
            f"  - folder {name} has no row in roster.csv: its files are taken in, but heart-rate "
            "zones, load and local dates need the row (add it)."
        )
    for issue in problems["roster_rows_refused"]:
        lines.append(f"  - roster.csv line {issue['line']} refused: {issue['message']} (fix it).")
    for stale in problems["stale_files"]:
        lines.append(
            f"  - {stale['folder']}/{stale['path']} has looked half-copied for {stale['hours']} h "
            "and is left for later by every run: copy it again whole, or remove it."
        )
    for folder, count in problems["quarantined"].items():
        lines.append(
            f"  - {count} refused file(s) in _quarantine/{folder}/: read each .reason.txt, then "
            "drop a good copy in the client's folder or delete the file."
        )
    return lines


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
                f"  - {row['count']} {row['outcome']}: {row['reason_message']} [{row['reason_code']}]"
            )
        lines.append(
            "Refused files are in <inbox>/_quarantine/<client>/, each with a .reason.txt note."
        )
    if status.get("open_problems") is not None:
        lines += _render_problems(status["open_problems"])
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
        if missing and status.get("open_problems") is None:
            lines.append(
                f"{missing} client folder(s) have no row in roster.csv: their files are taken in, "
                "but heart-rate zones, load and local dates need the roster row (add it)."
            )
        lines.append(
            f"Last run finished {last.get('finished_utc')}: {last.get('files_seen')} files seen, "
            f"{last.get('ingested')} ingested, {last.get('quarantined')} quarantined, "
            f"{last.get('deferred')} deferred (still being copied)."
        )
    if status.get("erasures"):
        last = status["erasures"][-1]
        lines.append(
            f"Last erasure finished {last.get('finished_utc')}: {last.get('rows_total')} row(s), "
            f"{last.get('files')} file(s) removed."
        )
    return "\n".join(lines) + "\n"
