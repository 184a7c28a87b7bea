"""HTML tables for the reports people read, built column-wise (no Python loop per row)."""

from __future__ import annotations

import html

import pandas as pd


def escape(values: pd.Series) -> pd.Series:
    """HTML-escaped text; missing values become empty cells."""
    text = values.astype(object).where(values.notna(), "").astype(str)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        text = text.str.replace(char, entity, regex=False)
    return text


def table(frame: pd.DataFrame, columns: dict[str, str], row_class: str | None = None) -> str:
    """`<table>` of `columns` (name → heading); each row gets the class of its `row_class`."""
    head = "".join(f"<th>{html.escape(label)}</th>" for label in columns.values())
    if frame.empty:
        return f"<table><thead><tr>{head}</tr></thead></table>"
    classes = escape(frame[row_class]) if row_class else pd.Series("", index=frame.index)
    rows = '<tr class="' + classes + '">'
    for column in columns:
        rows = rows + "<td>" + escape(frame[column]) + "</td>"
    body = "\n".join((rows + "</tr>").tolist())
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"
