"""Roster reader: validation with line numbers, pseudonymisation, duplicates."""

from __future__ import annotations

import pytest

from clinic.roster import RosterLimits, read_roster
from schemas.errors import RosterInvalid
from schemas.roster import Roster


def pseudo(code: str) -> str:
    return f"id_{code.lower()}"


def test_read_roster_rows_and_issues() -> None:
    data = (
        "\ufeffclient_code,sex,birth_year,hr_rest,hr_max,timezone,lthr\n"  # 1
        "A01,f,1990,55,185,Europe/London,160\n"  # 2
        "A02,M,1975,60,175,America/New_York,\n"  # 3: upper-case sex is fine
        "A03,q,1980,60,180,Europe/London,\n"  # 4: sex
        "A04,x,1980,60,180,Europe/Londn,\n"  # 5: zone
        "A05,x,1980,180,170,Europe/London,\n"  # 6: rest above max (180 > 120 limit first)
        "A06,x,1980,70,65.5,Europe/London,\n"  # 7: hr_max below plausible range
        "A07,x,1880,60,180,Europe/London,\n"  # 8: birth year
        "A08,x,1980,60,180,Europe/London,190\n"  # 9: lthr above hr_max
        "A09,x,1980,60,180\n"  # 10: short row
        "B01,f,1990,55,185,Europe/Berlin,\n"  # 11: duplicate code (with 13)
        "_quarantine,f,1990,55,185,Europe/Berlin,\n"  # 12: code
        "B01,f,1991,56,186,Europe/Berlin,\n"  # 13: duplicate
        "A10,x,1980,100,110,Europe/London,\n"  # 14: hr_rest 100 < hr_max 110: fine
    ).encode()
    result = read_roster(data, pseudonymize=pseudo)
    assert [(i.line, i.column) for i in result.issues] == [
        (4, "sex"),
        (5, "timezone"),
        (6, "hr_rest"),
        (7, "hr_max"),
        (8, "birth_year"),
        (9, "lthr"),
        (10, None),
        (11, "client_code"),
        (12, "client_code"),
        (13, "client_code"),
    ]
    assert result.roster.rows() == [
        ("id_a01", "f", 1990, 55.0, 185.0, "Europe/London", 160.0),
        ("id_a02", "m", 1975, 60.0, 175.0, "America/New_York", None),
        ("id_a10", "x", 1980, 100.0, 110.0, "Europe/London", None),
    ]
    assert dict(result.client_ids) == {"A01": "id_a01", "A02": "id_a02", "A10": "id_a10"}
    assert "client_code" not in result.roster.columns
    Roster.validate(result.roster)


def test_rest_not_below_max_within_ranges() -> None:
    data = b"client_code,sex,birth_year,hr_rest,hr_max,timezone\nA01,f,1990,110,110,UTC\n"
    result = read_roster(data, pseudonymize=pseudo)
    assert result.issues[0].message == "hr_rest (110) must be below hr_max (110); row skipped"


def test_limits_are_configurable() -> None:
    data = b"client_code,sex,birth_year,hr_rest,hr_max,timezone\nK1,x,2018,70,200,UTC\n"
    assert read_roster(data, pseudonymize=pseudo).issues[0].column == "birth_year"
    relaxed = read_roster(data, pseudonymize=pseudo, limits=RosterLimits(birth_year_max=2020))
    assert relaxed.roster.height == 1


@pytest.mark.parametrize(
    "data",
    [
        b"client_code,sex,birth_year,hr_rest,hr_max\nA01,f,1990,55,185\n",
        b"client_code,name,sex,birth_year,hr_rest,hr_max,timezone\n",
        b"\xff\xfe\x00",
        b"  \n",
        b",,,\n",
    ],
)
def test_roster_invalid_as_a_whole(data: bytes) -> None:
    with pytest.raises(RosterInvalid) as info:
        read_roster(data, pseudonymize=pseudo)
    assert info.value.reason_code == "roster_invalid"
