"""Objects on S3-compatible storage, through :mod:`obstore` (the one module that calls it).

Credentials, region and endpoint come from the standard ``AWS_*`` environment variables
(``AWS_ENDPOINT_URL`` and ``AWS_ALLOW_HTTP=true`` for a store on plain HTTP, such as a test
server on loopback). Every failure is raised as :class:`~schemas.errors.WarehouseError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from schemas.errors import WarehouseError
from warehouse.location import is_remote

__all__ = [
    "ObjectInfo",
    "copy_object",
    "create_object",
    "delete_object",
    "list_objects",
    "read_object",
    "read_object_version",
    "read_source",
    "replace_object_if",
    "write_object",
]


@dataclass(frozen=True)
class ObjectInfo:
    """One object under a prefix."""

    key: str
    """Path relative to the prefix listed."""
    size: int
    modified: dt.datetime


@cache
def _store(bucket_url: str) -> Any:
    from obstore.store import from_url

    return from_url(bucket_url)


def _split(uri: str) -> tuple[Any, str]:
    parts = urlsplit(uri)
    return _store(f"{parts.scheme}://{parts.netloc}"), parts.path.lstrip("/")


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Obstore's errors, translated at the boundary: a missing object is FileNotFoundError."""
    from obstore.exceptions import NotFoundError

    try:
        yield
    except FileNotFoundError:
        raise
    except NotFoundError as exc:
        raise FileNotFoundError(what) from exc
    except Exception as exc:
        raise WarehouseError(f"object storage: could not {what} ({type(exc).__name__})") from exc


def read_object(uri: str) -> bytes | None:
    """The object's bytes, or ``None`` when there is none."""
    data = read_object_version(uri)
    return None if data is None else data[0]


def read_object_version(uri: str) -> tuple[bytes, str | None] | None:
    """The object's bytes and its ETag (for :func:`replace_object_if`), or ``None``."""
    import obstore

    store, key = _split(uri)
    try:
        with _translated(f"read {uri}"):
            result = obstore.get(store, key)
            return bytes(result.bytes()), result.meta.get("e_tag")
    except FileNotFoundError:
        return None


def write_object(uri: str, data: bytes) -> None:
    """Write the object whole (object stores never show half an object)."""
    import obstore

    store, key = _split(uri)
    with _translated(f"write {uri}"):
        obstore.put(store, key, data)


def create_object(uri: str, data: bytes) -> bool:
    """Create the object only if it does not exist; ``False`` when it does (a conditional put)."""
    return _conditional_put(uri, data, "create")


def replace_object_if(uri: str, data: bytes, e_tag: str | None) -> bool:
    """Overwrite the object only if it is still the version ``e_tag``; ``False`` otherwise."""
    return _conditional_put(uri, data, {"e_tag": e_tag} if e_tag else "create")


def _conditional_put(uri: str, data: bytes, mode: Any) -> bool:
    """Put under a condition; ``False`` when the condition does not hold (another writer won)."""
    import obstore
    from obstore.exceptions import AlreadyExistsError, NotFoundError, PreconditionError

    store, key = _split(uri)
    with _translated(f"write {uri}"):
        try:
            obstore.put(store, key, data, mode=mode)
        except (AlreadyExistsError, PreconditionError, NotFoundError):
            return False
    return True


def delete_object(uri: str) -> None:
    """Delete the object; nothing happens when it is already gone."""
    import obstore

    store, key = _split(uri)
    try:
        with _translated(f"delete {uri}"):
            obstore.delete(store, key)
    except FileNotFoundError:
        return


def copy_object(source: str, target: str) -> None:
    """Copy an object within its bucket (server side)."""
    import obstore

    store, key = _split(source)
    _, target_key = _split(target)
    with _translated(f"copy {source}"):
        obstore.copy(store, key, target_key)


def list_objects(prefix_uri: str) -> list[ObjectInfo]:
    """Every object under ``prefix_uri``, with keys relative to it, sorted."""
    import obstore

    store, prefix = _split(prefix_uri)
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    found = []
    with _translated(f"list {prefix_uri}"):
        for chunk in obstore.list(store, prefix=prefix or None):
            for meta in chunk:
                found.append(
                    ObjectInfo(
                        key=str(meta["path"])[len(prefix) :],
                        size=int(meta["size"]),
                        modified=meta["last_modified"],
                    )
                )
    return sorted(found, key=lambda info: info.key)


def read_source(where: str) -> bytes:
    """The bytes of a file given as a local path or an object-store URI.

    Raises
    ------
    FileNotFoundError
        There is no such file or object (moved since it was found).
    """
    if not is_remote(where):
        return Path(where).read_bytes()
    data = read_object(where)
    if data is None:
        raise FileNotFoundError(where)
    return data
