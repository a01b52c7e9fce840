"""Bounded mutation fuzzing of ``parse_file`` (bench/fuzz.py runs the same thing for longer).

A case passes when ``parse_file`` returns a result with a known outcome; an exception escaping it
fails the test and names the case, so that ``bench/fuzz.py --seed ... --cases ...`` reproduces it.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import fitparse
import pytest

from bench.fuzz import CORPUS, fix_fit_crc, mutate, run_fuzz, seed_files, synthetic_seeds

HAS_CORPUS = (CORPUS / "files").is_dir()


def _describe(report_failures: list[object]) -> str:
    return "\n".join(map(repr, report_failures[:10]))


@pytest.mark.timeout(120)
def test_fuzz_synthetic_seeds_every_case_ends_in_an_outcome() -> None:
    report = run_fuzz(synthetic_seeds(), cases=100, seed=20240601)
    assert report.cases == 100
    assert not report.failures, _describe(list(report.failures))
    assert sum(report.outcomes.values()) == 100
    # The mutations reach the decoders: not everything is refused at the door.
    assert report.outcomes["quarantined"] > 0
    assert report.outcomes["ingested"] + report.outcomes["skipped"] > 0


@pytest.mark.corpus
@pytest.mark.timeout(120)
@pytest.mark.skipif(not HAS_CORPUS, reason="needs ../shared/corpus (real device files as seeds)")
def test_fuzz_corpus_seeds_every_case_ends_in_an_outcome() -> None:
    seeds = seed_files(CORPUS, max_bytes=60_000)
    assert len(seeds) > 10
    report = run_fuzz(seeds, cases=200, seed=7)
    assert not report.failures, _describe(list(report.failures))
    assert sum(report.outcomes.values()) == 200


def test_mutation_is_deterministic_per_seed() -> None:
    data = synthetic_seeds()[0][1]
    first = mutate(data, random.Random("9:1"), donors=[data], fix_crc=True)
    again = mutate(data, random.Random("9:1"), donors=[data], fix_crc=True)
    other = mutate(data, random.Random("9:2"), donors=[data], fix_crc=True)
    assert first == again
    assert first[1] != other[1]


def test_fix_fit_crc_repairs_size_and_checksums() -> None:
    # fitparse (an independent decoder) is the oracle: a file whose data_size, header CRC and file
    # CRC were all damaged decodes again, CRC checks on, once they are rewritten.
    data = synthetic_seeds()[0][1]
    damaged = bytearray(data)
    damaged[4:8] = b"\xff\xff\xff\x7f"
    damaged[12:14] = b"\x00\x00"
    damaged[-2:] = b"\x00\x00"
    with pytest.raises(fitparse.FitParseError):
        list(fitparse.FitFile(io.BytesIO(bytes(damaged)), check_crc=True).get_messages())
    fixed = fix_fit_crc(bytes(damaged))
    assert fixed == data
    assert list(fitparse.FitFile(io.BytesIO(fixed), check_crc=True).get_messages())


def test_fix_fit_crc_on_a_cut_file_sets_the_size_to_what_is_there() -> None:
    data = synthetic_seeds()[0][1]
    cut = data[:1000]
    fixed = fix_fit_crc(cut)
    assert len(fixed) == 1000
    # 14-byte header, 2-byte CRC: 1000 - 14 - 2 = 984 bytes of records.
    assert int.from_bytes(fixed[4:8], "little") == 984


def test_fix_fit_crc_leaves_other_bytes_alone() -> None:
    assert fix_fit_crc(b"<gpx></gpx>") == b"<gpx></gpx>"
    assert fix_fit_crc(b"") == b""


def test_seed_files_without_corpus_are_synthetic(tmp_path: Path) -> None:
    seeds = seed_files(tmp_path / "missing")
    assert [name for name, _ in seeds] == ["synthetic.fit", "synthetic.gpx"]
