"""Synthetic clinic data for ``mindmiles demo``, tests and benchmarks.

- ``fit_writer``: a FIT encoder driven by fitparse's profile (``encode_fit``).
- ``gpx_writer``: GPX 1.1 with Garmin TrackPointExtension HR/cadence (``encode_gpx``).
- ``run_model``: a seeded 1 Hz run simulator and its FIT/GPX export (``simulate_run``).
- ``clinic``: a whole clinic inbox with personas, journals and plans (``make_clinic``).
"""

from synthetic.clinic import ClinicManifest, make_clinic
from synthetic.fit_writer import FitMessage, FitMessageColumns, encode_fit
from synthetic.gpx_writer import TrackPoint, encode_gpx
from synthetic.run_model import SimulatedRun, simulate_run, write_run_fit, write_run_gpx

__all__ = [
    "ClinicManifest",
    "FitMessage",
    "FitMessageColumns",
    "SimulatedRun",
    "TrackPoint",
    "encode_fit",
    "encode_gpx",
    "make_clinic",
    "simulate_run",
    "write_run_fit",
    "write_run_gpx",
]
