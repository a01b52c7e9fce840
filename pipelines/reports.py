"""Refresh the therapist reports after the warehouse changed (a run, an erasure)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from pipelines.problems import open_problems
from pipelines.settings import Settings
from report import default_report_dir, write_reports
from schemas.errors import MindmilesError

__all__ = ["refresh_reports"]

log = logging.getLogger(__name__)


def refresh_reports(settings: Settings, secret: bytes, *, generated: dt.datetime) -> None:
    """Rewrite the overview and every client page, open problems listed, in the inbox's folder.

    A failure is logged, not raised: the data is in; the reports are extra.
    """
    inbox = Path(settings.inbox)
    try:
        write_reports(
            warehouse=settings.warehouse,
            inbox=inbox,
            out=default_report_dir(inbox),
            secret=secret,
            generated=generated,
            thresholds=settings.thresholds,
            problems=open_problems(inbox),
        )
    except (OSError, MindmilesError) as exc:
        log.error("the therapist reports were not refreshed: %s", exc)
