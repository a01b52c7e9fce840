"""Apple Health exports built here as the Health app writes them (FORMATS.md 4).

The export has its real-style internal DTD (head and tail quoted in FORMATS.md 4.2), a localised
file name (Norwegian ``eksport.xml``), local times with explicit offsets, workout statistics in the
phone's units, a route followed through ``FileReference`` and a broken ``export_cda.xml``.
Expected values are the literals written here and the simulator's arrays.
"""

from __future__ import annotations

import datetime as dt
import io
import tracemalloc
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from functools import cache

import pytest

from ingest.archive import ArchiveLimits
from ingest.exports import DecodedSource, detect_export, iter_export, open_checked_zip
from ingest.exports.apple_health import read_health_xml
from schemas.errors import CorruptFile, UnsafeInput
from synthetic.run_model import SimulatedRun, simulate_run, write_run_gpx
from tests.test_exports_strava import GPX_DISTANCE_REL

LIMITS = ArchiveLimits()

DTD = """<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 14 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary|ClinicalRecord|Audiogram|\
VisionPrescription)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
<!ELEMENT ExportDate EMPTY>
<!ATTLIST ExportDate
  value CDATA #REQUIRED
>
<!ELEMENT Me EMPTY>
<!ATTLIST Me
  HKCharacteristicTypeIdentifierDateOfBirth                   CDATA #REQUIRED
  HKCharacteristicTypeIdentifierBiologicalSex                 CDATA #REQUIRED
  HKCharacteristicTypeIdentifierBloodType                     CDATA #REQUIRED
  HKCharacteristicTypeIdentifierFitzpatrickSkinType           CDATA #REQUIRED
  HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse   CDATA #REQUIRED
>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record
  type          CDATA #REQUIRED
  unit          CDATA #IMPLIED
  value         CDATA #IMPLIED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!-- Note: Any Records that appear as children of a correlation also appear as top-level records in this document. -->
<!ELEMENT Correlation ((MetadataEntry|Record)*)>
<!ELEMENT Workout ((MetadataEntry|WorkoutEvent|WorkoutRoute|WorkoutStatistics)*)>
<!ELEMENT WorkoutStatistics EMPTY>
<!ELEMENT WorkoutRoute ((MetadataEntry|FileReference)*)>
<!ELEMENT FileReference EMPTY>
<!ATTLIST FileReference
  path CDATA #REQUIRED
>
<!ELEMENT MetadataEntry EMPTY>
<!ELEMENT Attachment EMPTY>
<!ATTLIST Attachment
  identifier       CDATA #IMPLIED
>
]>
"""
"""A v14-style internal DTD: only ELEMENT, ATTLIST and comments (FORMATS.md 4.2)."""

BROKEN_DTD = DTD.replace("  locale CDATA #REQUIRED\n>", "  locale CDATA #REQUIRED\n", 1)
"""iOS 16's defect: an ATTLIST without its closing ``>`` (FORMATS.md 4.2, Known breakage)."""

OFFSET = dt.timezone(dt.timedelta(hours=1))
ROUTE_START = dt.datetime(2025, 3, 3, 6, 42, 10, tzinfo=dt.UTC)
"""Start of the workout with a route: 07:42:10 +0100 on the phone."""
ROUTE_SECONDS = 600
PLAIN_START = dt.datetime(2025, 3, 6, 17, 0, 0, tzinfo=dt.UTC)
WALK_START = dt.datetime(2025, 3, 8, 9, 30, 0, tzinfo=dt.UTC)
ROUTE_FILE = "/workout-routes/route_2025-03-03_7.52am.gpx"
DEVICE = "&lt;&lt;HKDevice: 0x280cc1a90&gt;, name:Apple Watch, manufacturer:Apple Inc.&gt;"
SOURCE = "Kari’s Apple Watch"


def local(when: dt.datetime) -> str:
    """Apple's date format in the phone's offset: ``2025-03-03 07:42:10 +0100``."""
    return when.astimezone(OFFSET).strftime("%Y-%m-%d %H:%M:%S %z")


@cache
def route_run() -> SimulatedRun:
    return simulate_run(
        ROUTE_START,
        duration_s=ROUTE_SECONDS,
        intensity="easy",
        hr_rest=55,
        hr_max=188,
        home=(59.91, 10.75),
        seed=7,
    )


def hr_record(when: dt.datetime, bpm: int) -> str:
    return (
        f'<Record type="HKQuantityTypeIdentifierHeartRate" sourceName="{SOURCE}" sourceVersion="11.3" '
        f'device="{DEVICE}" unit="count/min" creationDate="{local(when)}" startDate="{local(when)}" '
        f'endDate="{local(when)}" value="{bpm}">'
        '<MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="2"/></Record>\n'
    )


HR_IN_ROUTE = tuple(
    (ROUTE_START + dt.timedelta(seconds=5 * k), 120 + k % 30) for k in range(0, 120)
)
"""Every 5 s through the 600 s workout: 120 readings (the last at 595 s)."""
HR_OUTSIDE = (
    (ROUTE_START - dt.timedelta(minutes=10), 61),
    (ROUTE_START + dt.timedelta(seconds=ROUTE_SECONDS + 60), 95),
)
HR_IN_PLAIN = (
    (PLAIN_START + dt.timedelta(minutes=1), 140),
    (PLAIN_START + dt.timedelta(minutes=2), 150),
)


def workouts_xml() -> str:
    route_end = ROUTE_START + dt.timedelta(seconds=ROUTE_SECONDS - 1)
    plain_end = PLAIN_START + dt.timedelta(minutes=30)
    walk_end = WALK_START + dt.timedelta(minutes=40)
    ride = PLAIN_START + dt.timedelta(days=1)
    return (
        f'<Workout workoutActivityType="HKWorkoutActivityTypeRunning" duration="{(ROUTE_SECONDS - 1) / 60}" '
        f'durationUnit="min" sourceName="{SOURCE}" sourceVersion="11.3" creationDate="{local(route_end)}" '
        f'startDate="{local(ROUTE_START)}" endDate="{local(route_end)}">\n'
        '<MetadataEntry key="HKIndoorWorkout" value="0"/>\n'
        '<MetadataEntry key="HKWeatherHumidity" value="1500 %"/>\n'
        f'<WorkoutEvent type="HKWorkoutEventTypeSegment" date="{local(ROUTE_START)}" '
        'duration="5" durationUnit="min"/>\n'
        '<WorkoutStatistics type="HKQuantityTypeIdentifierDistanceWalkingRunning" '
        f'startDate="{local(ROUTE_START)}" endDate="{local(route_end)}" sum="1.6" unit="km"/>\n'
        '<WorkoutRoute sourceName="Kari’s Apple Watch" sourceVersion="11.3">\n'
        '<MetadataEntry key="HKMetadataKeySyncVersion" value="2"/>\n'
        f'<FileReference path="{ROUTE_FILE}"/>\n</WorkoutRoute>\n</Workout>\n'
        f'<Workout workoutActivityType="HKWorkoutActivityTypeRunning" duration="30" durationUnit="min" '
        f'sourceName="{SOURCE}" startDate="{local(PLAIN_START)}" endDate="{local(plain_end)}">\n'
        '<MetadataEntry key="HKIndoorWorkout" value="1"/>\n'
        '<WorkoutStatistics type="HKQuantityTypeIdentifierDistanceWalkingRunning" sum="3.1" unit="mi"/>\n'
        "</Workout>\n"
        f'<Workout workoutActivityType="HKWorkoutActivityTypeWalking" duration="40" durationUnit="min" '
        f'totalDistance="2.75" totalDistanceUnit="km" sourceName="{SOURCE}" '
        f'startDate="{local(WALK_START)}" endDate="{local(walk_end)}"/>\n'
        f'<Workout workoutActivityType="HKWorkoutActivityTypeCycling" duration="60" durationUnit="min" '
        f'sourceName="{SOURCE}" startDate="{local(ride)}" endDate="{local(ride + dt.timedelta(hours=1))}"/>\n'
    )


def health_xml(
    *, dtd: str = DTD, records: Sequence[tuple[dt.datetime, int]] | None = None, junk: str = ""
) -> bytes:
    """``export.xml``: declaration, DTD, ExportDate, Me, Records (grouped first), Workouts."""
    readings = [*HR_OUTSIDE, *HR_IN_ROUTE, *HR_IN_PLAIN] if records is None else records
    body = "".join(hr_record(t, b) for t, b in readings)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + dtd + '<HealthData locale="nb_NO">\n'
        ' <ExportDate value="2025-03-20 19:02:11 +0100"/>\n'
        ' <Me HKCharacteristicTypeIdentifierDateOfBirth="" '
        'HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexFemale" '
        'HKCharacteristicTypeIdentifierBloodType="HKBloodTypeNotSet" '
        'HKCharacteristicTypeIdentifierFitzpatrickSkinType="HKFitzpatrickSkinTypeNotSet" '
        'HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse="None"/>\n'
        + junk
        + body
        + workouts_xml()
        + "</HealthData>\n"
    ).encode()


def apple_zip(xml: bytes, *, xml_name: str = "eksport.xml", route: bool = True) -> bytes:
    """``eksport.zip`` as a Norwegian phone writes it, with a two-root ``export_cda.xml``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"apple_health_export/{xml_name}", xml)
        archive.writestr(
            "apple_health_export/export_cda.xml",
            '<?xml version="1.0"?><ClinicalDocument/><ClinicalDocument/>',
        )
        if route:
            gpx = write_run_gpx(route_run(), creator="Apple Health Export", with_hr=False)
            archive.writestr("apple_health_export" + ROUTE_FILE, gpx)
    return buffer.getvalue()


def workouts_of(data: bytes) -> list[DecodedSource]:
    checked = open_checked_zip(data, LIMITS)
    assert detect_export(checked) == "apple_health"
    items = list(iter_export(checked, "apple_health"))
    assert all(isinstance(i, DecodedSource) for i in items)
    return items  # type: ignore[return-value]


def test_localised_export_is_recognised_and_its_workouts_read() -> None:
    workouts = workouts_of(apple_zip(health_xml()))
    assert len(workouts) == 3  # two runs and a walk; the ride is left out
    activities = [w.parsed.activities[0] for w in workouts]
    assert [a.meta["sport"] for a in activities] == ["running", "running", "walking"]
    assert [a.meta["start_utc"] for a in activities] == [ROUTE_START, PLAIN_START, WALK_START]
    assert [w.metas[0].source_kind for w in workouts] == ["apple"] * 3
    assert {w.parsed.source_format for w in workouts} == {"apple_health"}
    # statistics in the phone's units: 1.6 km, 3.1 mi = 4988.9664 m, 2.75 km (old attribute)
    assert [a.meta["total_distance_m"] for a in activities] == pytest.approx(
        [1600.0, 4988.9664, 2750.0]
    )
    assert [a.meta["total_elapsed_s"] for a in activities] == pytest.approx([599.0, 1800.0, 2400.0])
    assert activities[1].meta["flags"] == {"indoor"}


def test_route_and_heart_rate_inside_the_window_become_samples() -> None:
    route, plain, walk = (w.parsed.activities[0] for w in workouts_of(apple_zip(health_xml())))
    samples = route.samples
    hr = samples.drop_nulls("hr_bpm")
    assert hr["timestamp"].to_list() == [t for t, _ in HR_IN_ROUTE]
    assert hr["hr_bpm"].to_list() == [b for _, b in HR_IN_ROUTE]
    positioned = samples.drop_nulls("lat_deg")
    assert positioned.height == ROUTE_SECONDS
    assert (samples["timestamp"][0], samples["timestamp"][-1]) == (
        ROUTE_START,
        ROUTE_START + dt.timedelta(seconds=ROUTE_SECONDS - 1),
    )
    assert positioned["timestamp"][0] == ROUTE_START
    assert float(positioned["distance_m"].max()) == pytest.approx(
        float(route_run().distance[-1]), rel=GPX_DISTANCE_REL
    )
    assert samples["elapsed_s"][0] == 0.0
    # the workout's start and end bound the two readings
    assert plain.samples["hr_bpm"].to_list() == [None, 140, 150, None]
    assert plain.samples["elapsed_s"].to_list() == [0.0, 60.0, 120.0, 1800.0]
    assert walk.samples.height == 0


def test_identity_is_the_same_in_a_later_export() -> None:
    first = [w.sha256 for w in workouts_of(apple_zip(health_xml()))]
    later = [
        w.sha256 for w in workouts_of(apple_zip(health_xml(records=[]), xml_name="export.xml"))
    ]
    assert first == later
    assert len(set(first)) == 3


def test_a_missing_route_file_leaves_the_workout_without_positions() -> None:
    route, _, _ = (
        w.parsed.activities[0] for w in workouts_of(apple_zip(health_xml(), route=False))
    )
    assert route.samples.drop_nulls("lat_deg").height == 0
    assert route.samples.drop_nulls("hr_bpm").height == len(HR_IN_ROUTE)


def test_ios16_broken_dtd_and_vertical_tab_are_tolerated() -> None:
    xml = health_xml(dtd=BROKEN_DTD).replace(b"Kari\xe2\x80\x99s", b"Kari\x0bs", 1)
    assert len(workouts_of(apple_zip(xml))) == 3


ENTITY_BOMB = """<!DOCTYPE HealthData [
<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
]>
"""
EXTERNAL = '<!DOCTYPE HealthData [\n<!ENTITY x SYSTEM "file:///etc/passwd">\n]>\n'


@pytest.mark.parametrize(
    "dtd", [ENTITY_BOMB, EXTERNAL], ids=["entity-expansion", "external-entity"]
)
def test_entities_are_refused(dtd: str) -> None:
    with pytest.raises(UnsafeInput) as caught:
        workouts_of(apple_zip(health_xml(dtd=dtd)))
    assert caught.value.reason_code == "xml_entities"


def test_xml_damaged_after_the_dtd_is_corrupt() -> None:
    xml = health_xml().replace(b"</HealthData>", b"<Workout></HealthData>")
    with pytest.raises(CorruptFile) as caught:
        workouts_of(apple_zip(xml))
    assert caught.value.reason_code == "apple_xml_malformed"


def test_an_encoding_that_does_not_exist_is_corrupt() -> None:
    xml = health_xml().replace(b'encoding="UTF-8"', b'encoding="utf-9"', 1)
    with pytest.raises(LookupError):  # what the XML parser itself raises for it
        ET.fromstring(xml)
    with pytest.raises(CorruptFile) as caught:
        workouts_of(apple_zip(xml))
    assert caught.value.reason_code == "apple_xml_malformed"
    assert "utf-9" in caught.value.detail


def test_memory_does_not_grow_with_the_number_of_records() -> None:
    """Heart-rate records outside any workout are read and dropped: 12 000 of them (~3.4 MB)."""
    quiet = ROUTE_START - dt.timedelta(days=30)
    many = [(quiet + dt.timedelta(seconds=60 * k), 60) for k in range(12_000)]
    data = apple_zip(health_xml(records=many))
    tracemalloc.start()
    try:
        read_health_xml(
            lambda: open_checked_zip(data, LIMITS).open_stream("apple_health_export/eksport.xml")
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(health_xml(records=many)) > 3_000_000
    assert peak < 2_000_000
