"""How a run cuts the clients it rebuilds into chunks (pipelines.derive.client_chunks)."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.derive import SAMPLES_PER_CHUNK, client_chunks


def activities(samples_by_client: dict[str, list[int]]) -> pl.DataFrame:
    rows = [(c, n) for c, counts in samples_by_client.items() for n in counts]
    return pl.DataFrame(rows, schema={"client_id": pl.String, "n_samples": pl.Int64}, orient="row")


def test_chunks_hold_every_client_once_in_order_within_the_bound() -> None:
    # 40 clients of 3,600-sample runs, 40 runs each: 144,000 samples a client, so 6 clients fit
    # under 1,000,000 (6 x 144,000 = 864,000; 7 would be 1,008,000): 7 chunks, 6 + ... + 4.
    clients = [f"c{i:02d}" for i in range(40)]
    acts = activities({c: [3_600] * 40 for c in clients})
    chunks = client_chunks(acts, clients)
    assert [c for chunk in chunks for c in chunk] == clients
    assert [len(chunk) for chunk in chunks] == [6, 6, 6, 6, 6, 6, 4]
    assert SAMPLES_PER_CHUNK == 1_000_000


def test_a_client_larger_than_the_bound_is_a_chunk_of_its_own() -> None:
    acts = activities({"big": [700_000, 700_000], "a": [10], "b": [10]})
    assert client_chunks(acts, ["a", "big", "b"]) == [["a"], ["big"], ["b"]]


def test_clients_without_activities_and_null_counts_weigh_nothing() -> None:
    acts = pl.DataFrame(
        {"client_id": ["a", "a"], "n_samples": [None, 5]},
        schema={"client_id": pl.String, "n_samples": pl.Int64},
    )
    assert client_chunks(acts, ["a", "journal-only", "other"]) == [["a", "journal-only", "other"]]


@pytest.mark.parametrize(("threads", "expected"), [(1, 1), (2, 2), (4, 4), (9, 8)])
def test_a_cluster_gets_a_chunk_per_thread(threads: int, expected: int) -> None:
    # 8 equal clients of 1,000 samples: far under the bound, cut only for the threads (never
    # more chunks than clients).
    clients = [f"c{i}" for i in range(8)]
    acts = activities({c: [1_000] for c in clients})
    assert len(client_chunks(acts, clients, at_least=threads)) == expected
