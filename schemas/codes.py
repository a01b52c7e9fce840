"""Codes that more than one room writes or reads: reasons, indicators, load sources, labels.

Each tuple is the closed list of values a column may hold; the pandera models check the columns
against them (``isin``) and the code that produces or explains the values imports them from here.
"""

from __future__ import annotations

__all__ = [
    "INDICATOR_CODES",
    "INDICATOR_LABELS",
    "INSUFFICIENT_REASONS",
    "LOAD_SOURCES",
    "REASON_CODES",
    "RUN_COUNTERS",
]

#: Every code the ``indicator`` column can hold.
INDICATOR_CODES: tuple[str, ...] = (
    "load_spike",
    "high_monotony",
    "distance_jump",
    "no_rest_day",
    "low_tsb",
    "aerobic_decoupling",
    "overload_low_wellbeing",
    "disengagement",
    "sustained_low_mood",
    "journal_silence",
    "insufficient_data",
)

#: Plain-language names of the indicators, used inside explanations.
INDICATOR_LABELS: dict[str, str] = {
    "load_spike": "sudden load increase",
    "high_monotony": "very monotonous training",
    "distance_jump": "weekly distance jump",
    "no_rest_day": "no rest day",
    "low_tsb": "low training stress balance",
    "aerobic_decoupling": "heart-rate drift on a steady run",
    "overload_low_wellbeing": "training load with low mood or sleep",
    "disengagement": "planned running missed",
    "sustained_low_mood": "mood low for a sustained period",
    "journal_silence": "journal entries stopped",
}

#: Every value the ``reason`` column of an ``insufficient_data`` row can hold.
INSUFFICIENT_REASONS: tuple[str, ...] = ("short_history", "short_history_acwr", "sparse_journal")

#: The ``load_source`` values, in the precedence order of ``transform.trimp.with_load``.
LOAD_SOURCES: tuple[str, ...] = ("banister_trimp", "srpe_scaled", "duration_estimate")

#: Every value of ``files.reason_code``: why a file was not taken in, or what was remarked on a
#: file that was. ``tests/test_codes.py`` checks that every code the source raises is listed.
REASON_CODES: dict[str, str] = {
    # refused: the bytes are not a format we read
    "empty_file": "the file is empty (0 bytes)",
    "unknown_format": "not a watch export we read (FIT, GPX, TCX, gzip, zip), nor a clinic CSV",
    "html_page": "a web page saved instead of the export",
    # skipped: valid, but no workout
    "not_an_activity": "a valid file that holds no workout (settings FIT, GPX route, waypoints)",
    "no_activities": "an archive that holds no recorded workout",
    # refused: damaged
    "fit_corrupt": "a FIT file that cannot be decoded",
    "fit_truncated": "a FIT file cut short before any record",
    "gpx_invalid": "XML that is not a GPX track",
    "gpx_malformed": "a GPX file that is not well-formed XML",
    "tcx_invalid": "XML that is not a TCX workout",
    "tcx_malformed": "a TCX file that is not well-formed XML",
    "apple_xml_malformed": "an Apple Health export.xml that is not well-formed",
    "strava_index_invalid": "a Strava export whose activities.csv cannot be read",
    "gzip_corrupt": "a damaged or truncated .gz file",
    "zip_corrupt": "a damaged .zip file or member",
    "schema_failed": (
        "no workout in it can be read: data of an impossible shape or time "
        "(the failing checks are the evidence)"
    ),
    # refused: unsafe
    "xml_entities": "XML with entity declarations or external references",
    "archive_unsafe_path": "an archive member whose path leaves the archive",
    "archive_symlink": "an archive member that is a symbolic link",
    "archive_encrypted": "an encrypted archive member",
    "archive_duplicate_names": "an archive with two members of one name",
    "archive_too_large": "an archive that expands beyond the size limits (zip bomb)",
    "archive_too_deep": "archives nested too deeply",
    "resource_limit": "parsing exceeded its time or memory budget",
    "parser_error": "a reader failed unexpectedly on this file (a bug; the file is kept)",
    # taken in, with a remark
    "clock_not_set": "the watch clock was never set: kept without a date",
    "recovered": "a damaged FIT file: the records before the damage were kept",
    "crc_mismatch": "a FIT file whose checksum is wrong but whose data read correctly",
    "fields_skipped": "a FIT file with messages or fields that could not be decoded: skipped, counted",
    "some_members_refused": "an archive of which some members were refused",
    "some_activities_refused": "a multi-workout file of which some workouts were refused",
    "values_refused": "impossible sample values were left blank; the workout was kept",
    "same_activity_held": "every workout in it is already held from another copy",
    "rows_skipped": "a clinic CSV of which some rows were refused (line numbers in the note)",
    # the clinic's CSVs, refused whole
    "table_file_invalid": "a roster, journal or plan file that cannot be read",
    "journal_invalid": "a journal file that cannot be read",
    "journal_unreadable": "a journal that is not text or has no header",
    "journal_unrecognised_header": "a journal whose header is neither the template nor Daylio",
    "plan_invalid": "a plan file that cannot be read",
    "roster_invalid": "a roster file that cannot be read",
    # the inbox: entries that are never opened, and files that stopped runs
    "symlink_refused": "a symbolic link in the inbox (never followed; moved as a link)",
    "not_a_regular_file": "a named pipe, socket or device node in the inbox (never opened)",
    "unreadable": "a file or folder mindmiles has no permission to read",
    "name_not_utf8": "a client folder whose name is not valid text (UTF-8)",
    "run_failed": "a file whose processing made two runs fail (set aside so the next runs go on)",
}

#: Counters of the run summary's ``reason_codes`` that are not file outcomes.
RUN_COUNTERS: dict[str, str] = {
    "roster_row_refused": "a roster row that was refused (the rest of the roster is used)",
    "same_file_received_again": "bytes already taken in for that client, dropped again",
    "same_file_other_client": "bytes also received in another client's folder (a note on each)",
    "roster_unreadable": "roster.csv is a link, pipe or device, or cannot be read (old roster kept)",
}
