"""Seeded mutation fuzzer for the activity readers: every mutated file must end in an outcome.

Seeds are small real files from ``../shared/corpus`` (FIT, GPX, TCX, when present) and synthetic
FIT and GPX runs from ``synthetic`` (always). Each case applies one to three mutations
(bit flips, byte overwrites with boundary values, truncation, splices from another seed, chunk
duplication or deletion) and, for FIT, half the time rewrites the header's ``data_size``, the header
CRC and the file CRC so that the damage reaches the decoder instead of being caught by the checksum.
A case passes when :func:`ingest.parse.parse_file` returns a result with a known outcome; any
exception escaping it is a failure.

Run longer than the test suite does with::

    .venv/bin/python bench/fuzz.py --cases 20000 --seed 1 [--save-failures DIR]

Exit status 1 when any case failed. Nothing is written unless ``--save-failures`` is given.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fitparse.records import Crc

__all__ = [
    "FuzzCase",
    "FuzzReport",
    "fix_fit_crc",
    "main",
    "mutate",
    "run_fuzz",
    "seed_files",
    "synthetic_seeds",
]

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
SEED_SUFFIXES = (".fit", ".gpx", ".tcx")
OUTCOMES = frozenset({"ingested", "skipped", "quarantined", "deferred"})
INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
"""Boundary values that hit invalid-value sentinels and sign bits in FIT fields."""


def _is_fit(data: bytes) -> bool:
    return len(data) >= 12 and data[0] in (12, 14) and data[8:12] == b".FIT"


def _crc(data: bytes) -> int:
    crc = Crc()
    crc.update(data)
    return int(crc.value)


def fix_fit_crc(data: bytes) -> bytes:
    """Make a (damaged) FIT file's header size field and both CRCs agree with its bytes.

    The header's ``data_size`` becomes the length after the header minus the trailing CRC, the
    14-byte header's CRC is recomputed, and the last two bytes are replaced by the file's CRC.
    Bytes that are not FIT are returned unchanged.
    """
    if not _is_fit(data) or len(data) < data[0] + 2:
        return data
    header_size = data[0]
    body = bytearray(data[:-2])
    struct.pack_into("<I", body, 4, len(body) - header_size)
    if header_size == 14:
        struct.pack_into("<H", body, 12, _crc(bytes(body[:12])))
    return bytes(body) + struct.pack("<H", _crc(bytes(body)))


def _flip_bits(data: bytearray, rng: random.Random) -> str:
    count = rng.randint(1, 8)
    for _ in range(count):
        position = rng.randrange(len(data))
        data[position] ^= 1 << rng.randrange(8)
    return f"flip{count}"


def _overwrite(data: bytearray, rng: random.Random) -> str:
    position = rng.randrange(len(data))
    for offset in range(rng.randint(1, 4)):
        if position + offset < len(data):
            data[position + offset] = rng.choice(INTERESTING_BYTES)
    return "overwrite"


def _truncate(data: bytearray, rng: random.Random) -> str:
    keep = rng.randrange(len(data))
    del data[keep:]
    return "truncate"


def _duplicate_chunk(data: bytearray, rng: random.Random) -> str:
    start = rng.randrange(len(data))
    chunk = data[start : start + rng.randint(1, 256)]
    at = rng.randrange(len(data) + 1)
    data[at:at] = chunk
    return "duplicate"


def _delete_chunk(data: bytearray, rng: random.Random) -> str:
    start = rng.randrange(len(data))
    del data[start : start + rng.randint(1, 256)]
    return "delete"


Mutation = Callable[[bytearray, random.Random], str]
MUTATIONS: tuple[Mutation, ...] = (
    _flip_bits,
    _overwrite,
    _truncate,
    _duplicate_chunk,
    _delete_chunk,
)
"""Mutations applied in place; each returns its short name."""


def mutate(
    data: bytes, rng: random.Random, *, donors: Sequence[bytes] = (), fix_crc: bool = False
) -> tuple[str, bytes]:
    """Apply one to three random mutations (or a splice with a donor) to ``data``.

    Parameters
    ----------
    data
        The seed file.
    rng
        The case's random generator (the only source of randomness).
    donors
        Other seeds to splice from.
    fix_crc
        For FIT input, make ``data_size`` and the CRCs consistent afterwards (:func:`fix_fit_crc`).

    Returns
    -------
    tuple of (str, bytes)
        A description of what was done and the mutated bytes.
    """
    buffer = bytearray(data)
    names = []
    if donors and rng.random() < 0.2:
        donor = rng.choice(donors)
        cut, donor_cut = rng.randrange(len(buffer) + 1), rng.randrange(len(donor) + 1)
        buffer = buffer[:cut] + bytearray(donor[donor_cut:])
        names.append("splice")
    for _ in range(rng.randint(1, 3)):
        if not buffer:
            break
        names.append(rng.choice(MUTATIONS)(buffer, rng))
    result = bytes(buffer)
    if fix_crc and _is_fit(data):
        result = fix_fit_crc(result)
        names.append("crc_fixed")
    return "+".join(names) or "none", result


def synthetic_seeds() -> list[tuple[str, bytes]]:
    """Two short synthetic runs as FIT (with HRV) and GPX: seeds that need no corpus."""
    from synthetic.run_model import simulate_run, write_run_fit, write_run_gpx

    run = simulate_run(
        datetime(2026, 3, 2, 7, 0, tzinfo=UTC),
        duration_s=90,
        intensity="intervals",
        hr_rest=55,
        hr_max=185,
        home=(48.85, 2.35),
        seed=11,
    )
    return [
        ("synthetic.fit", write_run_fit(run, with_hrv=True)),
        ("synthetic.gpx", write_run_gpx(run)),
    ]


def seed_files(corpus: Path | None = CORPUS, *, max_bytes: int = 60_000) -> list[tuple[str, bytes]]:
    """Synthetic seeds plus corpus FIT/GPX/TCX files up to ``max_bytes`` (name, bytes), sorted."""
    seeds = synthetic_seeds()
    files = corpus / "files" if corpus is not None else None
    if files is not None and files.is_dir():
        for path in sorted(files.iterdir()):
            if path.suffix.lower() in SEED_SUFFIXES and path.stat().st_size <= max_bytes:
                seeds.append((path.name, path.read_bytes()))
    return seeds


@dataclass(frozen=True)
class FuzzCase:
    """One failed case, enough to reproduce it."""

    index: int
    seed_name: str
    mutation: str
    error: str
    data: bytes = field(repr=False)


@dataclass
class FuzzReport:
    """What a fuzzing session did."""

    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    reason_codes: Counter[str] = field(default_factory=Counter)
    failures: list[FuzzCase] = field(default_factory=list)
    slowest_s: float = 0.0
    slowest_case: str = ""
    seconds: float = 0.0


Parser = Callable[[bytes], object]


def _default_parser(data: bytes) -> object:
    from ingest.parse import parse_file

    return parse_file(data, client_id="fuzz")


def run_fuzz(
    seeds: Sequence[tuple[str, bytes]],
    *,
    cases: int,
    seed: int,
    parse: Parser = _default_parser,
) -> FuzzReport:
    """Run ``cases`` mutated inputs through ``parse``; case ``i`` depends only on ``(seed, i)``.

    Parameters
    ----------
    seeds
        (name, bytes) of the files to mutate.
    cases
        How many cases.
    seed
        Master seed.
    parse
        Bytes to a result with ``outcome`` and ``reason_code`` (default ``parse_file``).

    Returns
    -------
    FuzzReport
        Outcome and reason-code counts, failures (exceptions or unknown outcomes), slowest case.
    """
    report = FuzzReport()
    donors = [data for _, data in seeds]
    started = time.perf_counter()
    for index in range(cases):
        rng = random.Random(f"{seed}:{index}")
        name, data = seeds[index % len(seeds)]
        how, mutated = mutate(data, rng, donors=donors, fix_crc=rng.random() < 0.5)
        tick = time.perf_counter()
        try:
            result = parse(mutated)
        except Exception as exc:  # a failure of the reader: recorded, the session goes on
            report.failures.append(
                FuzzCase(index, name, how, f"{type(exc).__name__}: {exc}", mutated)
            )
        else:
            outcome = str(getattr(result, "outcome", None))
            report.outcomes[outcome] += 1
            report.reason_codes[str(getattr(result, "reason_code", None))] += 1
            if outcome not in OUTCOMES:
                report.failures.append(
                    FuzzCase(index, name, how, f"unknown outcome {outcome}", mutated)
                )
        elapsed = time.perf_counter() - tick
        if elapsed > report.slowest_s:
            report.slowest_s, report.slowest_case = elapsed, f"#{index} {name} {how}"
        report.cases += 1
    report.seconds = time.perf_counter() - started
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: fuzz, print a summary, exit 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--max-bytes", type=int, default=200_000, help="largest corpus seed file")
    parser.add_argument("--save-failures", type=Path, help="write each failing input here")
    args = parser.parse_args(argv)
    seeds = seed_files(args.corpus, max_bytes=args.max_bytes)
    report = run_fuzz(seeds, cases=args.cases, seed=args.seed)
    print(
        f"{report.cases} cases from {len(seeds)} seeds in {report.seconds:.1f} s "
        f"({report.cases / max(report.seconds, 1e-9):.0f}/s); slowest {report.slowest_s:.2f} s "
        f"({report.slowest_case})"
    )
    print("outcomes:", dict(report.outcomes.most_common()))
    print("reason codes:", dict(report.reason_codes.most_common()))
    for case in report.failures:
        print(f"FAIL #{case.index} {case.seed_name} {case.mutation}: {case.error}")
        if args.save_failures:
            args.save_failures.mkdir(parents=True, exist_ok=True)
            (args.save_failures / f"case-{args.seed}-{case.index}.bin").write_bytes(case.data)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
