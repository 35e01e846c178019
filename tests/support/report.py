"""Figures that tests report at the end of the run (the fault table, the fuzz counts).

Tests add lines under a section title; the root conftest prints every section in the
terminal summary and writes it to ``.run/test-report.txt``.
"""

from __future__ import annotations

from collections import defaultdict

SECTIONS: dict[str, list[str]] = defaultdict(list)


def report(section: str, *lines: str) -> None:
    """Add lines to a section of the end-of-run report."""
    SECTIONS[section].extend(lines)
