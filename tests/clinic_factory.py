"""A tiny clinic inbox for CLI and flow tests: two FIT runs, a journal, a plan and a roster.

Expected values in the tests that use it are stated by hand from what is written here
(two runs of 30 and 20 minutes, four journal entries, one plan week), not computed by the pipeline.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from synthetic.run_model import simulate_run, write_run_fit

CLIENT = "K123"
SERIAL = 3_912_345_678
RUN_STARTS = (
    dt.datetime(2026, 3, 3, 7, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 5, 7, 0, tzinfo=dt.UTC),
)
RUN_MINUTES = (30, 20)
SENTINEL_NOTE = "SENTINEL-NOTE-7f3a felt the fog lift"

ROSTER = "client_code,sex,birth_year,hr_rest,hr_max,timezone,lthr\nK123,f,1990,55,190,Europe/London,170\n"
JOURNAL = (
    "timestamp,kind,mood,anxiety,stress,energy,sleep_hours,sleep_quality,rpe,notes\n"
    "2026-03-03T06:50:00+00:00,pre_run,4,6,6,4,6.5,3,,\n"
    f"2026-03-03T07:45:00+00:00,post_run,6,3,4,6,,,4,{SENTINEL_NOTE}\n"
    "2026-03-05T06:55:00+00:00,pre_run,5,5,5,5,7,4,,\n"
    "2026-03-05T07:30:00+00:00,post_run,7,2,3,7,,,3,\n"
)
PLAN = "week_start,sessions,minutes,session_type,notes\n2026-03-02,2,50,easy,start gently\n"


def make_small_clinic(inbox: Path) -> None:
    """Write the tiny clinic into ``inbox``."""
    folder = inbox / CLIENT
    folder.mkdir(parents=True)
    (inbox / "roster.csv").write_text(ROSTER)
    for i, (start, minutes) in enumerate(zip(RUN_STARTS, RUN_MINUTES, strict=True)):
        run = simulate_run(
            start,
            duration_s=minutes * 60,
            intensity="easy",
            hr_rest=55,
            hr_max=190,
            home=(51.5, -0.12),
            seed=i,
        )
        (folder / f"run{i}.fit").write_bytes(write_run_fit(run, serial_number=SERIAL))
    (folder / "journal.csv").write_text(JOURNAL)
    (folder / "plan.csv").write_text(PLAN)
