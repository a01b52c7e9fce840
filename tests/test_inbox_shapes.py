"""Issue 15, items 1, 3 and 5: every inbox shape and CSV shape gets an outcome and a note.

One inbox holds every shape at once (one client folder or file per shape), so the whole suite
costs two runs: the first judges every shape, the second must succeed and find nothing left.
Each parameter asserts the outcome (where the entry went), the note's text, and that nothing
outside the inbox was touched. Expected texts are written here by hand from the issue.
"""

from __future__ import annotations

import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.run import RunSummary, run_ingest
from pipelines.settings import Settings
from tests.test_run import gpx_run
from warehouse.inbox import NAME_MAX, Inbox, NotRegular

SECRET = "inbox-shapes-test-secret"
GOOD_ROWS = "2026-03-03T06:50:00+00:00,pre_run,4,6,6,4,6.5,3,,\n"
HEADER = "timestamp,kind,mood,anxiety,stress,energy,sleep_hours,sleep_quality,rpe,notes\n"
LONG_NAME = "x" * 250 + ".fit"
NEWLINE_NAME = "run\nReason code: fine\n.fit"
GARBAGE = b"this is not a watch file at all\n" * 4
ROSTER = (
    "client_code,sex,birth_year,hr_rest,hr_max,timezone\n"
    "K1,f,1990,55,190,Europe/London\n"
    "K2,m,1985,50,185,Europe/London\n"
    "KLOCAL,x,1980,50,180,localtime\n"  # line 4: not an IANA zone
    "KFACTORY,x,1980,50,180,Factory\n"  # line 5
)


@dataclass
class Shaped:
    """The shared run: its settings, the two summaries and the folder outside the inbox."""

    settings: Settings
    first: RunSummary
    second: RunSummary
    outside: Path

    @property
    def inbox(self) -> Path:
        return Path(self.settings.inbox)


def _journal(rows: str, *, encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    return (HEADER + rows).replace(",", delimiter).encode(encoding)


def _build(root: Path) -> tuple[Settings, Path]:
    inbox, outside = root / "inbox", root / "outside"
    outside.mkdir()
    (outside / "outside.gpx").write_bytes(gpx_run(3))
    (outside / "hard.gpx").write_bytes(gpx_run(4))
    (outside / "hard.gpx").chmod(0o644)
    (outside / "qdir").mkdir()
    for code in ("K1", "K2", "K3", "K4", "K5", "K6", "K7", "K8", "K9"):
        (inbox / code).mkdir(parents=True)
    (inbox / "roster.csv").write_text(ROSTER)
    k1 = inbox / "K1"
    (k1 / "link.gpx").symlink_to(outside / "outside.gpx")
    (inbox / "LINKED").symlink_to(outside, target_is_directory=True)
    os.mkfifo(k1 / "pipe.fit")
    if len(os.fsencode(k1 / "s")) < 100:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(os.fspath(k1 / "s"))
    os.link(outside / "hard.gpx", k1 / "linked.gpx")
    (k1 / os.fsdecode(b"caf\xe9.gpx")).write_bytes(gpx_run(6))
    (k1 / NEWLINE_NAME).write_bytes(GARBAGE)
    (k1 / LONG_NAME).write_bytes(GARBAGE + b"long")
    bad_folder = inbox / os.fsdecode(b"K\xff")
    bad_folder.mkdir()
    (bad_folder / "a.gpx").write_bytes(gpx_run(8))
    # A name already taken in _processed by a folder (and the reverse: a file where a folder goes).
    (inbox / "_processed" / "K1" / "clash.gpx").mkdir(parents=True)
    (k1 / "clash.gpx").write_bytes(gpx_run(9))
    (inbox / "_processed" / "K1" / "sub").write_bytes(b"an older file named sub")
    (k1 / "sub").mkdir()
    (k1 / "sub" / "a.gpx").write_bytes(gpx_run(10))
    # _quarantine is a link out of the inbox: never written through.
    (inbox / "_quarantine").symlink_to(outside / "qdir", target_is_directory=True)
    # The same bytes for two clients.
    shared = gpx_run(11)
    (k1 / "shared.gpx").write_bytes(shared)
    (inbox / "K2" / "shared.gpx").write_bytes(shared)
    # CSV shapes, one client each (each with one refused row, so that a note is written).
    (inbox / "K3" / "journal.csv").write_bytes(
        _journal(
            GOOD_ROWS + "2026-03-04T06:50:00+00:00,pre_run,11,6,6,4,6,3,,caf\u00e9\n",
            encoding="cp1252",
            delimiter=";",
        )
    )
    (inbox / "K4" / "journal.csv").write_bytes(
        _journal(GOOD_ROWS + "9999-12-31T23:59:00+00:00,pre_run,4,6,6,4,6,3,,\n", encoding="utf-16")
    )
    huge = "y" * (128 * 1024 + 1)
    (inbox / "K5" / "journal.csv").write_bytes(
        _journal(GOOD_ROWS + f"2026-03-05T06:50:00+00:00,pre_run,4,6,6,4,6,3,,{huge}\n")
    )
    (inbox / "K6" / "journal.csv").write_bytes(
        _journal(GOOD_ROWS + "0001-01-01T00:00:00+00:00,pre_run,4,6,6,4,6,3,,\n", delimiter="\t")
    )
    (inbox / "K7" / "plan.csv").write_bytes(
        b"week_start;sessions;minutes\n2026-03-02;2;50\n0001-01-01;2;50\n3026-01-05;2;50\n"
        b"9999-12-27;2;50\n"
    )
    (inbox / "K8" / "journal.csv").write_bytes(
        b"\xef\xbb\xbf" + _journal(GOOD_ROWS + "2026-03-06T06:50:00+00:00,pre_run,4,6,6,4,6,3,,\n")
    )
    (inbox / "K9" / "plan.csv").write_bytes(
        "week_start\tsessions\tminutes\tsession_type\tnotes\n2026-03-02\t2\t50\teasy\tpr\u00e9p\n".encode(
            "cp1252"
        )
    )
    settings = Settings(
        inbox=inbox,
        warehouse=root / "warehouse",
        secret=SECRET,
        settle_seconds=0,
        key_file=root / "key",
    )
    return settings, outside


@pytest.fixture(scope="module")
def shaped(tmp_path_factory: pytest.TempPathFactory) -> Shaped:
    settings, outside = _build(tmp_path_factory.mktemp("shapes"))
    first = run_ingest(settings)
    second = run_ingest(settings)
    return Shaped(settings, first, second, outside)


def _reason(path: Path) -> str:
    return path.with_name(path.name + ".reason.txt").read_text(encoding="utf-8")


def _quarantine(shaped: Shaped) -> Path:
    return shaped.inbox / "_quarantine"


def test_the_next_run_succeeds_and_finds_nothing_left(shaped: Shaped) -> None:
    assert shaped.second.files_seen == 0, shaped.second
    assert shaped.second.quarantined == 0
    codes = shaped.first.reason_codes
    assert codes["symlink_refused"] == 2
    assert codes["not_a_regular_file"] >= 1
    assert codes["name_not_utf8"] == 1
    assert codes["same_file_other_client"] == 2
    assert codes["roster_row_refused"] == 2


def test_nothing_outside_the_inbox_was_touched(shaped: Shaped) -> None:
    outside = shaped.outside
    assert (outside / "outside.gpx").read_bytes() == gpx_run(3)
    assert (outside / "hard.gpx").read_bytes() == gpx_run(4)
    assert stat.S_IMODE((outside / "hard.gpx").stat().st_mode) == 0o644, "the original's mode"
    assert list((outside / "qdir").iterdir()) == [], "nothing written through _quarantine"
    assert sorted(p.name for p in outside.iterdir()) == ["hard.gpx", "outside.gpx", "qdir"]
    quarantine = _quarantine(shaped)
    assert quarantine.is_dir()
    assert not quarantine.is_symlink()


@pytest.mark.parametrize(
    ("relative", "code", "text"),
    [
        pytest.param("K1/link.gpx", "symlink_refused", "is a symbolic link", id="symlink-file"),
        pytest.param("LINKED", "symlink_refused", "is a symbolic link", id="symlink-folder"),
        pytest.param("K1/pipe.fit", "not_a_regular_file", "named pipe (FIFO)", id="fifo"),
        pytest.param("K1/s", "not_a_regular_file", "a socket", id="socket"),
    ],
)
def test_entries_never_opened_are_quarantined_as_they_are(
    shaped: Shaped, relative: str, code: str, text: str
) -> None:
    if relative == "K1/s" and not os.path.lexists(_quarantine(shaped) / relative):
        pytest.skip("the temporary path is too long for a Unix socket")
    moved = _quarantine(shaped) / relative
    assert os.path.lexists(moved)
    assert not os.path.lexists(shaped.inbox / relative)
    if code == "symlink_refused":
        assert moved.is_symlink(), "moved as a link, never followed"
    note = _reason(moved)
    assert f"Reason code: {code}" in note
    assert text in note
    assert "What to do:" in note


def test_a_client_folder_whose_name_is_not_utf8_is_quarantined(shaped: Shaped) -> None:
    moved = _quarantine(shaped) / os.fsdecode(b"K\xff")
    assert (moved / "a.gpx").read_bytes() == gpx_run(8)
    note = _reason(moved)
    assert "File: K\\xff" in note
    assert "Reason code: name_not_utf8" in note


def test_a_hard_linked_file_is_copied_and_the_original_keeps_its_mode(shaped: Shaped) -> None:
    copy = shaped.inbox / "_processed" / "K1" / "linked.gpx"
    assert copy.read_bytes() == gpx_run(4)
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert copy.stat().st_nlink == 1
    assert (shaped.outside / "hard.gpx").stat().st_nlink == 1
    assert not (shaped.inbox / "K1" / "linked.gpx").exists()


def test_a_name_that_is_not_utf8_is_taken_in(shaped: Shaped) -> None:
    assert (shaped.inbox / "_processed" / "K1" / os.fsdecode(b"caf\xe9.gpx")).exists()


def test_a_newline_in_a_name_cannot_forge_a_line_of_the_note(shaped: Shaped) -> None:
    note = _reason(_quarantine(shaped) / "K1" / NEWLINE_NAME)
    lines = note.splitlines()
    assert lines[0] == "File: run\\nReason code: fine\\n.fit"
    assert [line for line in lines if line.startswith("Reason code:")] == [
        "Reason code: unknown_format"
    ]


def test_a_name_too_long_for_its_note_gets_a_bounded_note_name(shaped: Shaped) -> None:
    folder = _quarantine(shaped) / "K1"
    assert (folder / LONG_NAME).exists()
    notes = [
        p for p in folder.iterdir() if p.name.startswith("x" * 100) and p != folder / LONG_NAME
    ]
    assert len(notes) == 1
    assert len(os.fsencode(notes[0].name)) <= NAME_MAX
    assert notes[0].name.endswith(".reason.txt")
    text = notes[0].read_text(encoding="utf-8")
    assert "Reason code: unknown_format" in text
    assert "\u2026" in text.splitlines()[0], "the quoted name is cut"


def test_name_clashes_in_processed_get_a_suffix(shaped: Shaped) -> None:
    folder = shaped.inbox / "_processed" / "K1"
    assert (folder / "clash.gpx").is_dir(), "the folder is left as it was"
    taken = [p for p in folder.iterdir() if p.name.startswith("clash.") and p.is_file()]
    assert [p.read_bytes() for p in taken] == [gpx_run(9)]
    assert (folder / "sub").read_bytes() == b"an older file named sub"
    assert (folder / "sub.folder" / "a.gpx").read_bytes() == gpx_run(10)


def test_the_same_bytes_for_two_clients_get_a_note_on_both(shaped: Shaped) -> None:
    for code in ("K1", "K2"):
        note = shaped.inbox / "_processed" / code / "shared.gpx.note.txt"
        text = note.read_text(encoding="utf-8")
        assert "also received in another client's folder" in text
        assert "K1" not in text
        assert "K2" not in text


@pytest.mark.parametrize(
    ("code", "name", "taken", "said"),
    [
        pytest.param(
            "K3",
            "journal.csv",
            1,
            ["read as CP1252 text, semicolon-separated", "line 3: mood must be between 1 and 10"],
            id="cp1252-semicolon",
        ),
        pytest.param(
            "K4",
            "journal.csv",
            1,
            ["read as UTF-16 text, comma-separated", "line 3: timestamp must lie in the years"],
            id="utf16-year-9999",
        ),
        pytest.param(
            "K5",
            "journal.csv",
            1,
            ["line 3: the notes cell is longer than 131072 characters"],
            id="huge-cell",
        ),
        pytest.param(
            "K6",
            "journal.csv",
            1,
            ["tab-separated", "line 3: timestamp must lie in the years 1990 to 2099"],
            id="tab-year-1",
        ),
        pytest.param(
            "K7",
            "plan.csv",
            1,
            [
                "semicolon-separated",
                "3 row(s) could not be read",
                "line 3: week_start must lie",
                "line 4: week_start must lie",
                "line 5: week_start must lie",
            ],
            id="plan-years-1-3026-9999",
        ),
    ],
)
def test_csv_shapes_refuse_rows_not_files(
    shaped: Shaped, code: str, name: str, taken: int, said: list[str]
) -> None:
    processed = shaped.inbox / "_processed" / code / name
    assert processed.exists(), "taken in, not quarantined"
    note = processed.with_name(name + ".note.txt").read_text(encoding="utf-8")
    for text in said:
        assert text in note, (text, note)
    assert "y" * 100 not in note, "no cell contents in the note"
    assert "caf" not in note
    assert "Reason code: rows_skipped" in note


def test_a_clean_csv_in_another_encoding_says_how_it_was_read(shaped: Shaped) -> None:
    note = shaped.inbox / "_processed" / "K9" / "plan.csv.note.txt"
    text = note.read_text(encoding="utf-8")
    assert "This file was read as CP1252 text, tab-separated; every row was read." in text
    assert not (shaped.inbox / "_processed" / "K8" / "journal.csv.note.txt").exists(), "plain"


def test_csv_rows_taken_in_land_in_their_tables(shaped: Shaped) -> None:
    from warehouse.store import TableStore

    store = TableStore(shaped.settings.warehouse)
    assert store.read("journal").height == 6  # one good row in each of K3-K6, two in K8 (BOM)
    assert store.read("plans").height == 2  # K7's good week and K9's
    roster = store.read("roster")
    assert roster.height == 2, "the localtime and Factory rows are refused, the rest is used"


def test_the_roster_is_never_read_through_a_link_or_a_pipe(tmp_path: Path) -> None:
    key = tmp_path / "secret.key"
    key.write_text("the-secret-itself")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "roster.csv").symlink_to(key)
    with pytest.raises(NotRegular) as info:
        Inbox(inbox).read_roster()
    assert "the-secret-itself" not in str(info.value)
    (inbox / "roster.csv").unlink()
    os.mkfifo(inbox / "roster.csv")
    with pytest.raises(NotRegular):  # returns at once: a pipe is never waited on
        Inbox(inbox).read_roster()


def test_an_unreadable_file_is_quarantined_with_a_note(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: permission bits do not stop root from reading a file")
    settings = Settings(
        inbox=tmp_path / "inbox",
        warehouse=tmp_path / "wh",
        secret=SECRET,
        settle_seconds=0,
        key_file=tmp_path / "key",
    )
    (tmp_path / "inbox" / "K1").mkdir(parents=True)
    locked = tmp_path / "inbox" / "K1" / "locked.gpx"
    locked.write_bytes(gpx_run(3))
    locked.chmod(0)
    summary = run_ingest(settings)
    assert summary.reason_codes.get("unreadable") == 1
    note = _reason(tmp_path / "inbox" / "_quarantine" / "K1" / "locked.gpx")
    assert "cannot be read" in note
    assert run_ingest(settings).files_seen == 0


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-16", ","), ("cp1252", ";"), ("utf-8-sig", "\t")],
)
def test_the_report_reads_the_roster_codes_in_every_encoding(
    tmp_path: Path, encoding: str, delimiter: str
) -> None:
    from report.build import roster_codes
    from warehouse.secret import pseudonymize

    roster = tmp_path / "roster.csv"
    text = ROSTER.replace("Europe/London", "Europe/Z\u00fcrich").replace(",", delimiter)
    roster.write_bytes(text.encode(encoding))
    codes = roster_codes(roster, SECRET.encode())
    assert codes[pseudonymize("K1", SECRET.encode())] == "K1"
    assert set(codes.values()) == {"K1", "K2", "KLOCAL", "KFACTORY"}


def test_the_report_never_reads_the_roster_through_a_link(tmp_path: Path) -> None:
    from report.build import roster_codes
    from schemas.errors import ConfigError

    (tmp_path / "elsewhere.csv").write_text("client_code\nSTOLEN\n")
    (tmp_path / "roster.csv").symlink_to(tmp_path / "elsewhere.csv")
    with pytest.raises(ConfigError, match="cannot be read") as info:
        roster_codes(tmp_path / "roster.csv", SECRET.encode())
    assert "STOLEN" not in str(info.value)
