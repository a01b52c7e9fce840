"""Strava "download your data" archives, built here the way Strava builds them (FORMATS.md 1).

The archives hold five simulated runs in every format Strava keeps originals in (``.fit.gz``,
``.gpx``, ``.gpx.gz``, ``.tcx`` with Strava's ten leading spaces, ``.tcx.gz``), a manual entry
without a file, an ``#error#`` row, and members that must never be read (a damaged photo, contacts).
Expected values are the literals written into the archive and the simulator's own arrays, never
values read back by the code under test.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import zipfile
from collections.abc import Sequence
from functools import cache

import pytest

from ingest.archive import ArchiveLimits, gunzip
from ingest.detect import detect_format, read_activity_file
from ingest.exports import (
    DecodedSource,
    MemberFile,
    detect_export,
    iter_export,
    open_checked_zip,
)
from ingest.exports.strava import parse_activities_csv, parse_strava_date
from schemas.errors import CorruptFile, UnsafeInput
from synthetic.run_model import SimulatedRun, simulate_run, write_run_fit, write_run_gpx

LIMITS = ArchiveLimits()

HEADER_101_TEXT = (
    "Activity ID,Activity Date,Activity Name,Activity Type,Activity Description,Elapsed Time,"
    "Distance,Max Heart Rate,Relative Effort,Commute,Activity Private Note,Activity Gear,Filename,"
    "Athlete Weight,Bike Weight,Elapsed Time,Moving Time,Distance,Max Speed,Average Speed,"
    "Elevation Gain,Elevation Loss,Elevation Low,Elevation High,Max Grade,Average Grade,"
    "Average Positive Grade,Average Negative Grade,Max Cadence,Average Cadence,Max Heart Rate,"
    "Average Heart Rate,Max Watts,Average Watts,Calories,Max Temperature,Average Temperature,"
    "Relative Effort,Total Work,Number of Runs,Uphill Time,Downhill Time,Other Time,"
    "Perceived Exertion,Type,Start Time,Weighted Average Power,Power Count,"
    "Prefer Perceived Exertion,Perceived Relative Effort,Commute,Total Weight Lifted,From Upload,"
    "Grade Adjusted Distance,Weather Observation Time,Weather Condition,Weather Temperature,"
    "Apparent Temperature,Dewpoint,Humidity,Weather Pressure,Wind Speed,Wind Gust,Wind Bearing,"
    "Precipitation Intensity,Sunrise Time,Sunset Time,Moon Phase,Bike,Gear,"
    "Precipitation Probability,Precipitation Type,Cloud Cover,Weather Visibility,UV Index,"
    "Weather Ozone,Jump Count,Total Grit,Average Flow,Flagged,Average Elapsed Speed,"
    "Dirt Distance,Newly Explored Distance,Newly Explored Dirt Distance,Activity Count,"
    "Total Steps,Carbon Saved,Pool Length,Training Load,Intensity,Average Grade Adjusted Pace,"
    "Timer Time,Total Cycles,Recovery,With Pet,Competition,Long Run,For a Cause,With Kid,"
    "Downhill Distance,Media"
)
"""The 101-column English header of Feb 2026, copied from FORMATS.md 1.2."""
HEADER_101 = HEADER_101_TEXT.split(",")

GERMAN_HEADER_TEXT = (
    "Aktivitäts-ID,Aktivitätsdatum,Name der Aktivität,Aktivitätsart,Aktivitätsbeschreibung,"
    "Verstrichene Zeit,Distanz,Max. Herzfrequenz,Relative Leistung,Pendeln,"
    "Hinweis zur Privatsphäre für Aktivitäten,Aktivitätsausrüstung,Dateiname"
)
"""The German first block (FORMATS.md 1.2)."""
GERMAN_HEADER = GERMAN_HEADER_TEXT.split(",")

STARTS = tuple(dt.datetime(2025, 3, d, 6, 42, 10, tzinfo=dt.UTC) for d in (3, 5, 7, 10, 12))
"""Start of the five runs (UTC), as Strava's Activity Date writes them: "Mar 3, 2025, 6:42:10 AM"."""
DURATIONS_S = (600, 660, 720, 780, 840)
STRAVA_IDS = ("13001", "13002", "13003", "13004", "13005")
FILE_NUMBERS = ("14001", "14002", "14003", "14004", "14005")
"""Numbers in ``activities/<n>.<ext>``: not the activity ids, as in real archives."""
SUFFIXES = (".fit.gz", ".gpx", ".gpx.gz", ".tcx", ".tcx.gz")
EXERTION = ("6", "", "4", "", "")
MANUAL_START = dt.datetime(2025, 3, 14, 17, 5, 0, tzinfo=dt.UTC)


@cache
def runs() -> tuple[SimulatedRun, ...]:
    """The five runs (short, to keep the suite fast)."""
    return tuple(
        simulate_run(
            start,
            duration_s=seconds,
            intensity="easy",
            hr_rest=55,
            hr_max=188,
            home=(52.52, 13.40),
            seed=100 + i,
        )
        for i, (start, seconds) in enumerate(zip(STARTS, DURATIONS_S, strict=True))
    )


@cache
def fit_bytes(i: int) -> bytes:
    """The FIT file the watch wrote for run ``i`` (what Garmin and Strava both keep)."""
    return write_run_fit(runs()[i])


def tcx_bytes(run: SimulatedRun) -> bytes:
    """A Strava-style TCX: ten spaces before the declaration, root attributes on several lines."""
    points = "".join(
        f"<Trackpoint><Time>{(run.start + dt.timedelta(seconds=int(s))).strftime('%Y-%m-%dT%H:%M:%SZ')}</Time>"
        f"<Position><LatitudeDegrees>{lat:.7f}</LatitudeDegrees>"
        f"<LongitudeDegrees>{lon:.7f}</LongitudeDegrees></Position>"
        f"<AltitudeMeters>{alt:.1f}</AltitudeMeters><DistanceMeters>{d:.2f}</DistanceMeters>"
        f"<HeartRateBpm><Value>{hr}</Value></HeartRateBpm></Trackpoint>"
        for s, lat, lon, alt, d, hr in zip(
            run.elapsed_s.tolist(),
            run.lat.tolist(),
            run.lon.tolist(),
            run.altitude.tolist(),
            run.distance.tolist(),
            run.heart_rate.tolist(),
            strict=True,
        )
    )
    start = run.start.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        " " * 10 + '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<TrainingCenterDatabase\n"
        '  xsi:schemaLocation="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2 '
        'http://www.garmin.com/xmlschemas/TrainingCenterDatabasev2.xsd"\n'
        '  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n'
        '  xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">\n'
        f'<Activities><Activity Sport="Running"><Id>{start}</Id><Lap StartTime="{start}">'
        f"<TotalTimeSeconds>{run.n_samples - 1}</TotalTimeSeconds>"
        f"<DistanceMeters>{run.distance[-1]:.2f}</DistanceMeters><Track>{points}</Track></Lap>"
        "</Activity></Activities></TrainingCenterDatabase>\n"
    ).encode()


def activity_file(i: int) -> bytes:
    """Run ``i`` in the format Strava kept it in (:data:`SUFFIXES`)."""
    run = runs()[i]
    suffix = SUFFIXES[i]
    if suffix.startswith(".fit"):
        raw = fit_bytes(i)
    elif suffix.startswith(".gpx"):
        raw = write_run_gpx(run, creator="StravaGPX Android")
    else:
        raw = tcx_bytes(run)
    return gzip.compress(raw, mtime=0) if suffix.endswith(".gz") else raw


def strava_date(when: dt.datetime) -> str:
    """English Activity Date: "Mar 3, 2025, 6:42:10 AM" (always quoted: it holds commas)."""
    hour = when.hour % 12 or 12
    return (
        f"{when:%b} {when.day}, {when.year}, {hour}:{when:%M:%S} {'AM' if when.hour < 12 else 'PM'}"
    )


def english_csv(*, with_manual: bool = True) -> str:
    """activities.csv with the 101-column header: five runs, then a manual entry and an #error# row."""
    out = io.StringIO()
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER_101)
    position = {name: [i for i, h in enumerate(HEADER_101) if h == name] for name in HEADER_101}

    def row(values: dict[tuple[str, int], str]) -> list[str]:
        cells = [""] * len(HEADER_101)
        for (name, occurrence), value in values.items():
            cells[position[name][occurrence]] = value
        return cells

    for i, run in enumerate(runs()):
        meters = float(run.distance[-1])
        writer.writerow(
            row(
                {
                    ("Activity ID", 0): STRAVA_IDS[i],
                    ("Activity Date", 0): strava_date(STARTS[i]),
                    ("Activity Name", 0): f"Morning Run past Elm Street {i}\nwith a second line",
                    ("Activity Type", 0): "Run",
                    ("Elapsed Time", 0): str(DURATIONS_S[i] - 1),
                    ("Distance", 0): f"{meters / 1000:.2f}",
                    ("Filename", 0): f"activities/{FILE_NUMBERS[i]}{SUFFIXES[i]}",
                    ("Elapsed Time", 1): f"{DURATIONS_S[i] - 1:.1f}",
                    ("Distance", 1): repr(meters),
                    ("Perceived Exertion", 0): EXERTION[i],
                    ("Commute", 0): "false",
                    ("Commute", 1): "0.0",
                }
            )
        )
    if not with_manual:
        return out.getvalue()
    writer.writerow(
        row(
            {
                ("Activity ID", 0): "13006",
                ("Activity Date", 0): strava_date(MANUAL_START),
                ("Activity Name", 0): "Treadmill at the gym",
                ("Activity Type", 0): "Run",
                ("Elapsed Time", 0): "1800",
                ("Distance", 0): "5.00",
                ("Elapsed Time", 1): "1800.0",
                ("Distance", 1): "5000.0",
                ("Perceived Exertion", 0): "7",
            }
        )
    )
    writer.writerow(
        row(
            {
                ("Activity ID", 0): "13007",
                ("Activity Date", 0): "Mar 16, 2025, 8:00:00\u202fPM",
                ("Activity Type", 0): "Walk",
                ("Elapsed Time", 0): "2400",
                ("Distance", 0): "3.10",
                ("Filename", 0): "#error#",
            }
        )
    )
    return out.getvalue()


GERMAN_CSV = (
    ",".join(GERMAN_HEADER)
    + "\n"
    + '13101,"09.12.2022, 15:24:49",Abendlauf,Lauf,"",3000,"9,44",,,false,"","",\n'
)
"""A German manual entry: localised date and a decimal comma (FORMATS.md 1.2, #86)."""


def strava_zip(
    csv_text: str,
    files: dict[str, bytes],
    *,
    extra: Sequence[tuple[str, bytes]] = (),
    damaged_photo: bool = True,
) -> bytes:
    """A Strava archive: files at the root, as Strava writes them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("profile.csv", "Athlete ID,Email Address,First Name\n1,a@b.c,Alex\n")
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("activities.csv", csv_text)
        archive.writestr("contacts.csv", "Name,Email\nSomebody,someone@example.org\n")
        if damaged_photo:
            archive.writestr("media/4b1c.jpg", b"\xff\xd8" + b"photo" * 2000)
        for name, data in extra:
            archive.writestr(name, data)
    data = bytearray(buffer.getvalue())
    if damaged_photo:  # corrupt the photo's compressed bytes: reading it would raise zip_corrupt
        at = data.find(b"media/4b1c.jpg") + len("media/4b1c.jpg")
        data[at + 10 : at + 20] = b"\x00" * 10
    return bytes(data)


def five_run_files() -> dict[str, bytes]:
    """``activities/<n>.<ext>`` for the five runs."""
    return {
        f"activities/{FILE_NUMBERS[i]}{SUFFIXES[i]}": activity_file(i) for i in range(len(STARTS))
    }


@cache
def strava_archive() -> bytes:
    """The full English archive of the five runs, a manual entry and an #error# row."""
    return strava_zip(english_csv(), five_run_files())


GPX_DISTANCE_REL = 0.03
"""A GPX file carries no distance: the reader measures it from the positions with the GPS jitter
filtered out (``ingest.geo.track_distance_m``), within 3 % of the device's (the FIT/TCX distance)."""


def expected_distance_m(i: int) -> float:
    """What a reader must find for run ``i``: the device distance (measured from the track in GPX)."""
    return float(runs()[i].distance[-1])


def distance_rel(i: int) -> float:
    return GPX_DISTANCE_REL if SUFFIXES[i].startswith(".gpx") else 0.001


def decode(member: MemberFile) -> tuple[dt.datetime, float, str]:
    """(start, distance of the last sample, format) of a member file, via the single-file readers."""
    data = member.data
    if detect_format(data) == "gzip":
        data = gunzip(data, LIMITS)
    fmt = detect_format(data)
    activity = read_activity_file(data, fmt).activities[0]
    samples = activity.samples.drop_nulls("timestamp")
    return samples["timestamp"][0], float(samples["distance_m"].drop_nulls()[-1]), fmt


# -- detection ----------------------------------------------------------------------------------


def test_a_strava_archive_is_recognised_by_content_under_any_name() -> None:
    assert detect_export(open_checked_zip(strava_archive(), LIMITS)) == "strava"


def test_a_zip_of_plain_activity_files_is_no_export() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("run.fit", fit_bytes(0))
        archive.writestr("notes/activities.csv", "Activity ID,Activity Date\n")
    assert detect_export(open_checked_zip(buffer.getvalue(), LIMITS)) is None


# -- activities.csv -------------------------------------------------------------------------------


def test_duplicated_columns_are_taken_by_position() -> None:
    rows = parse_activities_csv(english_csv().encode())
    first = rows[0]
    assert first.activity_id == "13001"
    assert first.start_utc == STARTS[0]
    assert first.type == "Run"
    # the second "Distance" column (metres) wins over the first (km, 2 dp)
    assert first.distance_m == pytest.approx(float(runs()[0].distance[-1]))
    assert first.elapsed_s == DURATIONS_S[0] - 1
    assert first.perceived_exertion == 6.0
    assert first.filename == "activities/14001.fit.gz"
    assert first.name is not None
    assert "\n" in first.name  # a raw newline inside quotes survived
    assert [r.activity_id for r in rows] == [*STRAVA_IDS, "13006", "13007"]


def test_localised_header_date_and_decimal_comma() -> None:
    (row,) = parse_activities_csv(GERMAN_CSV.encode())
    assert row.activity_id == "13101"
    assert row.start_utc == dt.datetime(2022, 12, 9, 15, 24, 49, tzinfo=dt.UTC)
    assert row.distance_m == pytest.approx(9440.0)
    assert row.elapsed_s == 3000.0
    assert row.type == "Lauf"
    assert row.filename is None


def test_old_2018_header_has_distance_in_metres() -> None:
    text = "id,date,name,type,description,elapsed_time,distance,commute,gear,filename\n"
    text += "1836776031,2018-09-12 15:02:23,Run,Run,,1500,4321.5,false,,activities/1836776031.gpx\n"
    (row,) = parse_activities_csv(text.encode())
    assert (row.start_utc, row.distance_m, row.filename) == (
        dt.datetime(2018, 9, 12, 15, 2, 23, tzinfo=dt.UTC),
        4321.5,
        "activities/1836776031.gpx",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mar 4, 2025, 6:42:10 AM", dt.datetime(2025, 3, 4, 6, 42, 10, tzinfo=dt.UTC)),
        ("Sep 12, 2018, 3:02:23 PM", dt.datetime(2018, 9, 12, 15, 2, 23, tzinfo=dt.UTC)),
        ("Mar 16, 2025, 8:00:00\u202fPM", dt.datetime(2025, 3, 16, 20, 0, 0, tzinfo=dt.UTC)),
        ("09.12.2022, 15:24:49", dt.datetime(2022, 12, 9, 15, 24, 49, tzinfo=dt.UTC)),
        ("yesterday", None),
    ],
)
def test_activity_dates(text: str, expected: dt.datetime | None) -> None:
    assert parse_strava_date(text) == expected


def test_an_unknown_header_is_refused_with_a_reason() -> None:
    with pytest.raises(CorruptFile) as caught:
        parse_activities_csv(b"Foo,Bar\n1,2\n")
    assert caught.value.reason_code == "strava_index_invalid"


# -- the archive ----------------------------------------------------------------------------------


def test_every_referenced_file_is_yielded_with_its_strava_metadata() -> None:
    items = list(iter_export(open_checked_zip(strava_archive(), LIMITS), "strava"))
    files = [i for i in items if isinstance(i, MemberFile)]
    assert [f.name for f in files] == list(five_run_files())
    assert [f.meta.source_activity_id for f in files] == list(STRAVA_IDS)
    assert [f.meta.perceived_exertion for f in files] == [6.0, None, 4.0, None, None]
    assert {f.meta.source_kind for f in files} == {"strava"}
    assert {f.meta.source_type for f in files} == {"Run"}
    for i, member in enumerate(files):
        start, distance, fmt = decode(member)
        assert start == STARTS[i]
        assert fmt == ("fit", "gpx", "gpx", "tcx", "tcx")[i]  # the leading-space TCX reads
        assert distance == pytest.approx(expected_distance_m(i), rel=distance_rel(i))


def test_manual_and_error_rows_become_activities_without_samples() -> None:
    items = list(iter_export(open_checked_zip(strava_archive(), LIMITS), "strava"))
    manual = [i for i in items if isinstance(i, DecodedSource)]
    assert len(manual) == 2
    treadmill, walk = (m.parsed.activities[0] for m in manual)
    assert treadmill.samples.height == 0
    assert treadmill.meta["start_utc"] == MANUAL_START
    assert (treadmill.meta["total_elapsed_s"], treadmill.meta["total_distance_m"]) == (
        1800.0,
        5000.0,
    )
    assert treadmill.meta["sport"] == "running"
    assert manual[0].metas[0].perceived_exertion == 7.0
    assert walk.meta["sport"] == "walking"
    assert walk.meta["total_distance_m"] == pytest.approx(3100.0)
    assert walk.meta["start_utc"] == dt.datetime(2025, 3, 16, 20, 0, tzinfo=dt.UTC)
    assert {m.parsed.source_format for m in manual} == {"manual"}
    # identities are stable: the same row in a later archive has the same one
    again = [i for i in iter_export(open_checked_zip(strava_archive(), LIMITS), "strava")]
    assert [m.sha256 for m in manual] == [i.sha256 for i in again if isinstance(i, DecodedSource)]


def test_a_file_missing_from_the_archive_keeps_the_row_flagged() -> None:
    files = five_run_files()
    del files["activities/14003.gpx.gz"]
    items = list(iter_export(open_checked_zip(strava_zip(english_csv(), files), LIMITS), "strava"))
    missing = [
        i
        for i in items
        if isinstance(i, DecodedSource) and i.metas[0].source_activity_id == "13003"
    ]
    assert len(missing) == 1
    activity = missing[0].parsed.activities[0]
    assert activity.meta["flags"] == {"source_file_missing"}
    assert activity.meta["start_utc"] == STARTS[2]


def test_photos_and_contacts_are_never_read() -> None:
    # the photo member is damaged: reading it would raise zip_corrupt
    items = list(iter_export(open_checked_zip(strava_archive(), LIMITS), "strava"))
    assert len(items) == 7


def test_a_traversal_member_refuses_the_whole_archive() -> None:
    data = strava_zip(english_csv(), five_run_files(), extra=[("../../etc/cron.d/x", b"boom")])
    with pytest.raises(UnsafeInput) as caught:
        open_checked_zip(data, LIMITS)
    assert caught.value.reason_code == "archive_unsafe_path"


def test_a_bomb_inside_the_archive_is_stopped() -> None:
    files = five_run_files()
    files["activities/14001.fit.gz"] = b"\x00" * (8 << 20)  # compresses ~1000x
    checked = open_checked_zip(strava_zip(english_csv(), files, damaged_photo=False), LIMITS)
    with pytest.raises(UnsafeInput) as caught:
        list(iter_export(checked, "strava"))
    assert caught.value.reason_code == "archive_too_large"
