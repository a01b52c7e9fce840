"""Therapist reports: a clinic overview and one self-contained HTML page per client.

``queries`` runs the report's queries once for the whole clinic and splits their rows by client,
``model`` computes what is shown from those rows (both pure), ``svg`` draws the charts,
``html`` renders the pages (pure), ``build`` reads the warehouse and writes the files.
"""

from report.build import ReportResult, default_report_dir, write_reports

__all__ = ["ReportResult", "default_report_dir", "write_reports"]
