"""XML hardening shared by the GPX, TCX and Apple Health readers.

Every XML document is first parsed with defusedxml, which refuses entity declarations (billion
laughs, quadratic blow-up) and external references (``file://`` or ``http://`` entities, external
DTDs) while accepting a plain internal DTD. Only a document that passes is handed to a library.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager

import defusedxml
import defusedxml.ElementTree as SafeET

from schemas.errors import CorruptFile, UnsafeInput

__all__ = [
    "UNDECLARED_PREFIX_URI",
    "clean_xml_bytes",
    "declare_unbound_prefixes",
    "parse_safe",
    "unknown_encoding",
    "unsafe_xml_refused",
]

BOM = b"\xef\xbb\xbf"


def clean_xml_bytes(data: bytes) -> bytes:
    """Strip a UTF-8 BOM and the leading whitespace some exporters (Strava TCX) write."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    return data.lstrip()


@contextmanager
def unsafe_xml_refused(subject: str = "file") -> Iterator[None]:
    """Turn defusedxml's refusals raised in the block into :class:`UnsafeInput` (``xml_entities``).

    Parameters
    ----------
    subject
        What the message calls the document: "This <subject> contains hidden XML instructions ...".

    Raises
    ------
    UnsafeInput
        The document declares entities or references external resources (or, with
        ``forbid_dtd=True``, has a DTD); ``detail`` names defusedxml's exception.

    Examples
    --------
    >>> try:
    ...     with unsafe_xml_refused("Apple Health export"):
    ...         SafeET.fromstring(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
    ... except UnsafeInput as exc:
    ...     print(exc.reason_code, exc.detail)
    ...     print(exc.message[:48])
    xml_entities EntitiesForbidden
    This Apple Health export contains hidden XML ins
    """
    try:
        yield
    except (
        defusedxml.EntitiesForbidden,
        defusedxml.ExternalReferenceForbidden,
        defusedxml.DTDForbidden,
    ) as exc:
        raise UnsafeInput(
            "xml_entities",
            f"This {subject} contains hidden XML instructions (entities or links to other files) "
            "that could be used to attack the system, so it was not opened.",
            detail=type(exc).__name__,
        ) from exc


def parse_safe(data: bytes, *, kind: str) -> ET.Element:
    """Parse XML bytes with entity and external-reference protection.

    Parameters
    ----------
    data
        The document's bytes.
    kind
        ``"gpx"`` or ``"tcx"``; used in reason codes (``gpx_malformed``, ``tcx_malformed``).

    Raises
    ------
    UnsafeInput
        The document declares entities or references external resources (``xml_entities``).
    CorruptFile
        The document is not well-formed XML.
    """
    with unsafe_xml_refused():
        try:
            root: ET.Element = SafeET.fromstring(clean_xml_bytes(data), forbid_dtd=False)
        except ET.ParseError as exc:
            raise CorruptFile(
                f"{kind}_malformed",
                f"This {kind.upper()} file is damaged (it is not valid XML) and could not be read.",
                detail=str(exc),
            ) from exc
        except LookupError as exc:  # expat: the declaration names an encoding that does not exist
            raise unknown_encoding(kind.upper(), f"{kind}_malformed", exc) from exc
    return root


def unknown_encoding(document: str, reason_code: str, error: LookupError) -> CorruptFile:
    """The refusal of a document whose XML declaration names an encoding that does not exist.

    Expat raises :class:`LookupError` (``unknown encoding: utg-8``) for it, not a parse error.
    """
    return CorruptFile(
        reason_code,
        f"This {document} file names a text encoding that does not exist in its first line, so "
        "its text could not be read. Please export it again.",
        detail=str(error),
    )


UNDECLARED_PREFIX_URI = "urn:mindmiles:undeclared-prefix:"
"""Namespace given to a prefix a document uses without declaring it (followed by the prefix)."""
_PREFIXED_TAG = re.compile(rb"</?([A-Za-z_][\w.\-]*):[A-Za-z_]")
_DECLARED_PREFIX = re.compile(rb"xmlns:([A-Za-z_][\w.\-]*)[ \t\r\n]*=")
_ROOT_START = re.compile(rb"<(?![?!])[^ \t\r\n/>]+")


def declare_unbound_prefixes(data: bytes) -> tuple[bytes, list[str]]:
    """Declare on the root element every tag prefix the document uses but never declares.

    Some exporters (a Strava GPX converter writing ``<gpxdata:cadence>``) use a namespace prefix
    without declaring it, which makes the document not namespace-well-formed: every XML parser
    refuses it. Declaring each such prefix with a namespace of its own
    (:data:`UNDECLARED_PREFIX_URI` + prefix) changes nothing else, and the readers, which match
    extension elements by local name, read them. Only the readers' retry after an
    ``unbound prefix`` error calls this.

    Returns
    -------
    tuple[bytes, list[str]]
        The document (BOM and leading white space stripped) with the declarations added, and the
        prefixes declared; the input unchanged and ``[]`` when no prefix is missing.

    Examples
    --------
    >>> fixed, prefixes = declare_unbound_prefixes(b"<gpx><a:hr>1</a:hr></gpx>")
    >>> fixed, prefixes
    (b'<gpx xmlns:a="urn:mindmiles:undeclared-prefix:a"><a:hr>1</a:hr></gpx>', ['a'])
    """
    clean = clean_xml_bytes(data)
    used = set(_PREFIXED_TAG.findall(clean)) - {b"xml", b"xmlns"}
    missing = sorted(used - set(_DECLARED_PREFIX.findall(clean)))
    root = _ROOT_START.search(clean)
    if not missing or root is None:
        return data, []
    declarations = b"".join(
        b' xmlns:%s="%s%s"' % (prefix, UNDECLARED_PREFIX_URI.encode(), prefix) for prefix in missing
    )
    return clean[: root.end()] + declarations + clean[root.end() :], [p.decode() for p in missing]


def local_name(tag: str) -> str:
    """Return an element tag without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]
