"""Batch validation: one pandera call per table for a batch, culprits found file by file."""

from __future__ import annotations

from ingest.parse import parse_file, validate_results


def gpx(hr: int, minute: int) -> bytes:
    points = "".join(
        f'<trkpt lat="51.5{i:02d}" lon="-0.12"><time>2026-03-02T07:{minute:02d}:{i:02d}Z</time>'
        f"<extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>{hr}</gpxtpx:hr>"
        "</gpxtpx:TrackPointExtension></extensions></trkpt>"
        for i in range(5)
    )
    return (
        '<?xml version="1.0"?><gpx version="1.1" creator="t" '
        'xmlns="http://www.topografix.com/GPX/1/1" '
        'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">'
        f"<trk><type>running</type><trkseg>{points}</trkseg></trk></gpx>"
    ).encode()


def test_only_the_file_with_impossible_values_is_quarantined() -> None:
    good = parse_file(gpx(140, 1), client_id="c", validate=False)
    bad = parse_file(gpx(300, 5), client_id="c", validate=False)  # 300 bpm: outside 20-250
    assert good.outcome == bad.outcome == "ingested"  # nothing checked yet
    validate_results([good, bad])
    assert good.outcome == "ingested"
    assert good.samples is not None
    assert good.samples["hr_bpm"].to_list() == [140] * 5
    assert bad.outcome == "quarantined"
    assert bad.reason_code == "schema_failed"
    assert bad.activities is None
    assert bad.samples is None
    # The activities frame is checked first: its mean heart rate of 300 is the evidence.
    assert {"column": "hr_mean_bpm", "check": "less_than_or_equal_to(250)", "value": "300.0"} in (
        bad.evidence
    )


def test_validating_at_parse_time_gives_the_same_outcome() -> None:
    assert parse_file(gpx(300, 5), client_id="c").reason_code == "schema_failed"
    assert parse_file(gpx(140, 1), client_id="c").outcome == "ingested"
