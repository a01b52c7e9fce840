"""FIT decoders side by side on real files: fitparse, fitdecode, fitfast and ours, in one run.

Run as ``make bench`` (``python bench/bench_fit.py`` from the repository root). It decodes every
real FIT file of ``../shared/corpus/files`` and ``../shared/corpus/added/files`` with at least
``--min-records`` (100) records (``.fit``, ``.fit.gz`` and the FIT members of ``.zip`` files; none
when the corpus is absent), plus synthetic one-hour and four-hour running files made with
``synthetic.run_model``, with four decoders in the same run:

* ``fitparse``: ``ingest.fit.read_fit``, the reference reader (fitparse underneath);
* ``fitdecode``: every frame of ``fitdecode.FitReader`` (pure Python, lenient);
* ``fitfast``: ``fitfast.records`` (the rustyfit Rust crate; record columns only);
* ``ours``: ``ingest.read_fit_auto``, the entry point the pipeline uses.

It prints one table (best time of each, ratio to fitparse) and the aggregate: the median and
minimum ratio to fitparse over the real files, and the total time of ours against fitfast's on
the files both decode. fitdecode and fitfast are bench-only dependencies (the dev extra).

Timing: each decoder runs up to ``--repeat`` times per file, round-robin so that all see the same
machine load, and the best time is kept; the fitparse and fitdecode sides are capped at a few
seconds per file.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fitdecode
import fitfast

from ingest import read_fit_auto
from ingest.fit import read_fit
from ingest.fit_fast import FastPathRefused, read_fit_fast
from schemas.errors import IngestError
from synthetic.run_model import simulate_run, write_run_fit

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CORPUS_FOLDERS = (CORPUS / "files", CORPUS / "added" / "files")
ONE_HOUR_PREFIX = "synthetic 1 h"
SLOW_BUDGET_S = 2.0
"""Stop repeating the fitparse and fitdecode sides of one file once they have taken this long."""


def corpus_files() -> Iterator[tuple[str, bytes]]:
    """(name, FIT bytes) of every FIT file of the corpus, old and added, containers opened."""
    paths = [p for folder in CORPUS_FOLDERS if folder.is_dir() for p in sorted(folder.iterdir())]
    for path in paths:
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


DECODERS = ("fitparse", "fitdecode", "fitfast", "ours")
SLOW = frozenset({"fitparse", "fitdecode"})


@dataclass(frozen=True)
class Row:
    """One file's measurements: best seconds per decoder (``None``: it failed on the file)."""

    name: str
    records: int
    real: bool
    best: dict[str, float | None]
    note: str

    def ratio(self, decoder: str) -> float | None:
        """Fitparse time over ``decoder``'s time."""
        theirs, slow = self.best.get(decoder), self.best.get("fitparse")
        return None if theirs is None or slow is None else slow / theirs


def _fitparse(data: bytes) -> object:
    try:
        return read_fit(data)
    except IngestError:
        return None


def _fitdecode(data: bytes) -> object:
    with fitdecode.FitReader(
        data,
        error_handling=fitdecode.ErrorHandling.IGNORE,
        check_crc=fitdecode.CrcCheck.DISABLED,
    ) as reader:
        return sum(1 for _ in reader)


def _fitfast(data: bytes) -> object:
    return fitfast.records(data)


def _ours(data: bytes) -> object:
    try:
        return read_fit_auto(data)
    except IngestError:
        return None


RUNNERS: dict[str, Callable[[bytes], object]] = {
    "fitparse": _fitparse,
    "fitdecode": _fitdecode,
    "fitfast": _fitfast,
    "ours": _ours,
}


def record_count(data: bytes) -> int:
    """Records as ours reads them (0 when the file holds no workout)."""
    try:
        parsed = read_fit_auto(data)
    except IngestError:
        return 0
    return sum(a.samples.height for a in parsed.activities)


def measure(name: str, data: bytes, repeat: int, *, real: bool) -> Row:
    """Time the four decoders on one file, round-robin (a decoder that raises is noted)."""
    records = record_count(data)
    best: dict[str, float | None] = {}
    spent = dict.fromkeys(DECODERS, 0.0)
    notes = []
    for decoder in DECODERS:
        try:
            RUNNERS[decoder](data)
        except Exception as error:  # a rival decoder refusing a file is a result, not a crash
            best[decoder] = None
            notes.append(f"{decoder}: {type(error).__name__}")
        else:
            best[decoder] = float("inf")
    if not read_fit_auto_fast(data):
        notes.append("ours fell back to fitparse")
    for _ in range(repeat):
        for decoder in DECODERS:
            so_far = best[decoder]
            if so_far is None or (decoder in SLOW and spent[decoder] > SLOW_BUDGET_S):
                continue
            runs = 1 if decoder in SLOW else 5
            for _ in range(runs):
                start = time.perf_counter()
                RUNNERS[decoder](data)
                elapsed = time.perf_counter() - start
                spent[decoder] += elapsed
                so_far = min(so_far, elapsed)
            best[decoder] = so_far
    return Row(name, records, real, best, "; ".join(notes))


def read_fit_auto_fast(data: bytes) -> bool:
    """Whether ours decodes the file with the columnar path (no fallback)."""
    try:
        read_fit_fast(data)
    except FastPathRefused:
        return False
    except IngestError:
        return True
    return True


def table(rows: Sequence[Row]) -> str:
    """The measurements as a fixed-width text table (times in ms, ratios to fitparse)."""
    header = (
        f"{'file':56} {'records':>7} {'fitparse':>9} {'fitdecode':>9} {'fitfast':>8} {'ours':>8}"
        f" {'fitdecode x':>11} {'fitfast x':>9} {'ours x':>7}  note"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        ms = {d: "-" if (v := row.best.get(d)) is None else f"{v * 1e3:.2f}" for d in DECODERS}
        ratio = {d: "-" if (x := row.ratio(d)) is None else f"{x:.0f}x" for d in DECODERS}
        lines.append(
            f"{row.name[:56]:56} {row.records:7d} {ms['fitparse']:>9} {ms['fitdecode']:>9}"
            f" {ms['fitfast']:>8} {ms['ours']:>8} {ratio['fitdecode']:>11}"
            f" {ratio['fitfast']:>9} {ratio['ours']:>7}  {row.note}"
        )
    return "\n".join(lines)


def summary(rows: Sequence[Row], min_records: int = 100) -> list[str]:
    """Median and minimum ratio to fitparse per decoder over the real files; ours vs fitfast."""
    real = [r for r in rows if r.real]
    lines = [f"real FIT files with >= {min_records} records: {len(real)}"]
    for decoder in ("fitdecode", "fitfast", "ours"):
        ratios = [x for r in real if (x := r.ratio(decoder)) is not None]
        if ratios:
            lines.append(
                f"  {decoder:9} vs fitparse: median {statistics.median(ratios):.0f}x, "
                f"minimum {min(ratios):.0f}x over {len(ratios)} files"
            )
    both = [r for r in real if r.best.get("fitfast") is not None and r.best.get("ours") is not None]
    ours = sum(r.best["ours"] or 0.0 for r in both)
    theirs = sum(r.best["fitfast"] or 0.0 for r in both)
    if both:
        lines.append(
            f"  aggregate over the {len(both)} files both decode: ours {ours * 1e3:.1f} ms, "
            f"fitfast {theirs * 1e3:.1f} ms: ours is {theirs / ours:.2f}x fitfast's speed"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return 1 when a one-hour synthetic file misses ``--min-speedup``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds per file")
    parser.add_argument("--min-speedup", type=float, default=100.0)
    parser.add_argument("--min-records", type=int, default=100)
    parser.add_argument("--no-corpus", action="store_true", help="synthetic files only")
    args = parser.parse_args(argv)
    rows = [measure(name, data, args.repeat, real=False) for name, data in synthetic_files()]
    if not args.no_corpus:
        for name, data in corpus_files():
            if record_count(data) >= args.min_records:
                rows.append(measure(name, data, args.repeat, real=True))
    print(table(rows))
    print()
    print("\n".join(summary(rows, args.min_records)))
    one_hour = [r for r in rows if r.name.startswith(ONE_HOUR_PREFIX)]
    worst = min((r.ratio("ours") or 0.0) for r in one_hour)
    verdict = "meets" if worst >= args.min_speedup else "MISSES"
    print(
        f"one-hour synthetic running files: worst {worst:.0f}x fitparse, {verdict} the "
        f"{args.min_speedup:.0f}x bar"
    )
    return 0 if worst >= args.min_speedup else 1


if __name__ == "__main__":
    sys.exit(main())
