"""The warehouse's tables as Delta Lake tables, on local disk or object storage alike.

Layout::

    <warehouse>/<table>/_delta_log/...                                   (the table's log)
    <warehouse>/<table>/part-*.parquet                                   (unpartitioned)
    <warehouse>/samples/client_id=<id>/year=<y>/part-*.parquet           (partitioned)
    <warehouse>/restricted/<table>/...                                   (notes; no analyst path)

Every write is one Delta commit: readers (``polars.scan_delta``, DuckDB's ``delta_scan``, the
views of ``mindmiles.duckdb``) see the old version or the new one, never a mix, on a local disk
or on S3 where there is no rename. Concurrent writers commit optimistically; a commit that loses a
race (:class:`deltalake.exceptions.CommitFailedError`) is redone on the new version, which the
keyed writes make safe (writing an activity's rows again replaces them).

Files that a commit removed stay on disk until :meth:`TableStore.vacuum`, which a run calls once
at its start (with ``full``: files a killed writer left, never committed) and once at its end.
So between runs a plain ``read_parquet('<wh>/activities/*.parquet')`` (or
``'<wh>/samples/*/*/*.parquet'``) reads exactly the current rows, unless ``history_days`` keeps
removed files for time travel. (A ``**`` glob would also reach ``_delta_log``, whose checkpoints,
written every 100 commits, are Parquet files too.)
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import polars as pl

from schemas.base import validate_table
from schemas.errors import WarehouseError
from warehouse.files import private_files
from warehouse.location import Where, is_remote, join, local_path, normalize
from warehouse.tables import TABLES, TableSpec

if TYPE_CHECKING:
    from deltalake import DeltaTable

__all__ = ["TableStore"]

log = logging.getLogger(__name__)

COMMIT_ATTEMPTS = 5
"""How often a write that lost a race with another writer's commit is redone."""
DEFAULT_LOG_RETENTION = "interval 30 days"
DEFAULT_FILE_RETENTION = "interval 7 days"
"""Delta's default retention of log entries and of removed files' tombstones."""
LEGACY_VERSIONS = ".versions"
"""Where the Parquet-and-symlink layout of mindmiles before Delta kept table versions."""

T = TypeVar("T")


SAFE_KEY = re.compile(r"[0-9A-Za-z_.:-]*")
"""What a key value in a Delta predicate may hold: ids, hashes and dates, never free text."""


def _is_sorted(frame: pl.DataFrame, columns: Sequence[str]) -> bool:
    """Whether ``frame``'s rows are already in ``columns`` order (a stable sort would keep them).

    Checking costs a pass over the key columns; sorting a million rows of samples, which arrive
    in order from the readers, costs many. Keys holding nulls are left to the sort.

    Examples
    --------
    >>> _is_sorted(pl.DataFrame({"a": ["x", "x", "y"], "b": [2, 3, 1]}), ["a", "b"])
    True
    >>> _is_sorted(pl.DataFrame({"a": ["x", "x", "y"], "b": [3, 2, 1]}), ["a", "b"])
    False
    """
    if frame.height < 2:
        return True
    if any(frame[c].null_count() for c in columns):
        return False
    in_order = pl.lit(value=True)
    for column in reversed(columns):
        here, after = pl.col(column), pl.col(column).shift(-1)
        in_order = (here < after) | ((here == after) & in_order)
    return bool(frame.select(in_order.head(frame.height - 1).all()).item())


def _in_list(column: str, values: Iterable[object]) -> str:
    """A Delta predicate ``column IN (...)`` over ids or integers.

    Examples
    --------
    >>> _in_list("year", [2026, 2025, 2026]), _in_list("activity_id", ["b1", "a0"])
    ('year IN (2025, 2026)', "activity_id IN ('a0', 'b1')")
    """
    items = set()
    for value in values:
        if isinstance(value, int):
            items.add(str(value))
        elif isinstance(value, str) and SAFE_KEY.fullmatch(value):
            items.add(f"'{value}'")
        else:
            raise WarehouseError(f"refusing an unexpected key value in {column}")
    return f"{column} IN ({', '.join(sorted(items))})"


class TableStore:
    """Read and write the warehouse's Delta tables.

    Parameters
    ----------
    root
        The warehouse: a folder, or an object-store URI such as ``s3://bucket/prefix``.
    history_days
        How long files that a commit removed are kept for time travel
        (``polars.scan_delta(uri, version=N)``); 0 removes them at the end of every run.
    """

    def __init__(self, root: Where, *, history_days: float = 0.0) -> None:
        # Absolute, so that paths compare equal whatever the working directory.
        self.root: Where = normalize(root)
        self.history_days = history_days
        self._opened: dict[tuple[int, str], DeltaTable] = {}

    # -- where -------------------------------------------------------------------------------
    @property
    def remote(self) -> bool:
        """Whether the warehouse is on object storage."""
        return is_remote(self.root)

    def table_uri(self, name: str) -> str:
        """The Delta table's location: an absolute path or an object-store URI."""
        spec = TABLES[name]
        where = join(self.root, "restricted", name) if spec.restricted else join(self.root, name)
        return str(where)

    def table_path(self, name: str) -> Path:
        """The folder analysts read, ``<warehouse>/<table>`` (local warehouses only)."""
        path = local_path(self.table_uri(name))
        if path is None:
            raise WarehouseError(f"{self.root} is on object storage: it has no local table path")
        return path

    def _open(self, name: str) -> DeltaTable | None:
        # deltalake is imported where it is used: parsing workers import this module under a
        # memory limit, and the Delta engine's address-space reservation would eat into it.
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        # Opening a table reads its log from the last checkpoint (3-7 ms here); bringing an
        # opened one up to date lists only newer commits (0.5 ms), and a run opens its tables
        # over a hundred times. Kept per thread: one table object is never shared between two.
        key = (threading.get_ident(), name)
        try:
            cached = self._opened.get(key)
            if cached is not None:
                cached.update_incremental()
                return cached
            table = DeltaTable(self.table_uri(name))
        except TableNotFoundError:
            self._opened.pop(key, None)
            return None
        except OSError as exc:  # storage unreachable, no such bucket, no permission
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise WarehouseError(f"cannot read the warehouse at {self.root}: {reason}") from exc
        self._opened[key] = table
        return table

    def _forget(self, name: str) -> None:
        """Open the table afresh next time (after rewriting its log, or reading an old version)."""
        for key in [k for k in self._opened if k[1] == name]:
            del self._opened[key]

    def version(self, name: str) -> int | None:
        """The table's current Delta version; ``None`` before its first write."""
        table = self._open(name)
        return None if table is None else table.version()

    def files(self, name: str) -> list[str]:
        """The data files of the table's current version (absolute paths or URIs)."""
        table = self._open(name)
        return [] if table is None else sorted(table.file_uris())

    def exists(self) -> bool:
        """Whether this is a mindmiles warehouse: a run has written its state or a table."""
        path = local_path(self.root)
        if path is not None and ((path / ".state").is_dir() or (path / LEGACY_VERSIONS).is_dir()):
            return True
        return any(self._open(name) is not None for name in TABLES)

    # -- reading -----------------------------------------------------------------------------
    def read(
        self,
        name: str,
        *,
        partitions: Iterable[tuple[object, ...]] | None = None,
        version: int | None = None,
        client_id: str | None = None,
        columns: Sequence[str] | None = None,
        keys: Collection[str] | None = None,
    ) -> pl.DataFrame:
        """Read a whole table (or only the given partitions) as an eager, schema-typed frame.

        ``version`` reads an earlier version of the table (time travel), while its files are kept;
        ``client_id`` only that client's rows (the scan skips the files and partitions without);
        ``columns`` only those columns and the table's sort and partition columns (the other
        columns' pages are never read); ``keys`` only the rows whose key (of a table keyed by one
        column, such as ``samples`` by ``activity_id``) is one of them (files whose statistics
        rule them out are skipped).
        """
        spec = TABLES[name]
        typed_empty = self._typed_empty(spec)
        if columns is not None:
            kept = {*columns, *spec.sort_by, *spec.partition_by}
            typed_empty = typed_empty.select([c for c in typed_empty.columns if c in kept])
        if keys is not None and not keys:
            return typed_empty
        table = self._open(name)
        if table is None:
            return typed_empty
        if version is not None:
            self._forget(name)  # the object now stands at an old version: not to be reused
            table.load_as_version(version)
        if not table.file_uris():
            return typed_empty
        scan = pl.scan_delta(table)
        if columns is not None:
            stored = scan.collect_schema().names()
            scan = scan.select([c for c in typed_empty.columns if c in stored])
        if client_id is not None:
            scan = scan.filter(pl.col("client_id") == client_id)
        if keys is not None:
            (key,) = spec.key
            scan = scan.filter(pl.col(key).is_in(pl.Series(list(keys), dtype=pl.String).implode()))
        if partitions is not None and spec.partition_by:
            wanted = pl.DataFrame(
                [list(p) for p in partitions], schema=list(spec.partition_by), orient="row"
            )
            if wanted.is_empty():
                return typed_empty
            for column in spec.partition_by:
                scan = scan.filter(
                    pl.col(column)
                    .cast(pl.String)
                    .is_in(wanted[column].cast(pl.String).unique().implode())
                )
            frame = scan.collect().join(
                wanted.with_columns(pl.all().cast(pl.String)),
                left_on=[pl.col(c).cast(pl.String) for c in spec.partition_by],
                right_on=list(spec.partition_by),
                how="semi",
            )
        else:
            frame = scan.collect()
        if frame.is_empty():
            return typed_empty
        frame = self._conform(frame, typed_empty)
        if spec.sort_by and not _is_sorted(frame, spec.sort_by):
            frame = frame.sort(list(spec.sort_by), nulls_last=True, maintain_order=True)
        return frame

    @staticmethod
    def _conform(frame: pl.DataFrame, empty: pl.DataFrame) -> pl.DataFrame:
        """Return the model's columns, in order and typed.

        A column that an older mindmiles did not write (the model gained it since) reads as null.
        """
        missing = [
            pl.lit(None, dtype=empty.schema[c]).alias(c) for c in empty.columns if c not in frame
        ]
        return frame.with_columns(missing).select(empty.columns).cast(empty.schema)

    def stored_columns(self, name: str) -> list[str] | None:
        """Return the columns the table's Delta schema holds (partition columns excluded).

        ``None`` before its first write.
        """
        table = self._open(name)
        if table is None:
            return None
        partition = set(TABLES[name].partition_by)
        return [f.name for f in table.schema().fields if f.name not in partition]

    def is_outdated(self, name: str) -> bool:
        """Whether the table has other columns than its model now has.

        True for a table written by an older mindmiles; derived tables in that state are
        rebuilt whole.
        """
        stored = self.stored_columns(name)
        spec = TABLES[name]
        model = [c for c in spec.model.to_schema().columns if c not in spec.partition_by]
        return stored is not None and stored != model

    def reset(self, name: str) -> None:
        """Replace the table's content with no rows (its model's columns), in one commit."""
        self.replace(name, self._empty(TABLES[name]))

    def _typed_empty(self, spec: TableSpec) -> pl.DataFrame:
        """The model's empty frame plus the partition columns the model does not hold."""
        empty = self._empty(spec)
        extra = [c for c in spec.partition_by if c not in empty.columns]
        return empty.with_columns([pl.lit(None, dtype=pl.Int32).alias(c) for c in extra])

    def _empty(self, spec: TableSpec) -> pl.DataFrame:
        schema = spec.model.to_schema()
        columns: dict[str, pl.DataType] = {}
        for name, column in schema.columns.items():
            dtype = column.dtype.type
            if isinstance(dtype, type) and issubclass(dtype, pl.DataType):
                dtype = dtype()
            if not isinstance(dtype, pl.DataType):
                raise TypeError(f"column {name!r} of {spec.name} has no Polars dtype")
            columns[name] = dtype
        return pl.DataFrame(schema=columns)

    # -- writing -----------------------------------------------------------------------------
    def _validated(self, spec: TableSpec, frame: pl.DataFrame) -> pl.DataFrame:
        """Validate ``frame`` against the table's model; partition columns ride along."""
        model_columns = spec.model.to_schema().columns
        extra = [c for c in spec.partition_by if c not in model_columns]
        frame = validate_table(spec.model, frame.drop(extra), table=spec.name).with_columns(
            frame.select([pl.col(c).cast(pl.Int32) for c in extra])
        )
        if spec.sort_by and not _is_sorted(frame, spec.sort_by):
            frame = frame.sort(list(spec.sort_by), nulls_last=True, maintain_order=True)
        return frame

    def _commit(self, name: str, attempt: Callable[[], T]) -> T:
        """Run one write; redo it when another writer's commit won the race."""
        from deltalake.exceptions import CommitFailedError

        for tries in range(1, COMMIT_ATTEMPTS + 1):
            try:
                with private_files():
                    return attempt()
            except CommitFailedError as exc:
                if tries == COMMIT_ATTEMPTS:
                    raise WarehouseError(
                        f"could not commit to {name}: other writers kept winning ({exc})"
                    ) from exc
                log.info("commit to %s lost a race with another writer; redoing it", name)
                time.sleep(0.05 * 2**tries)
            except OSError as exc:
                raise WarehouseError(f"could not write table {name}: {exc.strerror}") from exc
        raise AssertionError("unreachable")

    def _write(
        self,
        name: str,
        frame: pl.DataFrame,
        *,
        predicate: str | None = None,
        mode: str = "overwrite",
    ) -> None:
        from deltalake import write_deltalake

        spec = TABLES[name]
        partition_by = list(spec.partition_by) or None
        if mode == "append":
            write_deltalake(
                self.table_uri(name),
                frame.to_arrow(),
                mode="append",
                partition_by=partition_by,
                schema_mode="merge",
            )
            return
        exists = self._open(name) is not None
        write_deltalake(
            self.table_uri(name),
            frame.to_arrow(),
            mode="overwrite",
            partition_by=partition_by,
            predicate=predicate if exists else None,
            schema_mode="overwrite" if predicate is None else "merge",
        )

    def replace(self, name: str, frame: pl.DataFrame) -> None:
        """Validate ``frame`` and make it the table's whole content, in one commit.

        A partitioned table's frame carries its partition columns (``year``) beside the schema's.
        """
        spec = TABLES[name]
        frame = self._validated(spec, frame)
        self._commit(name, lambda: self._write(name, frame))

    def upsert(
        self,
        name: str,
        frame: pl.DataFrame,
        *,
        partition_values: pl.DataFrame | None = None,
        new: bool = False,
    ) -> None:
        """Replace the rows whose key appears in ``frame`` and add the new ones, in one commit.

        A table keyed by one column rewrites only the files holding rows being replaced (for a
        partitioned table, looking only in the partitions that ``frame``, and
        ``partition_values`` where replaced rows may live, touch). ``new`` says that no key of
        ``frame`` is in the table yet: the rows are appended without looking (a blind append,
        which never conflicts with another writer's commit).
        """
        spec = TABLES[name]
        frame = self._validated(spec, frame)
        if frame.is_empty():
            return
        if not new and not spec.partition_by:
            # Small tables: their key columns say at once whether any key is held already.
            held = self.keys(name)
            new = held is None or frame.join(held, on=list(spec.key), how="semi").is_empty()
        if new:
            self._commit(name, lambda: self._write(name, frame, mode="append"))
        elif len(spec.key) == 1:
            predicate = self._key_predicate(spec, frame, partition_values)
            self._commit(name, lambda: self._write(name, frame, predicate=predicate))
        else:
            self._commit(name, lambda: self._upsert_whole(name, frame))

    def keys(self, name: str) -> pl.DataFrame | None:
        """The table's key columns only (``None`` before its first write)."""
        table = self._open(name)
        if table is None:
            return None
        spec = TABLES[name]
        if not table.file_uris():
            return self._typed_empty(spec).select(spec.key)
        return pl.scan_delta(table).select(spec.key).collect()

    def compact(self, *, max_files: int = 16) -> list[str]:
        """Merge the small files that appends leave into fewer, larger ones; return the tables.

        Only tables (or, for ``samples``, partitions) holding more than ``max_files`` files are
        rewritten, one commit each; the replaced files go at the next :meth:`vacuum`.
        """
        compacted = []
        for name, spec in TABLES.items():
            table = self._open(name)
            if table is None:
                continue
            files = table.file_uris()
            if spec.partition_by:
                per_partition: Counter[tuple[str, ...]] = Counter()
                for uri in files:
                    parts = uri.split("/")[-1 - len(spec.partition_by) : -1]
                    per_partition[tuple(part.split("=", 1)[1] for part in parts)] += 1
                crowded = [values for values, n in per_partition.items() if n > max_files]
                for values in crowded:
                    filters = [(c, "=", v) for c, v in zip(spec.partition_by, values, strict=True)]
                    with private_files():
                        table.optimize.compact(partition_filters=filters)
                    table = self._open(name) or table
                if crowded:
                    compacted.append(name)
            elif len(files) > max_files:
                with private_files():
                    table.optimize.compact()
                compacted.append(name)
        if compacted:
            log.info("compacted %s", ", ".join(compacted))
        return compacted

    def _upsert_whole(self, name: str, frame: pl.DataFrame) -> None:
        spec = TABLES[name]
        current = self.read(name)
        keys = frame.select(spec.key).unique()
        kept = current.join(keys, on=list(spec.key), how="anti")
        whole = pl.concat([kept, frame.select(kept.columns)], how="vertical_relaxed")
        self._write(name, self._validated(spec, whole))

    @staticmethod
    def _key_predicate(
        spec: TableSpec, frame: pl.DataFrame, partition_values: pl.DataFrame | None
    ) -> str:
        """``<partitions> AND <key> IN (...)``: the rows being replaced, with partition pruning."""
        (key,) = spec.key
        clauses = []
        if spec.partition_by:
            touched = frame.select(spec.partition_by)
            if partition_values is not None:
                touched = pl.concat(
                    [touched, partition_values.select(spec.partition_by).cast(touched.schema)]
                )
            clauses = [_in_list(c, touched[c].unique().to_list()) for c in spec.partition_by]
        clauses.append(_in_list(key, frame[key].unique().to_list()))
        return " AND ".join(f"({c})" for c in clauses)

    def delete(
        self, name: str, keys: pl.DataFrame, *, partition_values: pl.DataFrame | None = None
    ) -> None:
        """Remove the rows whose key appears in ``keys``, in one commit.

        For a partitioned table, ``partition_values`` names the partitions that may hold them
        (only their files are opened); without it every partition is checked.
        """
        spec = TABLES[name]
        table = self._open(name)
        if table is None or keys.is_empty():
            return
        on = list(spec.key)
        if not spec.partition_by:
            self._commit(
                name,
                lambda: self._write(
                    name,
                    self._validated(spec, self.read(name).join(keys.select(on), on=on, how="anti")),
                ),
            )
            return
        clauses = []
        if partition_values is not None:
            clauses = [
                _in_list(c, partition_values[c].unique().to_list()) for c in spec.partition_by
            ]
        (key,) = on
        clauses.append(_in_list(key, keys[key].unique().to_list()))
        predicate = " AND ".join(f"({c})" for c in clauses)
        self._commit(name, lambda: self._delete_where(name, predicate))

    def _delete_where(self, name: str, predicate: str) -> None:
        table = self._open(name)
        if table is not None:
            table.delete(predicate)

    def count_client(self, name: str, client_id: str) -> int:
        """How many rows of the table belong to ``client_id`` (0 for a table never written)."""
        table = self._open(name)
        if table is None or not table.file_uris():
            return 0
        rows = pl.scan_delta(table).filter(pl.col("client_id") == client_id).select(pl.len())
        return int(rows.collect().item())  # partitions and file statistics prune the scan

    def delete_client(self, name: str, client_id: str) -> int:
        """Remove every row of ``client_id`` from the table, in one commit; return how many.

        Nothing is written when the table holds none of them. The removed rows stay in the
        table's history (older versions, the Delta log) until :meth:`purge_history`.
        """
        held = self.count_client(name, client_id)
        if held:
            predicate = _in_list("client_id", [client_id])
            self._commit(name, lambda: self._delete_where(name, predicate))
        return held

    def replace_clients(self, name: str, frame: pl.DataFrame | None, clients: pl.DataFrame) -> None:
        """Replace all rows of the given clients (``client_id`` frame) with ``frame``'s rows.

        Clients with no row in ``frame`` end with no rows; other clients are untouched.
        """

        def attempt() -> None:
            spec = TABLES[name]
            current = self.read(name)
            kept = current.join(clients.select("client_id"), on="client_id", how="anti")
            if frame is not None and frame.height:
                kept = pl.concat([kept, frame.select(kept.columns)], how="vertical_relaxed")
            self._write(name, self._validated(spec, kept))

        self._commit(name, attempt)

    def ensure_all(self) -> list[str]:
        """Give every table that has never been written an empty version; return their names.

        Each table of :data:`~warehouse.tables.TABLES` (restricted ones included) then exists,
        so that readers find every documented table even when nothing fed it (no journal, no
        plan, no monitoring file). The empty table is typed by its model and committed like any
        other write. Tables that exist are left untouched, so a second call writes nothing.

        Returns
        -------
        list[str]
            The tables given an empty version, in the order of ``TABLES``.

        Examples
        --------
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     store = TableStore(Path(tmp))
        ...     first, again = store.ensure_all(), store.ensure_all()
        ...     rows = store.read("daily_wellness").height
        >>> "daily_wellness" in first, rows, again
        (True, 0, [])
        """
        created = []
        for name in TABLES:
            if self._open(name) is None:
                self.replace(name, self.read(name))
                created.append(name)
        if created:
            log.info("created %d empty table(s): %s", len(created), ", ".join(created))
        return created

    # -- housekeeping ------------------------------------------------------------------------
    def vacuum(self, *, full: bool = False, dry_run: bool = False) -> int:
        """Delete files no current version needs (older than ``history_days``); return how many.

        ``full`` also deletes files no commit ever referenced (left by a killed writer); call it
        only while holding the warehouse's writer lock, since a running writer's files are not
        committed yet. ``dry_run`` only counts them.
        """
        removed = 0
        hours = round(self.history_days * 24)
        for name in TABLES:
            table = self._open(name)
            if table is None:
                continue
            with private_files():
                doomed = table.vacuum(
                    retention_hours=hours, dry_run=True, enforce_retention_duration=False, full=full
                )
                root = local_path(self.table_uri(name))
                if root is not None:  # a tombstone stays listed after its file is gone
                    doomed = [f for f in doomed if (root / f).exists()]
                if doomed and not dry_run:
                    table.vacuum(
                        retention_hours=hours,
                        dry_run=False,
                        enforce_retention_duration=False,
                        full=full,
                    )
            removed += len(doomed)
        if removed and not dry_run:
            log.info("vacuum: removed %d table file(s) no version needs", removed)
        return removed

    def purge_history(self, name: str) -> None:
        """Keep nothing of the table but its current version: no old file, log entry or folder.

        For rewrites that must not leave the replaced values anywhere (a key rotation, an
        erasure): old data files are deleted, the log is checkpointed and every earlier commit
        (whose statistics and partition values quote old values) removed, then the table's usual
        retention is restored.
        """
        from deltalake import DeltaTable

        table = self._open(name)
        if table is None:
            return
        with private_files():
            table.alter.set_table_properties(
                {
                    "delta.logRetentionDuration": "interval 0 days",
                    "delta.deletedFileRetentionDuration": "interval 0 days",
                }
            )
            table = DeltaTable(self.table_uri(name))
            table.vacuum(
                retention_hours=0, dry_run=False, enforce_retention_duration=False, full=True
            )
            table = DeltaTable(self.table_uri(name))
            table.create_checkpoint()
            table.cleanup_metadata()
            table.alter.set_table_properties(
                {
                    "delta.logRetentionDuration": DEFAULT_LOG_RETENTION,
                    "delta.deletedFileRetentionDuration": DEFAULT_FILE_RETENTION,
                }
            )
        self._forget(name)
        root = local_path(self.table_uri(name))
        if root is not None:  # partition folders named after values no row holds any more
            for folder in sorted(root.rglob("*=*"), key=lambda p: len(p.parts), reverse=True):
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()

    def clean_stale(self, before_removing: Callable[[], object] | None = None) -> int:
        """Before a run: migrate a pre-Delta warehouse, then remove what killed writers left.

        ``before_removing`` runs first when there is something to remove (the run points the
        DuckDB views at the current files, since a killed run may have left them on old ones).
        """
        self.migrate_legacy()
        if not self.vacuum(full=True, dry_run=True):
            return 0
        if before_removing is not None:
            before_removing()
        return self.vacuum(full=True)

    def migrate_legacy(self) -> list[str]:
        """Turn the tables of a pre-Delta warehouse (Parquet versions behind symlinks) into Delta.

        Each table is read through its symlink, written as a Delta table beside it, and put in
        its place; a run killed half-way finishes the move on the next call. Returns the tables
        migrated.
        """
        root = local_path(self.root)
        if root is None or not (root / LEGACY_VERSIONS).is_dir():
            return []
        from deltalake import write_deltalake

        migrated = []
        staging = root / ".migrate"
        for name in TABLES:
            link = self.table_path(name)
            staged = staging / name
            if link.is_symlink():
                frame = self._conform(
                    _read_legacy(link, TABLES[name]), self._typed_empty(TABLES[name])
                )
                shutil.rmtree(staged, ignore_errors=True)
                with private_files():
                    staged.parent.mkdir(parents=True, exist_ok=True)
                    write_deltalake(
                        str(staged),
                        self._validated(TABLES[name], frame).to_arrow(),
                        mode="overwrite",
                        partition_by=list(TABLES[name].partition_by) or None,
                    )
                link.unlink()
            if staged.is_dir() and not link.exists():
                staged.rename(link)
                migrated.append(name)
        self._opened.clear()
        shutil.rmtree(root / LEGACY_VERSIONS, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)
        if migrated:
            log.warning("moved %d table(s) to Delta Lake: %s", len(migrated), ", ".join(migrated))
        return migrated


def _read_legacy(link: Path, spec: TableSpec) -> pl.DataFrame:
    """Read a pre-Delta table version (``data.parquet`` or hive partition folders)."""
    files = sorted(link.resolve().rglob("*.parquet"))
    frames = [pl.DataFrame()]
    for file in files:
        parts = file.relative_to(link.resolve()).parts[:-1]
        values = [part.split("=", 1)[1] for part in parts]
        frames.append(
            pl.read_parquet(file).with_columns(
                [pl.lit(v).alias(c) for c, v in zip(spec.partition_by, values, strict=True)]
            )
        )
    return pl.concat(frames, how="diagonal_relaxed")
