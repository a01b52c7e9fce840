"""Therapist reports: a clinic overview and one self-contained HTML page per client.

``model`` computes what is shown from the warehouse tables (pure), ``svg`` draws the charts,
``html`` renders the pages (pure), ``build`` reads the warehouse and writes the files.
"""

from report.build import ReportResult, default_report_dir, write_reports

__all__ = ["ReportResult", "default_report_dir", "write_reports"]
