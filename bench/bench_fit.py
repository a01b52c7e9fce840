"""Records per second of the columnar FIT decoder against the fitparse reader, side by side.

Run as ``python bench/bench_fit.py`` (from the repository root). It decodes every FIT file of
``../shared/corpus/files`` (``.fit``, ``.fit.gz`` and the FIT members of ``.zip`` files; skipped when
the corpus is absent) and synthetic one-hour and four-hour running files made with
``synthetic.run_model``, with both decoders in the same run, and prints one table:
records, the best time of each decoder, records per second and the speed-up. It exits non-zero
when the fast path is below ``--min-speedup`` (100x) on a one-hour running file, the issue's bar.

Timing: each decoder runs ``--repeat`` times per file, alternating, and the best time is kept
(the least disturbed by other work on the machine); the fitparse side is capped at a few runs on
large files.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.fit import read_fit
from ingest.fit_fast import FastPathRefused, read_fit_fast
from ingest.frames import ParsedFile
from schemas.errors import IngestError
from synthetic.run_model import simulate_run, write_run_fit

CORPUS_FILES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "files"
ONE_HOUR_PREFIX = "synthetic 1 h"
FITPARSE_BUDGET_S = 3.0
"""Stop repeating the fitparse side of one file once it has taken this long in total."""


@dataclass(frozen=True)
class Row:
    """One file's measurements."""

    name: str
    records: int
    fitparse_s: float
    fast_s: float | None
    note: str

    @property
    def speedup(self) -> float | None:
        """Fitparse time over fast-path time (``None`` when the fast path refused the file)."""
        return None if self.fast_s is None else self.fitparse_s / self.fast_s


def corpus_files() -> Iterator[tuple[str, bytes]]:
    """(name, FIT bytes) of every FIT file of the corpus, containers opened."""
    if not CORPUS_FILES.is_dir():
        return
    for path in sorted(CORPUS_FILES.iterdir()):
        lower = path.name.lower()
        if lower.endswith(".fit"):
            yield path.name, path.read_bytes()
        elif lower.endswith(".fit.gz"):
            yield path.name, gzip.decompress(path.read_bytes())
        elif lower.endswith(".zip"):
            with zipfile.ZipFile(BytesIO(path.read_bytes())) as archive:
                for member in archive.namelist():
                    if member.lower().endswith(".fit"):
                        yield f"{path.name}:{member}", archive.read(member)


def synthetic_files() -> Iterator[tuple[str, bytes]]:
    """Synthetic running files: 1 h and 4 h, with and without HRV, both byte orders for 1 h."""
    start = datetime(2026, 3, 2, 7, 15, tzinfo=UTC)
    for hours in (1, 4):
        run = simulate_run(
            start,
            duration_s=hours * 3600,
            intensity="easy",
            hr_rest=55,
            hr_max=185,
            home=(51.5, -0.12),
            seed=hours,
        )
        yield f"synthetic {hours} h run", write_run_fit(run)
        yield f"synthetic {hours} h run + HRV", write_run_fit(run, with_hrv=True)
        if hours == 1:
            yield f"synthetic {hours} h run, big-endian", write_run_fit(run, big_endian=True)


def best_time(
    decode: Callable[[bytes], object], data: bytes, repeat: int, budget_s: float
) -> float:
    """Best wall time of ``decode(data)`` over up to ``repeat`` runs (stopping after ``budget_s``)."""
    best = float("inf")
    spent = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        decode(data)
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent > budget_s:
            break
    return best


def measure(name: str, data: bytes, repeat: int) -> Row:
    """Time both decoders on one file (fitparse errors and fast-path refusals are noted)."""
    try:
        reference: ParsedFile | None = read_fit(data)
    except IngestError as error:
        reference = None
        note = f"fitparse: {error.reason_code}"
    else:
        note = ""
    records = 0 if reference is None else sum(a.samples.height for a in reference.activities)

    def fitparse(raw: bytes) -> object:
        try:
            return read_fit(raw)
        except IngestError:
            return None

    def fast(raw: bytes) -> object:
        try:
            return read_fit_fast(raw)
        except IngestError:
            return None

    try:
        fast(data)
    except FastPathRefused as refused:
        fitparse_s = best_time(fitparse, data, repeat, FITPARSE_BUDGET_S)
        return Row(name, records, fitparse_s, None, f"falls back: {refused.reason}")
    fitparse_s, fast_s = float("inf"), float("inf")
    spent = 0.0
    for _ in range(repeat):  # alternate, so that both sides see the same machine load
        if spent < FITPARSE_BUDGET_S:
            start = time.perf_counter()
            fitparse(data)
            elapsed = time.perf_counter() - start
            fitparse_s, spent = min(fitparse_s, elapsed), spent + elapsed
        fast_s = min(fast_s, best_time(fast, data, 5, 1.0))
    return Row(name, records, fitparse_s, fast_s, note)


def table(rows: Sequence[Row]) -> str:
    """The measurements as a fixed-width text table."""
    header = (
        f"{'file':58} {'records':>8} {'fitparse ms':>12} {'fast ms':>9} "
        f"{'fitparse rec/s':>15} {'fast rec/s':>12} {'speed-up':>9}  note"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        fast_ms = "-" if row.fast_s is None else f"{row.fast_s * 1e3:9.2f}"
        fast_rate = (
            "-" if row.fast_s is None or not row.records else f"{row.records / row.fast_s:12,.0f}"
        )
        slow_rate = f"{row.records / row.fitparse_s:15,.0f}" if row.records else "-"
        speedup = "-" if row.speedup is None else f"{row.speedup:8.0f}x"
        lines.append(
            f"{row.name[:58]:58} {row.records:8d} {row.fitparse_s * 1e3:12.1f} {fast_ms:>9} "
            f"{slow_rate:>15} {fast_rate:>12} {speedup:>9}  {row.note}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return 1 when a one-hour file misses ``--min-speedup``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per decoder and file")
    parser.add_argument("--min-speedup", type=float, default=100.0)
    parser.add_argument("--no-corpus", action="store_true", help="synthetic files only")
    args = parser.parse_args(argv)
    files = list(synthetic_files())
    if not args.no_corpus:
        files += list(corpus_files())
    rows = [measure(name, data, args.repeat) for name, data in files]
    print(table(rows))
    timed = [r for r in rows if r.fast_s is not None and r.records]
    total_records = sum(r.records for r in timed)
    slow = sum(r.fitparse_s for r in timed)
    fast = sum(r.fast_s for r in timed if r.fast_s is not None)
    print(
        f"\nall decoded files: {total_records} records, fitparse {total_records / slow:,.0f} rec/s, "
        f"fast {total_records / fast:,.0f} rec/s, speed-up {slow / fast:.0f}x"
    )
    one_hour = [r for r in rows if r.name.startswith(ONE_HOUR_PREFIX)]
    worst = min((r.speedup or 0.0) for r in one_hour)
    verdict = "meets" if worst >= args.min_speedup else "MISSES"
    print(
        f"one-hour running files: worst speed-up {worst:.0f}x, {verdict} the {args.min_speedup:.0f}x bar"
    )
    return 0 if worst >= args.min_speedup else 1


if __name__ == "__main__":
    sys.exit(main())
