"""Spreadsheet-safe CSV cells: text that a spreadsheet would run as a formula is neutralised.

A results or audit CSV holds text that senders and users control (subjects, addresses, file
names, reasons). Opened in Excel or LibreOffice, a cell starting with ``=``, ``+``, ``-`` or
``@`` (or a tab or carriage return before one) is read as a formula: ``=HYPERLINK(...)`` leaks
data, DDE formulas run commands. Following OWASP's advice, such a cell gets a leading single
quote, which spreadsheets show as text. Every CSV writer in mailguard goes through here.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import Any

#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """Return ``value`` with a leading ``'`` if it is text a spreadsheet would run as a formula, else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def neutralise_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``row`` with every cell passed through :func:`neutralise_cell`."""
    return {key: neutralise_cell(value) for key, value in row.items()}


class SafeDictWriter(csv.DictWriter):  # type: ignore[type-arg]
    """``csv.DictWriter`` whose rows are neutralised on the way out (the header is written as given)."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow(neutralise_row(rowdict))

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)
