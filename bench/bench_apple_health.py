"""Benchmark: peak memory and time while reading a large generated Apple Health export.

Writes ``export.zip`` (``apple_health_export/export.xml`` of at least ``--xml-mb`` MB, default 520,
plus route GPX files), shaped as the Health app writes it (FORMATS.md 4): the v14 internal DTD,
``Record`` elements grouped by type and written before the ``Workout`` elements, heart rate every
5 s during workouts and every 10 min otherwise, step/energy/distance records with ``MetadataEntry``
children, and running/walking/cycling workouts with statistics and ``FileReference`` routes.

The export is then read in a fresh child process, twice: straight from the zip file on disk, and
as the pipeline does it (the zip's bytes in memory, ``iter_export`` over them). The child reports
its peak resident set size (``ru_maxrss``) before and after reading, and the time taken::

    .venv/bin/python bench/bench_apple_health.py [--xml-mb 520] [--dir DIR] [--keep]

The goal (issue 8): peak memory under 300 MB while reading an export of at least 500 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

XML_NAME = "apple_health_export/export.xml"
GOAL_MB = 300
OFFSET = dt.timezone(dt.timedelta(hours=1))

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 14 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
<!ELEMENT ExportDate EMPTY>
<!ATTLIST ExportDate
  value CDATA #REQUIRED
>
<!ELEMENT Me EMPTY>
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
<!ELEMENT Workout ((MetadataEntry|WorkoutEvent|WorkoutRoute|WorkoutStatistics)*)>
<!ELEMENT WorkoutStatistics EMPTY>
<!ELEMENT WorkoutRoute ((MetadataEntry|FileReference)*)>
<!ELEMENT FileReference EMPTY>
<!ELEMENT MetadataEntry EMPTY>
]>
<HealthData locale="en_GB">
 <ExportDate value="2025-03-20 19:02:11 +0100"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth=""/>
"""
DEVICE = (
    "&lt;&lt;HKDevice: 0x283f0a9e0&gt;, name:Apple Watch, manufacturer:Apple Inc., model:Watch, "
    "hardware:Watch6,1, software:9.4&gt;"
)
SOURCE = 'sourceName="Sam’s Apple Watch" sourceVersion="9.4"'


def _local(when: dt.datetime) -> str:
    return when.astimezone(OFFSET).strftime("%Y-%m-%d %H:%M:%S %z")


def _record(kind: str, unit: str, value: str, when: dt.datetime, seconds: int = 0) -> str:
    end = _local(when + dt.timedelta(seconds=seconds))
    start = _local(when)
    meta = (
        '<MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="0"/>'
        if kind.endswith("HeartRate")
        else ""
    )
    return (
        f' <Record type="HKQuantityTypeIdentifier{kind}" {SOURCE} device="{DEVICE}" unit="{unit}" '
        f'creationDate="{end}" startDate="{start}" endDate="{end}" value="{value}">{meta}</Record>\n'
    )


def _workouts(first: dt.datetime, count: int) -> list[tuple[str, dt.datetime, int]]:
    kinds = ("Running", "Running", "Walking", "Cycling")
    return [
        (kinds[i % 4], first + dt.timedelta(days=2 * i, hours=7), 1800 + 60 * (i % 30))
        for i in range(count)
    ]


def generate(path: Path, *, xml_mb: int, seed: int = 1) -> dict[str, float]:
    """Write the export; return its sizes (MB) and counts."""
    rng = random.Random(seed)
    first = dt.datetime(2019, 1, 1, tzinfo=dt.UTC)
    workouts = _workouts(first, 600)
    windows = [(start, start + dt.timedelta(seconds=secs)) for _, start, secs in workouts]
    target = xml_mb * 1_000_000
    written = 0
    records = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        with archive.open(XML_NAME, "w", force_zip64=True) as out:

            def put(text: str) -> None:
                nonlocal written
                data = text.encode()
                out.write(data)
                written += len(data)

            put(HEAD)
            when = first
            w = 0
            # heart rate: dense inside workouts, sparse outside, until 60 % of the target size
            while written < 0.6 * target:
                while w < len(windows) and windows[w][1] < when:
                    w += 1
                inside = w < len(windows) and windows[w][0] <= when <= windows[w][1]
                put(_record("HeartRate", "count/min", str(rng.randint(55, 175)), when))
                records += 1
                when += dt.timedelta(seconds=5 if inside else rng.randint(300, 900))
                if w < len(windows) and not inside and when > windows[w][0]:
                    when = windows[w][0]
            kinds = (
                ("StepCount", "count"),
                ("ActiveEnergyBurned", "kcal"),
                ("DistanceWalkingRunning", "km"),
            )
            when = first
            while written < target:
                kind, unit = kinds[records % 3]
                value = (
                    f"{rng.uniform(0.01, 40):.3f}" if unit != "count" else str(rng.randint(1, 90))
                )
                put(_record(kind, unit, value, when, seconds=60))
                records += 1
                when += dt.timedelta(seconds=rng.randint(60, 600))
            for i, (kind, start, secs) in enumerate(workouts):
                end = start + dt.timedelta(seconds=secs)
                route = (
                    f'<WorkoutRoute {SOURCE}><FileReference path="/workout-routes/route_{i}.gpx"/>'
                    "</WorkoutRoute>"
                    if i % 12 == 0
                    else ""
                )
                put(
                    f' <Workout workoutActivityType="HKWorkoutActivityType{kind}" duration="{secs / 60}" '
                    f'durationUnit="min" {SOURCE} startDate="{_local(start)}" endDate="{_local(end)}">'
                    '<MetadataEntry key="HKIndoorWorkout" value="0"/>'
                    '<WorkoutStatistics type="HKQuantityTypeIdentifierDistanceWalkingRunning" '
                    f'sum="{secs * 2.7 / 1000:.3f}" unit="km"/>{route}</Workout>\n'
                )
            put("</HealthData>\n")
        for i, (_, start, secs) in enumerate(workouts):
            if i % 12:
                continue
            points = "".join(
                f'<trkpt lon="{10.75 + 0.00002 * s:.6f}" lat="{59.91 + 0.00001 * s:.6f}"><ele>40</ele>'
                f"<time>{(start + dt.timedelta(seconds=s)).strftime('%Y-%m-%dT%H:%M:%SZ')}</time></trkpt>"
                for s in range(0, secs, 1)
            )
            archive.writestr(
                f"apple_health_export/workout-routes/route_{i}.gpx",
                '<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1" creator="Apple Health Export" '
                f'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>{points}</trkseg></trk></gpx>',
            )
    return {
        "xml_mb": written / 1e6,
        "zip_mb": path.stat().st_size / 1e6,
        "records": records,
        "workouts": len(workouts),
    }


def _child(path: str, mode: str) -> None:
    """Read the export in this (fresh) process and print JSON: peak RSS before/after, time."""
    from ingest.archive import ArchiveLimits
    from ingest.exports import DecodedSource, iter_export, open_checked_zip

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    limits = ArchiveLimits(max_total_bytes=8 * 1024**3)
    if mode == "file":
        with Path(path).open("rb") as handle:
            items = list(iter_export(open_checked_zip(handle, limits), "apple_health"))
    else:
        data = Path(path).read_bytes()
        items = list(iter_export(open_checked_zip(data, limits), "apple_health"))
    elapsed = time.perf_counter() - started
    samples = sum(
        i.parsed.activities[0].samples.height for i in items if isinstance(i, DecodedSource)
    )
    print(
        json.dumps(
            {
                "mode": mode,
                "imports_peak_mb": round(before, 1),
                "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "seconds": round(elapsed, 1),
                "workouts": len(items),
                "samples": samples,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Generate, read in child processes, report; exit 1 when the memory goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--xml-mb", type=int, default=520)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench-apple-"))
    path = folder / "export.zip"
    started = time.perf_counter()
    sizes = generate(path, xml_mb=args.xml_mb)
    print(json.dumps({"generated": sizes, "seconds": round(time.perf_counter() - started, 1)}))
    ok = True
    for mode in ("file", "bytes"):
        out = (
            subprocess.run(
                [sys.executable, __file__, "--child", str(path), mode],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        result = json.loads(out)
        print(json.dumps(result))
        ok &= result["peak_mb"] < GOAL_MB
    if not args.keep:
        path.unlink()
    print("goal met" if ok else f"goal missed: peak memory over {GOAL_MB} MB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
