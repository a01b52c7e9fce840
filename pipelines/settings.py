"""One typed settings object, built at the entry point and passed down."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ingest.archive import ArchiveLimits
from schemas.errors import ConfigError
from transform.config import Thresholds
from warehouse.location import Where, normalize
from warehouse.secret import default_key_file

__all__ = ["Settings", "read_thresholds"]


@dataclass(frozen=True)
class Settings:
    """Where things are and how a run behaves."""

    inbox: Where
    """The drop folder, or an object-store URI (``s3://bucket/inbox``)."""
    warehouse: Where
    """The warehouse folder, or an object-store URI (``s3://bucket/warehouse``)."""
    secret: str | None = None
    """Clinic secret; ``None`` to use (and create) :attr:`key_file`."""
    key_file: Path = field(default_factory=default_key_file)
    settle_seconds: float = 2.0
    """A file modified more recently than this is left for the next run."""
    batch_files: int = 64
    """Files per parsing batch (one Prefect task per batch)."""
    batch_bytes: int = 256 * 1024 * 1024
    """Bytes per parsing batch."""
    batches_per_wave: int = 2
    """Batches parsed before their rows are written (bounds a run's memory)."""
    derive_parallelism: int = 1
    """Chunks of clients the derivation is cut into at least: a cluster's worker threads (each
    derives some clients); here as few as the samples allow (each chunk costs every transform's
    fixed cost once). The values do not depend on the cut (``tests/test_derive_chunks.py``), so
    the local engine and a cluster write the same values."""
    lock_timeout_s: float = 3600.0
    """How long a run waits for another run holding the warehouse lock."""
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    thresholds: Thresholds = field(default_factory=Thresholds)
    """Every threshold of the derived tables and the report (``--config FILE`` overrides)."""
    config_file: Path | None = None
    """The threshold file :attr:`thresholds` was read from (passed on to flow runs)."""
    history_days: float = 0.0
    """Days that files replaced by a commit are kept for time travel (0: removed after each run)."""
    inbox_origin: str | None = None
    """The object-store inbox that :attr:`inbox` is a local copy of, during a run over one."""

    @classmethod
    def from_options(
        cls,
        *,
        inbox: str | Path | None,
        warehouse: str | Path | None,
        environ: Mapping[str, str] | None = None,
        config: str | Path | None = None,
        **overrides: object,
    ) -> Settings:
        """Build settings from command-line options, falling back on ``MINDMILES_*`` variables.

        ``config`` (or ``MINDMILES_CONFIG``) names a TOML file of thresholds
        (:meth:`transform.config.Thresholds.from_mapping`).

        Raises
        ------
        ConfigError
            The inbox or the warehouse is not given by either, or the config file is unreadable.
        """
        env = os.environ if environ is None else environ
        inbox = inbox or env.get("MINDMILES_INBOX")
        warehouse = warehouse or env.get("MINDMILES_WAREHOUSE")
        if not inbox:
            raise ConfigError("no inbox given: use --inbox DIR or set MINDMILES_INBOX")
        if not warehouse:
            raise ConfigError("no warehouse given: use --warehouse DIR or set MINDMILES_WAREHOUSE")
        key_file = env.get("MINDMILES_KEY_FILE")
        history = env.get("MINDMILES_KEEP_HISTORY_DAYS")
        extra: dict[str, object] = dict(overrides)
        config = config or env.get("MINDMILES_CONFIG")
        if config:
            extra.setdefault("thresholds", read_thresholds(Path(config)))
            extra.setdefault("config_file", Path(config).absolute())
        if key_file:
            extra.setdefault("key_file", Path(key_file))
        if history:
            try:
                extra.setdefault("history_days", float(history))
            except ValueError:
                raise ConfigError("MINDMILES_KEEP_HISTORY_DAYS is not a number of days") from None
        return cls(
            inbox=normalize(inbox),
            warehouse=normalize(warehouse),
            secret=env.get("MINDMILES_SECRET") or None,
            **extra,  # type: ignore[arg-type]
        )


def read_thresholds(path: Path) -> Thresholds:
    """Read a clinic's threshold file (TOML), refusing it in one line when it cannot be used.

    Raises
    ------
    ConfigError
        The file cannot be read, is not TOML, or names an unknown or invalid setting.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from exc
    try:
        return Thresholds.from_mapping(data)
    except ConfigError as exc:
        raise ConfigError(f"the config file {path}: {exc}") from exc
