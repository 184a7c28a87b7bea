"""The HTML pages people read: one set of Jinja2 templates (`gedflow/templates/`, autoescaped,
one stylesheet), and their tables built column-wise in Arrow (no Python loop per row), every
cell escaped, handed to the templates as safe markup.
"""

from __future__ import annotations

import html
from functools import cache

import jinja2
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from markupsafe import Markup

from gedflow.formats.arrowtext import any_byte, contiguous_bytes, text_array

# As markupsafe (the templates' escaping) writes them.
_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"), ("'", "&#39;"))


def escape(values: pd.Series) -> pa.Array:
    """HTML-escaped text; missing values become empty cells."""
    text = text_array(values)
    if any_byte(text, b"&<>\"'"):
        for char, entity in _ENTITIES:
            text = pc.replace_substring(text, char, entity)
    return text


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("gedflow", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True)


def render(template: str, **context: object) -> str:
    """A page of `gedflow/templates/`; every value escaped but the tables of `table`."""
    return _environment().get_template(template).render(**context)


def table(frame: pd.DataFrame, columns: dict[str, str],
          row_class: str | None = None) -> Markup:
    """`<table>` of `columns` (name → heading); each row gets the class of its `row_class`."""
    head = "".join(f"<th>{html.escape(label)}</th>" for label in columns.values())
    if frame.empty:
        return Markup(f"<table><thead><tr>{head}</tr></thead></table>")
    classes = escape(frame[row_class]) if row_class else pa.nulls(len(frame), pa.large_string())
    text = pa.scalar("", pa.large_string())
    parts = [pa.scalar('<tr class="', pa.large_string()), pc.fill_null(classes, ""),
             pa.scalar('">', pa.large_string())]
    for column in columns:
        parts += [pa.scalar("<td>", pa.large_string()), escape(frame[column]),
                  pa.scalar("</td>", pa.large_string())]
    parts.append(pa.scalar("</tr>\n", pa.large_string()))
    body = contiguous_bytes(pc.binary_join_element_wise(*parts, text)).decode("utf-8")
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>")
