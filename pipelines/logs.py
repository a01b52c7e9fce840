"""Where the command line's log records go: the terminal, and a file in the warehouse's state folder.

Configured once, at the entry point (``mindmiles ...`` or ``python -m pipelines.serve``); modules
only call ``logging.getLogger(__name__)``.

- The terminal (stderr) shows warnings and errors; ``--verbose`` adds what a run does (INFO),
  ``-vv`` everything (DEBUG), ``--quiet`` leaves only errors. ``serve`` talks by default (INFO).
- ``<warehouse>/.state/logs/mindmiles.log`` keeps the project's INFO records of every command run
  on a local warehouse (rotated at 5 MiB, 3 old files kept, readable by the owner only), once the
  warehouse exists: a command refused before its first run, or given a mistyped folder, leaves no
  folder behind. Log records carry counts and reason codes, never client codes, names or file
  contents.
"""

from __future__ import annotations

import argparse
import io
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import TextIO

from warehouse.location import Where, is_remote
from warehouse.state import state_location

__all__ = [
    "LOG_NAME",
    "PROJECT_LOGGERS",
    "WarehouseLogFile",
    "add_verbosity_arguments",
    "configure_logging",
    "console_level",
    "log_file_of",
]

LOG_NAME = "logs/mindmiles.log"
"""The log file, under the warehouse's ``.state`` folder."""
PROJECT_LOGGERS = ("mindmiles", "pipelines", "warehouse", "ingest", "clinic", "transform", "report")
"""The project's module loggers (the file gets theirs only: no library chatter)."""
LOG_FILE_BYTES = 5 * 1024 * 1024
LOG_FILE_BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_MARK = "_mindmiles_handler"


def console_level(verbose: int, *, quiet: bool, default: int = logging.WARNING) -> int:
    """The terminal's level: ``default``, one step finer per ``--verbose``, ERROR when quiet.

    Examples
    --------
    >>> [logging.getLevelName(console_level(v, quiet=False)) for v in (0, 1, 2)]
    ['WARNING', 'INFO', 'DEBUG']
    >>> logging.getLevelName(console_level(0, quiet=True, default=logging.INFO))
    'ERROR'
    """
    if quiet:
        return logging.ERROR
    return max(logging.DEBUG, default - 10 * verbose)


def log_file_of(warehouse: Where) -> Path | None:
    """``<warehouse>/.state/logs/mindmiles.log`` for a local warehouse, ``None`` on object storage."""
    if is_remote(warehouse):
        return None
    return Path(state_location(warehouse, LOG_NAME))


class WarehouseLogFile(logging.handlers.RotatingFileHandler):
    """The warehouse's log file: written only once ``<warehouse>/.state`` exists, owner-only.

    Records logged before a first run has made the state folder are not kept (nothing is created
    in a folder that may be a typo); each file, rotated ones included, is created with mode 0600.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(
            path,
            maxBytes=LOG_FILE_BYTES,
            backupCount=LOG_FILE_BACKUPS,
            encoding="utf-8",
            delay=True,
        )
        self.path = path

    def _open(self) -> io.TextIOWrapper:
        self.path.parent.mkdir(exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, "a", encoding=self.encoding)

    def emit(self, record: logging.LogRecord) -> None:
        """Write ``record`` when the warehouse's state folder exists; otherwise drop it."""
        if self.stream is None and not self.path.parent.parent.is_dir():
            return
        super().emit(record)


def configure_logging(
    level: int,
    *,
    warehouse: Where | None = None,
    stream: TextIO | None = None,
    own_console: bool = False,
) -> Path | None:
    """Send the project's records to the terminal at ``level`` and to the log file at INFO.

    Parameters
    ----------
    level
        The terminal's level (:func:`console_level`).
    warehouse
        The command's warehouse; its log file gets the project's INFO records. ``None``, or a
        warehouse on object storage: no file.
    stream
        The terminal (default ``sys.stderr``).
    own_console
        The project loggers get a terminal handler of their own and stop propagating (``serve``:
        Prefect replaces the root logger's handlers when it is imported). Otherwise the terminal
        handler goes on the root logger, only when it has none (a host such as pytest keeps its
        own).

    Returns
    -------
    Path | None
        The log file, when there is one.
    """
    formatter = logging.Formatter(FORMAT, "%Y-%m-%d %H:%M:%S")
    console = logging.StreamHandler(stream or sys.stderr)
    console.setFormatter(formatter)
    console.setLevel(level)
    setattr(console, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handlers: list[logging.Handler] = []
    if own_console:
        handlers.append(console)
    elif not root.handlers:
        root.addHandler(console)
    path = log_file_of(warehouse) if warehouse is not None else None
    if path is not None:
        file = WarehouseLogFile(path)
        file.setFormatter(formatter)
        file.setLevel(logging.INFO)
        setattr(file, _HANDLER_MARK, True)
        handlers.append(file)
    for name in PROJECT_LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
            logger.removeHandler(old)
            old.close()
        for handler in handlers:
            logger.addHandler(handler)
        # records are made down to the finer of the two levels; each handler filters its own
        logger.setLevel(min(level, logging.INFO) if path is not None else level)
        logger.propagate = not own_console
    # gpxpy logs a whole XML document at DEBUG on a parse error: never below INFO
    logging.getLogger("gpxpy").setLevel(logging.INFO)
    return path


def add_verbosity_arguments(parser: argparse.ArgumentParser) -> None:
    """``-v/--verbose`` (repeatable) and ``-q/--quiet`` on ``parser``."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="say more on the terminal (-v what a run does, -vv everything)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only on the terminal")
