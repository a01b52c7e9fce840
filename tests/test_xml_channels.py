"""GPX/TCX channels, distance and derived values (issue 16, item 4 and item 2's derived values).

Each class of defect is pinned on a real corpus file where one shows it, else on a file built with
the project's GPX writer (``synthetic.gpx_writer``) or, for TCX (the project has no TCX writer), a
small document written here. Expected values are read from the same bytes with lxml, an XML parser
the readers do not use; heart rates are rounded half up by hand (``floor(x + 0.5)``); device
distances are the file's own (``DistanceMeters``, ``gpxdata:distance``, Holux ``tripdist``) or the
simulator's ground truth (what the FIT writer records). Never the output of the code under test.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from lxml import etree

from ingest.frames import ParsedFile
from ingest.geo import cumulative_distance_m, track_distance_m
from ingest.gpx import read_gpx
from ingest.gpx_fast import read_gpx_auto, read_gpx_fast
from ingest.parse import parse_file
from ingest.tcx import read_tcx
from schemas.errors import NotAnActivity
from synthetic.gpx_writer import TrackPoint, encode_gpx
from synthetic.run_model import simulate_run, write_run_gpx
from tests.conftest import CORPUS, require_corpus

T0 = dt.datetime(2024, 3, 2, 7, 0, 0, tzinfo=dt.UTC)

GPX_READERS: list[Callable[[bytes], ParsedFile]] = [read_gpx, read_gpx_fast]
"""Both GPX paths: what one reads, the other must read the same."""
GPX_IDS = ["gpxpy", "stream"]


# -- lxml, the independent reader ------------------------------------------------------------------


def _local(tag: object) -> str:
    """Local name of an lxml tag; a tag with an undeclared prefix keeps it in recover mode."""
    return str(tag).rsplit("}", 1)[-1].rsplit(":", 1)[-1] if isinstance(tag, str) else ""


def lxml_points(data: bytes, point: str) -> list[etree._Element]:
    """Every ``point`` element (``trkpt``, ``Trackpoint``), parsed by lxml in recover mode."""
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(data.lstrip(b"\xef\xbb\xbf").lstrip(), parser)
    return [element for element in root.iter() if _local(element.tag) == point]


def lxml_text(element: etree._Element, name: str) -> str | None:
    """Text of the first descendant of ``element`` with local name ``name``."""
    for child in element.iter():
        if child is not element and _local(child.tag) == name:
            return None if child.text is None else child.text.strip()
    return None


def half_up(text: str) -> int:
    return math.floor(float(text) + 0.5)


def added_bytes(name: str) -> bytes:
    require_corpus()
    path: Path = CORPUS / "added" / "files" / name
    if not path.is_file():
        pytest.skip(f"{name} is not in ../shared/corpus/added/files")
    return path.read_bytes()


def points(n: int, **values: list[float | None]) -> list[TrackPoint]:
    """``n`` points 1 s and about 3 m apart, going north, with the given sensor values."""
    return [
        TrackPoint(
            T0 + dt.timedelta(seconds=i),
            45.0 + i * 0.000027,
            7.0,
            200.0,
            **{field: column[i] for field, column in values.items()},  # type: ignore[arg-type]
        )
        for i in range(n)
    ]


# -- GPX extension shapes, both readers ------------------------------------------------------------


@pytest.mark.parametrize("read", GPX_READERS, ids=GPX_IDS)
def test_gpx_power_extension_is_read(read: Callable[[bytes], ParsedFile]) -> None:
    """Issue 16: ``PowerInWatts`` (Garmin power extension) was not read."""
    data = encode_gpx(
        points(4, hr=[120, 121, None, 123], power=[250, 0, 310, None]), activity_type="cycling"
    )
    samples = read(data).activities[0].samples
    expected = [lxml_text(p, "PowerInWatts") for p in lxml_points(data, "trkpt")]
    assert samples["power_w"].to_list() == [None if t is None else float(t) for t in expected]
    assert samples["hr_bpm"].to_list() == [
        None if (t := lxml_text(p, "hr")) is None else int(t) for p in lxml_points(data, "trkpt")
    ]


@pytest.mark.parametrize("read", GPX_READERS, ids=GPX_IDS)
def test_gpxdata_fractional_heart_rate_is_rounded_not_truncated(
    read: Callable[[bytes], ParsedFile],
) -> None:
    """Issue 16: fractional ``gpxdata:hr`` (Movescount/Suunto) was truncated."""
    data = encode_gpx(
        points(
            4, hr=[140.5, 141.49, 139.7, 150.0], cad=[80, 81, 82, 83], temp=[21.5, 21.0, 20.5, 20]
        ),
        extensions="gpxdata",
    )
    trkpts = lxml_points(data, "trkpt")
    texts = [lxml_text(p, "hr") for p in trkpts]
    expected = [half_up(t) for t in texts if t is not None]
    assert expected != [int(float(t)) for t in texts if t is not None]  # truncation would differ
    samples = read(data).activities[0].samples
    assert samples["hr_bpm"].to_list() == expected
    assert samples["cadence_rpm"].to_list() == [
        float(lxml_text(p, "cadence") or "") for p in trkpts
    ]
    assert samples["temperature_c"].to_list() == [float(lxml_text(p, "temp") or "") for p in trkpts]


@pytest.mark.parametrize("read", GPX_READERS, ids=GPX_IDS)
def test_gpx_10_extensions_are_read(read: Callable[[bytes], ParsedFile]) -> None:
    """Issue 16: GPX 1.0 files were read without their extensions (gpxpy keeps none for 1.0)."""
    data = encode_gpx(points(3, hr=[130, 131, 132], cad=[88, 89, 90]), version="1.0")
    trkpts = lxml_points(data, "trkpt")
    samples = read(data).activities[0].samples
    assert samples.height == len(trkpts) == 3
    assert samples["hr_bpm"].to_list() == [int(lxml_text(p, "hr") or "") for p in trkpts]
    assert samples["cadence_rpm"].to_list() == [float(lxml_text(p, "cad") or "") for p in trkpts]


GPX_10_WRAPPED = b"""<?xml version="1.0"?>
<gpx version="1.0" creator="hand" xmlns="http://www.topografix.com/GPX/1/0">
<trk><trkseg>
<trkpt lat="45.0" lon="7.0"><time>2024-03-02T07:00:00Z</time>
<extensions><heartrate>101.5</heartrate><power>180</power></extensions></trkpt>
<trkpt lat="45.0001" lon="7.0"><time>2024-03-02T07:00:05Z</time>
<extensions><heartrate>102.4</heartrate><power>185</power></extensions></trkpt>
</trkseg></trk></gpx>"""
"""GPX 1.0 with an ``<extensions>`` element all the same and namespace-less elements in it."""


@pytest.mark.parametrize("read", GPX_READERS, ids=GPX_IDS)
def test_gpx_10_extensions_element_is_read(read: Callable[[bytes], ParsedFile]) -> None:
    trkpts = lxml_points(GPX_10_WRAPPED, "trkpt")
    samples = read(GPX_10_WRAPPED).activities[0].samples
    assert samples["hr_bpm"].to_list() == [half_up(lxml_text(p, "heartrate") or "") for p in trkpts]
    assert samples["power_w"].to_list() == [float(lxml_text(p, "power") or "") for p in trkpts]


@pytest.mark.parametrize("read", GPX_READERS, ids=GPX_IDS)
def test_gpx_tpx_v2_values_are_read(read: Callable[[bytes], ParsedFile]) -> None:
    data = encode_gpx(points(3, hr=[99, 100, 101], temp=[5.5, 6.0, 6.5]), extensions="gpxtpx-v2")
    assert b"TrackPointExtension/v2" in data
    trkpts = lxml_points(data, "trkpt")
    samples = read(data).activities[0].samples
    assert samples["hr_bpm"].to_list() == [int(lxml_text(p, "hr") or "") for p in trkpts]
    assert samples["temperature_c"].to_list() == [
        float(lxml_text(p, "atemp") or "") for p in trkpts
    ]


# -- GPX on real files -------------------------------------------------------------------------------


@pytest.mark.corpus
def test_namespace_less_holux_heart_rate_and_cadence() -> None:
    """HOLUX GM-130: ``<bpm>``/``<rpm>`` without a namespace; heart rate was not read at all."""
    data = added_bytes("sportstracker__bike-tour-holux-funtrek-130-pro-with-heartrate.gpx")
    trkpts = lxml_points(data, "trkpt")
    samples = read_gpx_auto(data).activities[0].samples
    assert samples.height == len(trkpts) == 2345
    hr = [lxml_text(p, "bpm") for p in trkpts]
    cad = [lxml_text(p, "rpm") for p in trkpts]
    assert samples["hr_bpm"].to_list() == [None if t is None else half_up(t) for t in hr]
    assert samples["cadence_rpm"].to_list() == [None if t is None else float(t) for t in cad]
    assert samples["hr_bpm"].null_count() == sum(t is None for t in hr) == 0


@pytest.mark.corpus
def test_gpxdata_distance_is_the_files_own() -> None:
    """Movescount (Suunto Ambit): ``gpxdata:distance`` is used, not positions."""
    data = added_bytes("goldencheetah__Move_2014_01_16_19_48_44.gpx")
    trkpts = lxml_points(data, "trkpt")
    samples = read_gpx_auto(data).activities[0].samples
    assert samples.height == len(trkpts) == 669
    assert samples["distance_m"].to_list() == [
        float(lxml_text(p, "distance") or "") for p in trkpts
    ]
    assert samples["temperature_c"].to_list() == [float(lxml_text(p, "temp") or "") for p in trkpts]
    assert (samples["speed_mps"].drop_nulls() >= 0).all()


@pytest.mark.corpus
def test_undeclared_namespace_prefix_is_read_with_it_declared() -> None:
    """Strava converter export using ``gpxdata:`` without declaring it was quarantined whole."""
    data = added_bytes("sports-lib__6037744996.gpx")
    trkpts = lxml_points(data, "trkpt")  # lxml's recover mode reads past the unbound prefix
    parsed = read_gpx_auto(data)
    samples = parsed.activities[0].samples
    assert samples.height == len(trkpts) == 4040
    assert samples["cadence_rpm"].to_list() == [
        float(lxml_text(p, "cadence") or "") for p in trkpts
    ]
    assert "gpxdata" in parsed.warnings[0]


# -- TCX ---------------------------------------------------------------------------------------------

TCX_NS = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"


def _tcx_point(seconds: int, distance: float | None, hr: float, *, lat: float | None = None) -> str:
    when = (T0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    position = (
        ""
        if lat is None
        else f"<Position><LatitudeDegrees>{lat}</LatitudeDegrees>"
        f"<LongitudeDegrees>7.0</LongitudeDegrees></Position>"
    )
    dist = "" if distance is None else f"<DistanceMeters>{distance}</DistanceMeters>"
    return (
        f"<Trackpoint><Time>{when}</Time>{position}{dist}"
        f"<HeartRateBpm><Value>{hr}</Value></HeartRateBpm></Trackpoint>"
    )


def _tcx_activity(sport: str, start_s: int, distances: list[float]) -> str:
    start = (T0 + dt.timedelta(seconds=start_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = "".join(_tcx_point(start_s + i, d, 140 + i) for i, d in enumerate(distances))
    return (
        f'<Activity Sport="{sport}"><Id>{start}</Id><Lap StartTime="{start}">'
        f"<TotalTimeSeconds>{len(distances) - 1}</TotalTimeSeconds><Track>{body}</Track></Lap>"
        "</Activity>"
    )


def _tcx(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><TrainingCenterDatabase xmlns="{TCX_NS}">'
        f"{body}</TrainingCenterDatabase>"
    ).encode()


STEPPING_BACK = [0.0, 3.1, 6.0, 5.8, 9.2, 12.0, 11.2, 15.0, 18.1, 21.0]
"""A cumulative distance that steps back by 0.2 and 0.8 m (a device correcting itself)."""

MULTI_ACTIVITY_TCX = _tcx(
    "<Activities>"
    + _tcx_activity("Running", 0, [3.0 * i for i in range(10)])
    + _tcx_activity("Biking", 3600, STEPPING_BACK)
    + _tcx_activity("Running", 7200, [2.9 * i for i in range(10)])
    + _tcx_activity("Biking", 10800, [7.0 * i for i in range(10)])
    + "</Activities>"
)


def test_tcx_stepping_back_distance_gives_no_negative_speed() -> None:
    """Issue 16: a multi-activity TCX whose distance steps back lost all four workouts."""
    activities = read_tcx(MULTI_ACTIVITY_TCX).activities
    per_activity = [
        [lxml_text(p, "DistanceMeters") for p in lxml_points(etree.tostring(a), "Trackpoint")]
        for a in lxml_points(MULTI_ACTIVITY_TCX, "Activity")
    ]
    assert [a.samples.height for a in activities] == [len(d) for d in per_activity] == [10] * 4
    for activity, distances in zip(activities, per_activity, strict=True):
        assert activity.samples["distance_m"].to_list() == [float(d or "") for d in distances]
        assert (activity.samples["speed_mps"].drop_nulls() >= 0).all()
    back = [i for i in range(1, 10) if STEPPING_BACK[i] < STEPPING_BACK[i - 1]]
    speeds = activities[1].samples["speed_mps"].to_list()
    assert [speeds[i] for i in back] == [None, None]


def test_tcx_stepping_back_distance_file_is_ingested_whole() -> None:
    result = parse_file(MULTI_ACTIVITY_TCX, client_id="client-under-test")
    assert result.outcome == "ingested", (result.reason_code, result.detail)
    assert result.activities.height == len(lxml_points(MULTI_ACTIVITY_TCX, "Activity")) == 4
    assert result.samples.height == len(lxml_points(MULTI_ACTIVITY_TCX, "Trackpoint")) == 40


def test_tcx_activity_without_timed_points_does_not_take_the_others() -> None:
    untimed = (
        '<Activity Sport="Running"><Id>x</Id><Lap StartTime="x"><Track></Track></Lap></Activity>'
    )
    data = _tcx(
        "<Activities>" + _tcx_activity("Running", 0, [0.0, 3.0]) + untimed + "</Activities>"
    )
    parsed = read_tcx(data)
    assert len(parsed.activities) == 1
    assert parsed.activities[0].samples.height == len(lxml_points(data, "Trackpoint")) == 2
    assert parsed.warnings == ["1 activit(ies) or course(s) without timed track points skipped"]


def _course(timed: bool) -> bytes:
    body = "".join(
        _tcx_point(i * 2, 6.0 * i, 130.6 + i, lat=45.0 + i * 0.000054)
        if timed
        else _tcx_point(0, 6.0 * i, 130, lat=45.0 + i * 0.000054).replace(
            f"<Time>{T0:%Y-%m-%dT%H:%M:%SZ}</Time>", ""
        )
        for i in range(12)
    )
    return _tcx(
        "<Courses><Course><Name>Saturday ride</Name><Lap><TotalTimeSeconds>22</TotalTimeSeconds>"
        f"<DistanceMeters>66</DistanceMeters></Lap><Track>{body}</Track></Course></Courses>"
    )


def test_tcx_course_with_timed_points_is_a_workout() -> None:
    """Issue 16: a ride saved as a TCX course (1,205 timed points) was skipped."""
    data = _course(timed=True)
    trackpoints = lxml_points(data, "Trackpoint")
    timed = [p for p in trackpoints if lxml_text(p, "Time")]
    parsed = read_tcx(data)
    assert len(parsed.activities) == 1
    samples = parsed.activities[0].samples
    assert samples.height == len(timed) == 12
    assert samples["hr_bpm"].to_list() == [half_up(lxml_text(p, "Value") or "") for p in timed]
    assert samples["distance_m"].to_list() == [
        float(lxml_text(p, "DistanceMeters") or "") for p in timed
    ]
    assert "tcx_course" in parsed.activities[0].meta["flags"]


def test_tcx_course_without_times_is_a_planned_route() -> None:
    data = _course(timed=False)
    assert not any(lxml_text(p, "Time") for p in lxml_points(data, "Trackpoint"))
    with pytest.raises(NotAnActivity):
        read_tcx(data)


# -- distance from positions -------------------------------------------------------------------------


def test_gpx_distance_from_jittery_positions_is_within_3_percent_of_the_fit_distance() -> None:
    """Issue 16: the demo's GPX runs measured 15-39 % longer than FIT files of the same run.

    The simulator lays the route with 1 m of GPS noise per axis at 1 Hz; its FIT files record the
    true distance. Unfiltered, the positions add the noise (asserted, so the check can fail).
    """
    run = simulate_run(
        T0, duration_s=900, intensity="easy", hr_rest=55, hr_max=185, home=(51.5, -0.12), seed=7
    )
    fit_distance = float(run.distance[-1])
    samples = read_gpx_auto(write_run_gpx(run)).activities[0].samples
    unfiltered = samples.select(cumulative_distance_m(pl.col("lat_deg"), pl.col("lon_deg")))
    assert unfiltered[-1, 0] > fit_distance * 1.10
    assert samples["distance_m"].max() == pytest.approx(fit_distance, rel=0.03)
    assert (samples["distance_m"].diff().drop_nulls() >= 0).all()


DEVICE_DISTANCE_FILES: dict[str, str] = {
    # file (files/ or added/files/) -> where its device distance stands
    "sweatpy__3173437224.tcx": "DistanceMeters",
    "tcxparser__test.tcx": "DistanceMeters",
    "tcxparser__sup_activity_1.tcx": "DistanceMeters",
    "togeojson__tour_hr.tcx": "DistanceMeters",
    "goldencheetah__10kUNLP2014-Garmin15.tcx": "DistanceMeters",
    "sports-lib__6281425038.tcx": "DistanceMeters",
    "goldencheetah__Move_2014_01_16_19_48_44.gpx": "distance",
    "sportstracker__bike-tour-holux-funtrek-130-pro-with-heartrate.gpx": "tripdist",
}
"""Real files carrying positions and the device's own distance, where the two measure the same path.

Left out, measured and explained in the README ("Distance from GPS"): three rides whose device
distance differs from the GPS path at every speed alike (a wheel sensor or the app's own filter:
sweatpy__activity_5039744860 +34 %, togeojson__garmin_connect +4 %, tcxreader__mapmyride +10 %),
and sports-lib__unknown_example.tcx, whose trackpoints cover only part of its laps.
"""


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(DEVICE_DISTANCE_FILES))
def test_distance_from_positions_is_within_3_percent_of_the_devices(name: str) -> None:
    require_corpus()
    path = CORPUS / "files" / name
    data = path.read_bytes() if path.is_file() else added_bytes(name)
    where = DEVICE_DISTANCE_FILES[name]
    gpx = name.endswith(".gpx")
    rows = []
    for p in lxml_points(data, "trkpt" if gpx else "Trackpoint"):
        lat = p.get("lat") if gpx else lxml_text(p, "LatitudeDegrees")
        lon = p.get("lon") if gpx else lxml_text(p, "LongitudeDegrees")
        time = lxml_text(p, "time" if gpx else "Time")
        if lat is None or lon is None or time is None:
            continue
        own = lxml_text(p, where) if where != "tripdist" else None
        rows.append((dt.datetime.fromisoformat(time.replace("Z", "+00:00")), lat, lon, own))
    if where == "tripdist":
        device = float(lxml_text(lxml_points(data, "trk")[0], "tripdist") or "")
    else:
        own_distances = [float(row[3]) for row in rows if row[3] is not None]
        device = own_distances[-1] - own_distances[0]
    seconds = [(row[0] - rows[0][0]).total_seconds() for row in rows]
    measured = track_distance_m(
        pl.Series([float(r[1]) for r in rows]),
        pl.Series([float(r[2]) for r in rows]),
        pl.Series(seconds),
    )
    assert measured[-1] == pytest.approx(device, rel=0.03)


OTHER_DISTANCE_GPX = b"""<?xml version="1.0"?>
<gpx version="1.1" creator="hand" xmlns="http://www.topografix.com/GPX/1/1" xmlns:v="urn:vendor">
<trk><trkseg>
<trkpt lat="45.0" lon="7.0"><time>2024-03-02T07:00:00Z</time>
<extensions><v:distance>0</v:distance></extensions></trkpt>
<trkpt lat="45.0009" lon="7.0"><time>2024-03-02T07:00:30Z</time>
<extensions><v:distance>7</v:distance></extensions></trkpt>
</trkseg></trk></gpx>"""
"""A vendor ``distance`` that is not gpxdata's cumulative distance (here a step of 7 m)."""


@pytest.mark.parametrize("read", GPX_READERS, ids=GPX_IDS)
def test_only_gpxdata_distance_is_taken_as_the_files_distance(
    read: Callable[[bytes], ParsedFile],
) -> None:
    samples = read(OTHER_DISTANCE_GPX).activities[0].samples
    # 0.0009 degrees of latitude along a meridian: 0.0009 * pi / 180 * 6 371 008.8 m = 100.08 m
    assert samples["distance_m"].to_list() == pytest.approx([0.0, 100.08], abs=0.01)
