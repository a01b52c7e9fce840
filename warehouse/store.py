"""Atomic, versioned Parquet tables.

Layout::

    <warehouse>/<table>            -> symlink to .versions/<table>/<version>/
    <warehouse>/.versions/<table>/<version>/data.parquet              (unpartitioned)
    <warehouse>/.versions/<table>/<version>/client_id=<id>/year=<y>/part-<hash>.parquet

A write builds a complete new version folder next to the current one, flushes it to disk, then
swaps the table's symlink with one ``rename`` (atomic on POSIX). A reader — DuckDB, Polars, pandas
reading ``<warehouse>/<table>/**/*.parquet`` — sees either the old or the new version, never a mix;
a killed writer leaves only an unreferenced folder, removed by the next run
(:meth:`TableStore.clean_stale`). Partition files a write does not touch are hard-linked from the
previous version, and new rows of a partitioned table go to a new file of their partition, so an
incremental write costs only what it adds (a file holding rows being replaced is rewritten).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from schemas.base import validate_frame
from schemas.errors import WarehouseError
from warehouse.files import fsync_dir
from warehouse.tables import TABLES, TableSpec

__all__ = ["TableStore"]

log = logging.getLogger(__name__)

DATA_FILE = "data.parquet"
VERSIONS = ".versions"
ROW_GROUP_SIZE = 1_000_000
FILE_MODE = 0o600
DIR_MODE = 0o700


@contextmanager
def _removed_on_failure(version: Path) -> Iterator[None]:
    """Remove the version folder being built if the block raises (anything, even Ctrl-C)."""
    try:
        yield
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise


def _part_name(part: pl.DataFrame, spec: TableSpec) -> str:
    """A partition file's name, from the keys it holds: the same rows always get the same name."""
    digest = hashlib.sha256()
    for value in part.select(spec.key).unique().sort(list(spec.key)).rows():
        digest.update(repr(value).encode())
    return f"part-{digest.hexdigest()[:16]}.parquet"


def _partition_dir(values: Iterable[object], columns: Iterable[str]) -> str:
    return "/".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))


class TableStore:
    """Read and atomically replace the warehouse's Parquet tables."""

    def __init__(self, root: Path) -> None:
        # Absolute, so that version folders compare equal to the resolved table links whatever
        # the working directory (a relative root once made clean_stale remove current versions).
        self.root = root.absolute()

    # -- paths -------------------------------------------------------------------------------
    def table_path(self, name: str) -> Path:
        """Path analysts read: ``<warehouse>/<table>`` (a symlink to the current version)."""
        spec = TABLES[name]
        base = self.root / "restricted" if spec.restricted else self.root
        return base / name

    def _versions_dir(self, name: str) -> Path:
        return self.root / VERSIONS / name

    def current_version(self, name: str) -> Path | None:
        """Folder of the table's current version, or ``None`` before its first write."""
        link = self.table_path(name)
        if not link.is_symlink():
            return None
        return link.resolve()

    def exists(self) -> bool:
        """Whether this folder is a mindmiles warehouse: a run has written its state or a table."""
        return (self.root / ".state").is_dir() or any(
            self.table_path(name).is_symlink() for name in TABLES
        )

    # -- reading -----------------------------------------------------------------------------
    def read(
        self, name: str, *, partitions: Iterable[tuple[object, ...]] | None = None
    ) -> pl.DataFrame:
        """Read a whole table (or only the given partitions) as an eager, schema-typed frame."""
        spec = TABLES[name]
        version = self.current_version(name)
        empty = self._empty(spec)
        extra = [c for c in spec.partition_by if c not in empty.columns]
        if version is None:
            return empty.with_columns([pl.lit(None, dtype=pl.Int32).alias(c) for c in extra])
        if not spec.partition_by:
            return self._conform(pl.read_parquet(version / DATA_FILE), empty)
        wanted = None if partitions is None else {tuple(str(v) for v in p) for p in partitions}
        frames = []
        for file, values in self._partition_files(version, spec):
            if wanted is not None and tuple(values) not in wanted:
                continue
            frame = pl.read_parquet(file).with_columns(
                [pl.lit(v).alias(c) for c, v in zip(spec.partition_by, values, strict=True)]
            )
            frames.append(frame)
        if not frames:
            return empty.with_columns([pl.lit(None, dtype=pl.Int32).alias(c) for c in extra])
        frame = pl.concat(frames, how="diagonal_relaxed")
        frame = frame.with_columns([pl.col(c).cast(pl.Int32) for c in extra])
        frame = self._conform(frame, empty).with_columns(frame.select(extra))
        if spec.sort_by:
            # A partition may hold several files (one per write): a stable order for readers.
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
        """Return the columns of the table's current files (partition columns excluded).

        ``None`` before its first write or when it holds no file.
        """
        version = self.current_version(name)
        if version is None:
            return None
        files = sorted(version.rglob("*.parquet"))
        return list(pl.read_parquet_schema(files[0])) if files else None

    def is_outdated(self, name: str) -> bool:
        """Whether the table's files have other columns than its model now has.

        True for a table written by an older mindmiles; derived tables in that state are
        rebuilt whole.
        """
        stored = self.stored_columns(name)
        spec = TABLES[name]
        model = [c for c in spec.model.to_schema().columns if c not in spec.partition_by]
        return stored is not None and stored != model

    def reset(self, name: str) -> None:
        """Replace the table's content with no rows (its model's columns), atomically."""
        self.replace(name, self._empty(TABLES[name]))

    def _partition_files(self, version: Path, spec: TableSpec) -> list[tuple[Path, list[str]]]:
        found = []
        for file in sorted(version.rglob("*.parquet")):
            parts = file.relative_to(version).parts[:-1]
            values = [part.split("=", 1)[1] for part in parts]
            found.append((file, values))
        return found

    def _empty(self, spec: TableSpec) -> pl.DataFrame:
        schema = spec.model.to_schema()
        dtypes = {name: column.dtype.type for name, column in schema.columns.items()}
        columns: dict[str, pl.DataType] = {}
        for name, dtype in dtypes.items():
            if isinstance(dtype, type) and issubclass(dtype, pl.DataType):
                dtype = dtype()
            if not isinstance(dtype, pl.DataType):
                raise TypeError(f"column {name!r} of {spec.name} has no Polars dtype")
            columns[name] = dtype
        return pl.DataFrame(schema=columns)

    # -- writing -----------------------------------------------------------------------------
    def replace(self, name: str, frame: pl.DataFrame) -> None:
        """Validate ``frame`` and make it the table's whole content, atomically.

        A partitioned table's frame carries its partition columns (``year``) beside the schema's.
        """
        spec = TABLES[name]
        extra = [c for c in spec.partition_by if c not in spec.model.to_schema().columns]
        frame = validate_frame(spec.model, frame.drop(extra)).with_columns(frame.select(extra))
        if spec.sort_by:
            frame = frame.sort(list(spec.sort_by), nulls_last=True, maintain_order=True)
        new_version = self._new_version_dir(name)
        with _removed_on_failure(new_version):
            if spec.partition_by:
                self._write_partitions(new_version, spec, frame)
            else:
                self._write_file(frame, new_version / DATA_FILE)
            self._commit(name, new_version)

    def upsert(
        self, name: str, frame: pl.DataFrame, *, partition_values: pl.DataFrame | None = None
    ) -> None:
        """Replace the rows whose key appears in ``frame`` and add the new ones, atomically.

        For a partitioned table only the partitions that ``frame`` touches are rewritten; the rest
        are hard-linked from the current version.
        """
        spec = TABLES[name]
        if not spec.partition_by:
            current = self.read(name)
            keys = frame.select(spec.key).unique()
            kept = current.join(keys, on=list(spec.key), how="anti")
            self.replace(
                name, pl.concat([kept, frame.select(kept.columns)], how="vertical_relaxed")
            )
            return
        model_columns = list(spec.model.to_schema().columns)
        extra = [c for c in spec.partition_by if c not in model_columns]
        frame = validate_frame(spec.model, frame.drop(extra)).with_columns(frame.select(extra))
        if spec.sort_by:
            frame = frame.sort(list(spec.sort_by), nulls_last=True, maintain_order=True)
        previous = self.current_version(name)
        touched = (
            frame.select(spec.partition_by).unique().rows()
            if partition_values is None
            else partition_values.rows()
        )
        touched_str = {tuple(str(v) for v in row) for row in touched}
        keys = frame.select(spec.key).unique()
        new_version = self._new_version_dir(name)
        with _removed_on_failure(new_version):
            if previous is not None:
                self._carry_over(previous, new_version, spec, keys=keys, touched=touched_str)
            self._write_partitions(new_version, spec, frame)
            self._commit(name, new_version)

    def _carry_over(
        self,
        previous: Path,
        version: Path,
        spec: TableSpec,
        *,
        keys: pl.DataFrame,
        touched: set[tuple[str, ...]],
    ) -> None:
        """Hard-link the previous version's files into ``version``, minus rows being replaced.

        Only files of touched partitions are opened (their key columns only); a file holding rows
        whose key is being written again is rewritten without them.
        """
        for file, values in self._partition_files(previous, spec):
            target = version / file.relative_to(previous)
            target.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            if tuple(values) in touched:
                held = pl.read_parquet(file, columns=list(spec.key))
                if held.join(keys, on=list(spec.key), how="semi").height:
                    rest = pl.read_parquet(file).join(keys, on=list(spec.key), how="anti")
                    if rest.height:
                        self._write_file(rest, target)
                    continue
            os.link(file, target)

    def delete(
        self, name: str, keys: pl.DataFrame, *, partition_values: pl.DataFrame | None = None
    ) -> None:
        """Remove the rows whose key appears in ``keys``, atomically.

        For a partitioned table, ``partition_values`` names the partitions that may hold them
        (only their files are opened); without it every partition is checked.
        """
        spec = TABLES[name]
        previous = self.current_version(name)
        if previous is None or keys.is_empty():
            return
        on = list(spec.key)
        if not spec.partition_by:
            self.replace(name, self.read(name).join(keys.select(on), on=on, how="anti"))
            return
        touched = (
            {tuple(values) for _, values in self._partition_files(previous, spec)}
            if partition_values is None
            else {tuple(str(v) for v in row) for row in partition_values.rows()}
        )
        new_version = self._new_version_dir(name)
        with _removed_on_failure(new_version):
            self._carry_over(previous, new_version, spec, keys=keys.select(on), touched=touched)
            self._commit(name, new_version)

    def replace_clients(self, name: str, frame: pl.DataFrame | None, clients: pl.DataFrame) -> None:
        """Replace all rows of the given clients (``client_id`` frame) with ``frame``'s rows.

        Clients with no row in ``frame`` end with no rows; other clients are untouched.
        """
        current = self.read(name)
        kept = current.join(clients.select("client_id"), on="client_id", how="anti")
        if frame is not None and frame.height:
            kept = pl.concat([kept, frame.select(kept.columns)], how="vertical_relaxed")
        self.replace(name, kept)

    def ensure_all(self) -> list[str]:
        """Give every table that has never been written an empty version; return their names.

        Each table of :data:`~warehouse.tables.TABLES` (restricted ones included) then exists on
        disk, so that readers find every documented table even when nothing fed it (no journal,
        no plan, no monitoring file). The empty version is written like any other: typed by the
        table's model, validated, committed atomically; an empty partitioned table is a version
        folder without files. Tables that have a version are left untouched, so a second call
        writes nothing.

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
            if self.current_version(name) is None:
                self.replace(name, self.read(name))
                created.append(name)
        if created:
            log.info("created %d empty table(s): %s", len(created), ", ".join(created))
        return created

    def _new_version_dir(self, name: str) -> Path:
        versions = self._versions_dir(name)
        versions.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        path = versions / f"v-{uuid.uuid4().hex}.tmp"
        path.mkdir(mode=DIR_MODE)
        return path

    def _write_file(self, frame: pl.DataFrame, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        try:
            frame.write_parquet(
                path, compression="zstd", statistics=True, row_group_size=ROW_GROUP_SIZE
            )
            path.chmod(FILE_MODE)
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        except OSError as exc:
            raise WarehouseError(f"could not write a table file: {exc.strerror}") from exc

    def _write_partitions(self, version: Path, spec: TableSpec, frame: pl.DataFrame) -> None:
        for values, part in frame.group_by(list(spec.partition_by), maintain_order=True):
            folder = version / _partition_dir(values, spec.partition_by)
            self._write_file(part.drop(list(spec.partition_by)), folder / _part_name(part, spec))

    def _commit(self, name: str, new_version: Path) -> None:
        final = new_version.with_suffix("")
        new_version.rename(final)
        link = self.table_path(name)
        link.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        tmp_link = link.with_name(f".{name}.{uuid.uuid4().hex}.link")
        tmp_link.symlink_to(os.path.relpath(final, link.parent))
        old = self.current_version(name)
        tmp_link.replace(link)
        fsync_dir(link.parent)
        if old is not None and old != final:
            shutil.rmtree(old, ignore_errors=True)

    def clean_stale(self) -> int:
        """Remove version folders and temporary links that no table points to; return how many."""
        removed = 0
        versions_root = self.root / VERSIONS
        if not versions_root.exists():
            return 0
        for table_dir in versions_root.iterdir():
            name = table_dir.name
            current = self.current_version(name) if name in TABLES else None
            for version in table_dir.iterdir():
                if version.resolve() != current:
                    shutil.rmtree(version, ignore_errors=True)
                    removed += 1
        for base in (self.root, self.root / "restricted"):
            if base.exists():
                for tmp in base.glob(".*.link"):
                    tmp.unlink(missing_ok=True)
                    removed += 1
        if removed:
            log.info("removed %d stale temporary items left by an interrupted run", removed)
        return removed
