"""Report writing: the demo's ``index.html`` and the plots it shows."""
from .html import write_report

__all__ = ["write_report"]
