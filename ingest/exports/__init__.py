"""Whole-account exports (Strava, Garmin, Apple Health): recognised by content, read in one pass.

Entry points: :func:`open_checked_zip` to open an archive with the safety rules of
:mod:`ingest.archive`, :func:`detect_export` to name its kind, :func:`iter_export` to yield its
source activities (:data:`~ingest.exports.model.ExportItem`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ingest.exports.apple_health import iter_apple_health
from ingest.exports.detect import detect_export
from ingest.exports.garmin import iter_garmin_full, iter_garmin_original
from ingest.exports.model import (
    EXPORT_KINDS,
    DecodedSource,
    ExportItem,
    MemberFile,
    SkippedMember,
    SourceMeta,
    WellnessReading,
    apply_source_meta,
)
from ingest.exports.strava import iter_strava
from ingest.exports.zipview import CheckedZip, open_checked_zip

__all__ = [
    "EXPORT_KINDS",
    "EXPORT_READERS",
    "CheckedZip",
    "DecodedSource",
    "ExportItem",
    "MemberFile",
    "SkippedMember",
    "SourceMeta",
    "WellnessReading",
    "apply_source_meta",
    "detect_export",
    "iter_export",
    "open_checked_zip",
]

EXPORT_READERS: dict[str, Callable[[CheckedZip], Iterator[ExportItem]]] = {
    "strava": iter_strava,
    "garmin_full": iter_garmin_full,
    "garmin_original": iter_garmin_original,
    "apple_health": iter_apple_health,
}
"""Export kind -> reader."""


def iter_export(checked: CheckedZip, kind: str) -> Iterator[ExportItem]:
    """Yield the source activities of an export of ``kind`` (as named by :func:`detect_export`)."""
    return EXPORT_READERS[kind](checked)
