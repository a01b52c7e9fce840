"""Journal readers (clinic template, Daylio), format detection and the snapshot merge."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from clinic.daylio import DAYLIO_GERMAN_MOOD_LEVELS, read_daylio
from clinic.journal import detect_journal_format, read_journal
from clinic.journal_template import read_clinic_template
from schemas.errors import (
    JournalUnreadable,
    JournalUnrecognisedHeader,
    RowIssue,
)
from schemas.ids import make_entry_id
from schemas.journal import Journal, JournalNotes
from transform.journal import merge_journal, merge_journal_notes

TEMPLATE_HEADER = "timestamp,kind,mood,anxiety,stress,energy,sleep_hours,sleep_quality,rpe,notes\n"
DAYLIO_2021 = "full_date,date,weekday,time,mood,activities,note_title,note\n"
DAYLIO_2026 = "full_date,date,weekday,time,mood,activities,scales,note_title,note\n"
DAYLIO_2019 = "full_date,date,weekday,time,mood,activities,note\n"
DAYLIO_2018 = "year,date,weekday,time,mood,activities,note\n"
BOM = "\ufeff"
LONDON = "Europe/London"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- entry id --------------------------------------------------------------------------------


def test_entry_id_is_pinned_sha256_prefix() -> None:
    # Regression pin: sha256("c1\x1f2026-03-02T18:40:00.000000Z\x1fpost_run\x1fclinic_template")
    assert make_entry_id("c1", utc(2026, 3, 2, 18, 40), "post_run", "clinic_template") == (
        "3a53b534b908b27f"
    )


def test_entry_id_same_instant_in_other_offset_is_same() -> None:
    from datetime import timedelta, timezone

    plus_one = datetime(2026, 3, 2, 19, 40, tzinfo=timezone(timedelta(hours=1)))
    assert make_entry_id("c1", plus_one, "post_run", "clinic_template") == "3a53b534b908b27f"


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TEMPLATE_HEADER, "clinic_template"),
        (
            "notes,kind,timestamp,mood,anxiety,stress,energy,sleep_hours,sleep_quality,rpe\n",
            "clinic_template",
        ),
        (BOM + DAYLIO_2021, "daylio"),
        (DAYLIO_2026, "daylio"),
        (DAYLIO_2019, "daylio"),
        (BOM + DAYLIO_2018, "daylio"),
    ],
)
def test_detect_journal_format(text: str, expected: str) -> None:
    assert detect_journal_format(text.encode()) == expected


def test_unrecognised_header_raises_with_reason_code() -> None:
    data = b"date,mood\n2026-03-02,7\n"
    with pytest.raises(JournalUnrecognisedHeader) as info:
        read_journal(data, client_id="c1", timezone=LONDON)
    assert info.value.reason_code == "journal_unrecognised_header"
    assert info.value.line == 1
    assert info.value.got == "date,mood"


def test_template_with_extra_column_is_unrecognised() -> None:
    data = (TEMPLATE_HEADER.strip() + ",extra\n").encode()
    with pytest.raises(JournalUnrecognisedHeader):
        read_journal(data, client_id="c1", timezone=LONDON)


# A UTF-16 BOM now reads as UTF-16 text (issue 15); NUL bytes are not text.
@pytest.mark.parametrize("data", [b"\x00\x00\x00\x00t", b"", b"\n\n  \n"])
def test_unreadable_journal_raises(data: bytes) -> None:
    with pytest.raises(JournalUnreadable) as info:
        read_journal(data, client_id="c1", timezone=LONDON)
    assert info.value.reason_code == "journal_unreadable"


# --- clinic template -------------------------------------------------------------------------


def test_clinic_template_rows_local_dates_across_dst_and_notes() -> None:
    data = (
        TEMPLATE_HEADER
        # the night of the spring change in London (01:00 GMT -> 02:00 BST on 2026-03-29)
        + "2026-03-28T23:30:00+00:00,daily,6,2,3,5,7.5,4,,\n"
        + "2026-03-29T00:30:00Z,pre_run,,,,,,,,\n"
        + '2026-03-29T23:30:00+00:00,post_run,8,1,2,7,,,6,"easy 5k, felt good"\n'
    ).encode()
    result = read_clinic_template(data, client_id="c1", timezone=LONDON)
    assert result.source == "clinic_template"
    assert result.issues == ()
    expected = pl.DataFrame(
        {
            "timestamp_utc": [
                utc(2026, 3, 28, 23, 30),
                utc(2026, 3, 29, 0, 30),
                utc(2026, 3, 29, 23, 30),
            ],
            # 23:30 UTC on the 29th is 00:30 BST on the 30th
            "local_date": [date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)],
            "kind": ["daily", "pre_run", "post_run"],
            "mood": [6.0, None, 8.0],
            "mood_scale_max": [10, 10, 10],
            "anxiety": [2.0, None, 1.0],
            "stress": [3.0, None, 2.0],
            "energy": [5.0, None, 7.0],
            "sleep_hours": [7.5, None, None],
            "sleep_quality": [4.0, None, None],
            "rpe": [None, None, 6.0],
            "source": ["clinic_template"] * 3,
        },
        schema_overrides={"timestamp_utc": pl.Datetime("us", "UTC"), "mood_scale_max": pl.Int8},
    )
    assert_frame_equal(result.journal.drop("entry_id", "client_id"), expected)
    Journal.validate(result.journal)
    JournalNotes.validate(result.notes)
    assert result.notes["note"].to_list() == ["easy 5k, felt good"]
    post_id = result.journal.filter(pl.col("kind") == "post_run")["entry_id"].item()
    assert result.notes["entry_id"].to_list() == [post_id]
    assert "notes" not in result.journal.columns


def test_clinic_template_malformed_rows_reported_with_physical_line_numbers() -> None:
    data = (
        TEMPLATE_HEADER  # line 1
        + '2026-03-02T07:00:00+00:00,daily,5,,,,,,,"two\nlines"\n'  # lines 2-3
        + "2026-03-02T18:00:00,post_run,7,,,,,,,\n"  # line 4: no offset
        + "2026-03-03T18:00:00+00:00,post_run,11,,,,,,,\n"  # line 5: mood out of range
        + "2026-03-04T18:00:00+00:00,after,7,,,,,,,\n"  # line 6: bad kind
        + "2026-03-05T18:00:00+00:00,post_run,7\n"  # line 7: short row
        + "\n"  # line 8: blank, ignored
        + "2026-03-06T18:00:00+00:00,post_run,seven,,,,,,,\n"  # line 9: not a number
        + "2026-03-07T18:00:00+00:00,daily,7,,,,,,,\n"  # line 10: fine
        + "2026-03-07T18:00:00+00:00,daily,8,,,,,,,\n"  # line 11: same time and kind
    ).encode()
    result = read_clinic_template(data, client_id="c1", timezone=LONDON)
    assert [(i.line, i.column) for i in result.issues] == [
        (4, "timestamp"),
        (5, "mood"),
        (6, "kind"),
        (7, None),
        (9, "mood"),
        (11, None),
    ]
    assert result.issues[1] == RowIssue(
        line=5, message="mood must be between 1 and 10; row skipped", column="mood"
    )
    assert "line 10" in result.issues[5].message
    assert result.journal["timestamp_utc"].to_list() == [
        utc(2026, 3, 2, 7, 0),
        utc(2026, 3, 7, 18, 0),
    ]
    assert result.journal["mood"].to_list() == [5.0, 7.0]
    assert result.notes["note"].to_list() == ["two\nlines"]


# --- Daylio ----------------------------------------------------------------------------------


def test_daylio_2021_bom_12h_24h_dst_gap_and_fold() -> None:
    data = (
        BOM
        + DAYLIO_2021  # line 1
        + '2026-10-25,25 October,Sunday,01:30,meh,"",,""\n'  # fold -> first (BST) occurrence
        + '2026-03-29,29 March,Sunday,1:30 am,good,"",,""\n'  # in the gap -> 01:30 UTC
        + '2026-03-29,29 March,Sunday,00:59,bad,"",,""\n'  # GMT, just before the gap
        + '2026-03-29,29 March,Sunday,2:00 AM,rad,"",,""\n'  # BST, first valid time
        + '2026-03-02,2 March,Monday,6:50 pm,awful,"work  | bad sleep",'
        + '"Title","Never mind<b>d</b>.<br>ok"\n'
    ).encode()
    result = read_daylio(data, client_id="c1", timezone=LONDON)
    assert result.issues == ()
    got = result.journal.select("timestamp_utc", "local_date", "kind", "mood", "mood_scale_max")
    expected = pl.DataFrame(
        {
            "timestamp_utc": [
                utc(2026, 3, 2, 18, 50),  # GMT in March before the change
                utc(2026, 3, 29, 0, 59),  # 00:59 GMT
                utc(2026, 3, 29, 1, 0),  # 02:00 BST
                utc(2026, 3, 29, 1, 30),  # gap: 01:30 read as GMT = 02:30 BST
                utc(2026, 10, 25, 0, 30),  # fold: 01:30 BST
            ],
            "local_date": [
                date(2026, 3, 2),
                date(2026, 3, 29),
                date(2026, 3, 29),
                date(2026, 3, 29),
                date(2026, 10, 25),
            ],
            "kind": ["daily"] * 5,
            "mood": [1.0, 2.0, 5.0, 4.0, 3.0],
            "mood_scale_max": [5] * 5,
        },
        schema_overrides={"timestamp_utc": pl.Datetime("us", "UTC"), "mood_scale_max": pl.Int8},
    )
    assert_frame_equal(got, expected)
    assert result.notes["note"].to_list() == ["Title\nNever mind<b>d</b>.<br>ok"]
    Journal.validate(result.journal)
    JournalNotes.validate(result.notes)


@pytest.mark.parametrize(
    ("header", "row", "expected_utc"),
    [
        (
            DAYLIO_2018,
            '2018,18 May,Friday,11:54 pm,happy,"clean | cook","Went out"\n',
            utc(2018, 5, 18, 22, 54),
        ),
        (DAYLIO_2018, '2018,May 18,Friday,11:54 PM,happy,"","x"\n', utc(2018, 5, 18, 22, 54)),
        (
            DAYLIO_2019,
            '2019-12-01,1 December,Sunday,12:05 am,happy,"",""\n',
            utc(2019, 12, 1, 0, 5),
        ),
        (
            DAYLIO_2026,
            '2026-04-01,1 April,Wednesday,12:15 pm,happy,"",'
            '"Sleep Quality:\u00a08/10 points | Sleep Time:\u00a08:00","",""\n',
            utc(2026, 4, 1, 11, 15),
        ),
    ],
)
def test_daylio_every_era_and_custom_label_map(
    header: str, row: str, expected_utc: datetime
) -> None:
    result = read_daylio(
        (header + row).encode(), client_id="c1", timezone=LONDON, mood_labels={"Happy ": 4}
    )
    assert result.issues == ()
    assert result.journal.select("timestamp_utc", "mood").row(0) == (expected_utc, 4.0)


def test_daylio_unknown_label_and_bad_cells_are_reported_not_guessed() -> None:
    data = (
        DAYLIO_2021  # line 1
        + '2026-03-02,2 March,Monday,08:00,Anxious,"",,""\n'  # 2: unknown label
        + '2026-03-02,2 March,Monday,25:00,good,"",,""\n'  # 3: bad hour
        + '2026-02-30,30 February,Monday,08:00,good,"",,""\n'  # 4: no such date
        + '2026-03-03,3 March,Tuesday,13:00 pm,good,"",,""\n'  # 5: 13 in 12-h clock
        + '2026-03-04,4 March,Wednesday,9:15 am,GOOD ,"",,""\n'  # 6: fine (case, spaces)
    ).encode()
    result = read_daylio(data, client_id="c1", timezone=LONDON)
    assert [(i.line, i.column) for i in result.issues] == [
        (2, "mood"),
        (3, "time"),
        (4, "full_date"),
        (5, "time"),
    ]
    # Issue 15: messages name the column, never quote the cell (free text stays out of notes).
    assert "Anxious" not in result.issues[0].message
    assert result.issues[0].column == "mood"
    assert result.journal.select("timestamp_utc", "mood").rows() == [(utc(2026, 3, 4, 9, 15), 4.0)]


def test_daylio_german_labels_need_the_map() -> None:
    data = (DAYLIO_2021 + '2026-03-04,4. März,Mittwoch,09:15,Super,"",,""\n').encode()
    assert read_daylio(data, client_id="c1", timezone=LONDON).issues[0].column == "mood"
    result = read_daylio(
        data, client_id="c1", timezone=LONDON, mood_labels=DAYLIO_GERMAN_MOOD_LEVELS
    )
    assert result.journal["mood"].to_list() == [5.0]


def test_daylio_kind_from_activity_tags() -> None:
    data = (
        DAYLIO_2021
        + '2026-03-04,4 March,Wednesday,18:00,good,"After Run | friends",,""\n'  # 2
        + '2026-03-04,4 March,Wednesday,17:00,meh,"before run",,""\n'  # 3
        + '2026-03-04,4 March,Wednesday,12:00,meh,"work",,""\n'  # 4
        + '2026-03-04,4 March,Wednesday,19:00,meh,"before run | after run",,""\n'  # 5
    ).encode()
    result = read_daylio(
        data,
        client_id="c1",
        timezone=LONDON,
        kind_activities={"after run": "post_run", "Before Run": "pre_run"},
    )
    assert result.journal.select("timestamp_utc", "kind").rows() == [
        (utc(2026, 3, 4, 12, 0), "daily"),
        (utc(2026, 3, 4, 17, 0), "pre_run"),
        (utc(2026, 3, 4, 18, 0), "post_run"),
    ]
    assert [(i.line, i.column) for i in result.issues] == [(5, "activities")]


def test_daylio_bad_label_map_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="level must be an integer 1-5"):
        read_daylio(DAYLIO_2021.encode(), client_id="c1", timezone=LONDON, mood_labels={"x": 6})


# --- snapshot merge --------------------------------------------------------------------------


def _daylio_snapshot(rows: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    result = read_journal(
        (BOM + DAYLIO_2021 + "".join(rows)).encode(), client_id="c1", timezone=LONDON
    )
    return result.journal, result.notes


ROW_A = '2026-03-04,4 March,Wednesday,09:00,good,"",,"note a"\n'
ROW_B = '2026-03-05,5 March,Thursday,09:00,meh,"",,""\n'
ROW_C = '2026-03-06,6 March,Friday,09:00,rad,"",,"note c"\n'


def test_merge_same_twice_then_longer_then_shorter_is_the_union() -> None:
    snapshots = [
        _daylio_snapshot([ROW_B, ROW_A]),  # newest first, as Daylio writes
        _daylio_snapshot([ROW_B, ROW_A]),  # the same export dropped again
        _daylio_snapshot([ROW_C, ROW_B, ROW_A]),  # a longer one
        _daylio_snapshot([ROW_C]),  # a shorter one
    ]
    merged = merge_journal([journal for journal, _ in snapshots])
    assert merged.select("timestamp_utc", "mood").rows() == [
        (utc(2026, 3, 4, 9, 0), 4.0),
        (utc(2026, 3, 5, 9, 0), 3.0),
        (utc(2026, 3, 6, 9, 0), 5.0),
    ]
    assert merged["entry_id"].n_unique() == 3
    Journal.validate(merged)
    notes = merge_journal_notes([n for _, n in snapshots])
    assert sorted(notes["note"].to_list()) == ["note a", "note c"]
    # Merging is idempotent: merging the result with any snapshot changes nothing.
    assert_frame_equal(merge_journal([merged, snapshots[1][0]]), merged)


def test_merge_edited_entry_later_snapshot_wins() -> None:
    first, _ = _daylio_snapshot([ROW_A])
    edited, _ = _daylio_snapshot([ROW_A.replace("good", "awful")])
    merged = merge_journal([first, edited])
    assert merged["mood"].to_list() == [1.0]


def test_merge_rejects_mismatched_schemas() -> None:
    first, _ = _daylio_snapshot([ROW_A])
    with pytest.raises(ValueError, match="schema"):
        merge_journal([first, first.drop("rpe")])
