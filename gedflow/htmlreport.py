"""HTML tables for the reports people read, built column-wise in Arrow (no Python loop per row)."""

from __future__ import annotations

import html

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gedflow.formats.arrowtext import any_byte, contiguous_bytes, text_array

_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"))


def escape(values: pd.Series) -> pa.Array:
    """HTML-escaped text; missing values become empty cells."""
    text = text_array(values)
    if any_byte(text, b'&<>"'):
        for char, entity in _ENTITIES:
            text = pc.replace_substring(text, char, entity)
    return text


def table(frame: pd.DataFrame, columns: dict[str, str], row_class: str | None = None) -> str:
    """`<table>` of `columns` (name → heading); each row gets the class of its `row_class`."""
    head = "".join(f"<th>{html.escape(label)}</th>" for label in columns.values())
    if frame.empty:
        return f"<table><thead><tr>{head}</tr></thead></table>"
    classes = escape(frame[row_class]) if row_class else pa.nulls(len(frame), pa.large_string())
    text = pa.scalar("", pa.large_string())
    parts = [pa.scalar('<tr class="', pa.large_string()), pc.fill_null(classes, ""),
             pa.scalar('">', pa.large_string())]
    for column in columns:
        parts += [pa.scalar("<td>", pa.large_string()), escape(frame[column]),
                  pa.scalar("</td>", pa.large_string())]
    parts.append(pa.scalar("</tr>\n", pa.large_string()))
    body = contiguous_bytes(pc.binary_join_element_wise(*parts, text)).decode("utf-8")
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"
