"""How a run cuts the clients it rebuilds into chunks (pipelines.derive.client_chunks), and that
the cut changes no derived value."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.derive import DERIVED_TABLES, SAMPLES_PER_CHUNK, client_chunks, derive_for_clients
from warehouse.store import TableStore


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


def test_the_derived_tables_do_not_depend_on_how_the_clients_are_cut(
    demo_clinic: tuple[Path, Path], tmp_path: Path
) -> None:
    # Regression: a client derived alone got other last bits (and 80 % of HRmax another zone)
    # than one derived with others, so the local engine had to cut as many chunks as a cluster.
    # The demo clinic (five clients: runs, journals, plans, HRV) in one chunk and in five.
    _, warehouse = demo_clinic
    built = []
    for parallelism in (1, 5):
        store = TableStore(shutil.copytree(warehouse, tmp_path / f"in-{parallelism}"))
        for name in DERIVED_TABLES:
            store.reset(name)
        activities = store.read("activities")
        clients = sorted(set(activities["client_id"]) | set(store.read("journal")["client_id"]))
        assert len(client_chunks(activities, clients, at_least=parallelism)) == parallelism
        derive_for_clients(store, clients, parallelism=parallelism)
        built.append({name: store.read(name) for name in DERIVED_TABLES})
    for name in DERIVED_TABLES:
        assert built[0][name].height > 0, name
        assert_frame_equal(built[0][name], built[1][name], check_exact=True)
