"""Points per second of the streaming GPX reader against the gpxpy reader, side by side.

Run as ``python bench/bench_gpx.py`` (from the repository root). It reads every GPX file of
``../shared/corpus/files`` (skipped when the corpus is absent) and synthetic running files of
35 minutes (about the 2,000 points of a clinic's typical file), one hour and four hours made with
``synthetic.run_model.write_run_gpx``, with both readers in the same run, and prints one
table: points, the best time of each reader, points per second and the ratio. Files without a
workout (routes, waypoints) are timed too (both readers reach the same ``NotAnActivity``).

Timing: the two readers alternate ``--repeat`` times per file and the best time of each is kept
(the least disturbed by other work on the machine).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.frames import ParsedFile
from ingest.gpx import read_gpx
from ingest.gpx_fast import StreamRefused, read_gpx_fast
from schemas.errors import IngestError
from synthetic.run_model import simulate_run, write_run_gpx

CORPUS_FILES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "files"


@dataclass(frozen=True)
class Row:
    """One file's measurements."""

    name: str
    points: int
    gpxpy_s: float
    stream_s: float | None
    note: str

    @property
    def ratio(self) -> float | None:
        """Time of gpxpy over time of the stream (``None`` when the stream refused the file)."""
        return None if self.stream_s is None else self.gpxpy_s / self.stream_s


def corpus_files() -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every GPX file of the corpus."""
    if not CORPUS_FILES.is_dir():
        return
    for path in sorted(CORPUS_FILES.iterdir()):
        if path.name.lower().endswith(".gpx"):
            yield path.name, path.read_bytes()


def synthetic_files() -> Iterator[tuple[str, bytes]]:
    """Synthetic running GPX (Garmin-like, TrackPointExtension HR and cadence)."""
    start = datetime(2026, 3, 2, 7, 15, tzinfo=UTC)
    for label, seconds in (("35 min", 35 * 60), ("1 h", 3600), ("4 h", 4 * 3600)):
        run = simulate_run(
            start,
            duration_s=seconds,
            intensity="easy",
            hr_rest=55,
            hr_max=185,
            home=(51.5, -0.12),
            seed=seconds,
        )
        yield f"synthetic {label} run", write_run_gpx(run)


def _quiet(read: Callable[[bytes], ParsedFile]) -> Callable[[bytes], object]:
    def run(data: bytes) -> object:
        try:
            return read(data)
        except IngestError:
            return None

    return run


def measure(name: str, data: bytes, repeat: int) -> Row:
    """Time both readers on one file, alternating."""
    try:
        reference: ParsedFile | None = read_gpx(data)
    except IngestError as error:
        reference, note = None, f"both: {error.reason_code}"
    else:
        note = ""
    points = 0 if reference is None else sum(a.samples.height for a in reference.activities)
    slow, fast = _quiet(read_gpx), _quiet(read_gpx_fast)
    try:
        fast(data)
    except StreamRefused as refused:
        return Row(name, points, best_of(slow, data, repeat), None, f"refused: {refused.reason}")
    gpxpy_s = stream_s = float("inf")
    for _ in range(repeat):
        gpxpy_s = min(gpxpy_s, best_of(slow, data, 1))
        stream_s = min(stream_s, best_of(fast, data, 1))
    return Row(name, points, gpxpy_s, stream_s, note)


def best_of(read: Callable[[bytes], object], data: bytes, repeat: int) -> float:
    """Best wall time of ``read(data)`` over ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        read(data)
        best = min(best, time.perf_counter() - start)
    return best


def table(rows: Sequence[Row]) -> str:
    """The measurements as a fixed-width text table."""
    header = (
        f"{'file':40} {'points':>7} {'gpxpy ms':>9} {'stream ms':>10} "
        f"{'gpxpy pt/s':>11} {'stream pt/s':>12} {'ratio':>6}  note"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        stream_ms = "-" if row.stream_s is None else f"{row.stream_s * 1e3:10.2f}"
        stream_rate = (
            "-" if row.stream_s is None or not row.points else f"{row.points / row.stream_s:12,.0f}"
        )
        slow_rate = f"{row.points / row.gpxpy_s:11,.0f}" if row.points else "-"
        ratio = "-" if row.ratio is None else f"{row.ratio:5.1f}x"
        lines.append(
            f"{row.name[:40]:40} {row.points:7d} {row.gpxpy_s * 1e3:9.2f} {stream_ms:>10} "
            f"{slow_rate:>11} {stream_rate:>12} {ratio:>6}  {row.note}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table and the totals."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per reader and file")
    parser.add_argument("--no-corpus", action="store_true", help="synthetic files only")
    args = parser.parse_args(argv)
    files = list(synthetic_files())
    if not args.no_corpus:
        files += list(corpus_files())
    rows = [measure(name, data, args.repeat) for name, data in files]
    print(table(rows))
    for label, chosen in (
        ("corpus", [r for r in rows if not r.name.startswith("synthetic")]),
        ("synthetic", [r for r in rows if r.name.startswith("synthetic")]),
    ):
        timed = [r for r in chosen if r.stream_s is not None and r.points]
        if not timed:
            continue
        points = sum(r.points for r in timed)
        slow = sum(r.gpxpy_s for r in timed)
        fast = sum(r.stream_s for r in timed if r.stream_s is not None)
        print(
            f"{label}: {points} points, gpxpy {points / slow:,.0f} pt/s, "
            f"stream {points / fast:,.0f} pt/s, ratio {slow / fast:.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
