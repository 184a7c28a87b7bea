"""Reading the `;`-separated CSV files users drop (registry imports, DPAE hires).

Lenient and lazy as the style guide asks: bytes are decoded strictly (UTF-8 with or without BOM,
else Windows-1252), every column is read as text (a surname `NA` stays `NA`, NIR leading zeros
stay), and a line with the wrong number of fields becomes an error row instead of shifting
columns. Structural faults (not text, empty, wrong header) raise `InputError`. A file is read a
block of whole lines at a time (`read_csv_blocks`): its memory is the block's, not the file's.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from gedflow.errors import InputError
from gedflow.formats.arrowtext import (
    any_byte,
    contiguous_bytes,
    decodes,
    starts_with_any,
    text_array,
)

BOM = b"\xef\xbb\xbf"


@dataclass
class CsvTable:
    """The rows of a CSV file: `rows` as text, `lines` their line numbers, `bad` error rows."""

    rows: pd.DataFrame
    lines: pd.Series
    bad: pd.DataFrame
    encoding: str


BLOCK = 1 << 24  # bytes of a file read at once, whole lines


def _encoding(data, start: int) -> str:  # noqa: ANN001 - bytes or a mapped file
    """UTF-8 (after the BOM) when the bytes are, else Windows-1252."""
    if data.find(b"\x00") >= 0:
        raise InputError(
            "le fichier contient des octets nuls : ce n'est pas un fichier texte CSV",
            code="binaire",
            todo="déposez le fichier CSV exporté par la paie (texte séparé par des ;)",
        )
    body = memoryview(data)[start:]
    try:
        for encoding in ("utf-8", "cp1252"):
            if decodes(body, encoding):
                return encoding
    finally:
        body.release()
    raise InputError(
        "encodage non reconnu (ni UTF-8 ni Windows-1252)",
        code="encodage",
        todo="enregistrez le fichier en UTF-8 ou en Windows-1252 (ANSI)",
    )


def decode(raw: bytes) -> tuple[str, str]:
    """Text and encoding name: UTF-8 (BOM stripped) first, else Windows-1252."""
    start = len(BOM) if raw.startswith(BOM) else 0
    encoding = _encoding(raw, start)
    return raw[start:].decode(encoding), encoding


def _block_end(data, lo: int, block: int) -> int:  # noqa: ANN001 - bytes or a mapped file
    """Where the block from `lo` ends: after a newline at least `block` bytes on, outside
    quotes (a quoted cell may hold a newline)."""
    at = lo + block
    while at < len(data):
        newline = data.find(b"\n", at)
        if newline < 0:
            break
        if data[lo:newline + 1].count(b'"') % 2 == 0:
            return newline + 1
        at = newline + 1
    return len(data)


def _check_header(text: str, header: tuple[str, ...]) -> None:
    first = text.split("\n", 1)[0].rstrip("\r")
    got = [name.strip().strip('"') for name in first.split(";")]
    if got == list(header):
        return
    unknown = [c for c in got if c not in header]
    missing = [c for c in header if c not in got]
    detail = []
    if unknown:
        detail.append("colonnes inconnues : " + ", ".join(unknown))
    if missing:
        detail.append("colonnes manquantes : " + ", ".join(missing))
    if not detail:
        detail.append("colonnes dans le désordre")
    raise InputError(
        "en-tête incorrect (" + " ; ".join(detail) + ")",
        code="entete",
        where="ligne 1",
        todo="la première ligne doit être exactement : " + ";".join(header),
    )


def _slow_split(body: str, width: int, first_line: int
                ) -> tuple[list[list[str]], list[int], list[tuple]]:
    """Line-by-line fallback for files with malformed lines (not the hot path); `body`'s
    first line is the file's line `first_line`."""
    rows, lines, bad = [], [], []
    reader = csv.reader(io.StringIO(body), delimiter=";")
    shift = first_line - 1
    for record in reader:
        if not record or record == [""]:
            continue
        if len(record) == width:
            rows.append(record)
            lines.append(reader.line_num + shift)
        else:
            bad.append((reader.line_num + shift, "", f"{len(record)} champs",
                        f"{width} champs attendus"))
    return rows, lines, bad


def _parse(raw: bytes, header: tuple[str, ...], first_line: int, encoding: str) -> CsvTable:
    """A block's bytes (whole lines; its first line is the file's `first_line`)."""
    rows = _read_regular(raw if encoding == "utf-8" else raw.decode(encoding).encode(), header)
    if rows is not None:
        lines = pd.Series(range(first_line, first_line + len(rows)), index=rows.index)
        bad = pd.DataFrame(columns=["ligne", "colonne", "valeur", "erreur"])
    else:
        records, numbers, errors = _slow_split(raw.decode(encoding), len(header), first_line)
        rows = pd.DataFrame(records, columns=list(header), dtype="str")
        lines = pd.Series(numbers, index=rows.index, dtype="int64")
        bad = pd.DataFrame(errors, columns=["ligne", "colonne", "valeur", "erreur"])
    return CsvTable(rows=rows, lines=lines, bad=bad, encoding=encoding)


def read_csv_blocks(data, header: tuple[str, ...],  # noqa: ANN001 - bytes or a mapped file
                    block: int | None = None) -> Iterator[CsvTable]:
    """A dropped CSV whose first line must be exactly `header`, a block of whole lines (about
    `block` bytes, default `BLOCK`) at a time; line numbers are the file's. The encoding and
    the header are checked before the first block."""
    block = block or BLOCK
    start = len(BOM) if data[:len(BOM)] == BOM else 0
    encoding = _encoding(data, start)
    hi = _block_end(data, start, block)
    raw = data[start:hi]
    if not raw.strip():
        raise InputError("fichier vide", code="vide", todo="déposez un fichier avec des lignes")
    first, _, body = raw.partition(b"\n")
    _check_header(first.decode(encoding), header)
    yield _parse(body, header, 2, encoding)
    line = 1 + raw.count(b"\n")
    while hi < len(data):
        lo, hi = hi, _block_end(data, hi, block)
        raw = data[lo:hi]
        yield _parse(raw, header, line, encoding)
        line += raw.count(b"\n")


def read_csv_table(raw, header: tuple[str, ...]) -> CsvTable:  # noqa: ANN001 - or a mapped file
    """`read_csv_blocks`'s blocks as one table (a file whose rows are all kept: hires)."""
    tables = list(read_csv_blocks(raw, header))
    return CsvTable(rows=pd.concat([t.rows for t in tables], ignore_index=True),
                    lines=pd.concat([t.lines for t in tables], ignore_index=True),
                    bad=pd.concat([t.bad for t in tables], ignore_index=True),
                    encoding=tables[0].encoding)


def _read_regular(body: bytes, header: tuple[str, ...]) -> pd.DataFrame | None:
    """The fast path (Arrow's CSV reader over the UTF-8 bytes, every field text, no quoting),
    or None when line numbers or field counts could come out wrong: quotes, blank lines, or
    any line without exactly the header's field count (Arrow refuses it)."""
    flat = body.replace(b"\r\n", b"\n") if b"\r" in body else body
    if b'"' in flat or b"\r" in flat or b"\n\n" in flat or flat.startswith(b"\n"):
        return None
    if not flat:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in header})
    try:
        table = pa_csv.read_csv(pa.BufferReader(flat), read_options=pa_csv.ReadOptions(
            column_names=list(header)), parse_options=pa_csv.ParseOptions(
            delimiter=";", quote_char=False, double_quote=False, escape_char=False,
            ignore_empty_lines=False), convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.large_string()), strings_can_be_null=False))
    except pa.ArrowInvalid:  # a line with too many or too few fields
        return None
    return table.to_pandas()


def _quoted(cells: pa.ChunkedArray, sep: str) -> pa.ChunkedArray:
    """Cells quoted where needed (`sep`, `"`, newline, CR), as pandas' writer does."""
    needs_quotes = pc.match_substring_regex(cells, f'[{re.escape(sep)}"\n\r]')
    quote, empty = pa.scalar('"', pa.large_string()), pa.scalar("", pa.large_string())
    quoted = pc.binary_join_element_wise(quote, pc.replace_substring(cells, '"', '""'), quote,
                                         empty)
    return pc.if_else(needs_quotes, quoted, cells)


# A text cell starting with one of these is a formula to a spreadsheet: written after a `'`,
# which spreadsheets take as "text" (numbers such as -12.50 stay as they are).
FORMULA_TRIGGERS = b"=+-@\t\r"
_TRIGGER = r"^[=+\-@\t\r]"
_NUMBER = r"^[+-]?\d+(?:[.,]\d+)?$"


def neutralised(cells: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text cells that a spreadsheet would run as a formula, prefixed with `'`; amounts,
    rates and dates stay plain."""
    if not starts_with_any(cells, FORMULA_TRIGGERS):
        return cells
    formula = pc.and_(pc.match_substring_regex(cells, _TRIGGER),
                      pc.invert(pc.match_substring_regex(cells, _NUMBER)))
    prefixed = pc.binary_join_element_wise(pa.scalar("'", pa.large_string()), cells,
                                           pa.scalar("", pa.large_string()))
    return pc.if_else(formula, prefixed, cells)


def write_csv_to(frame: pd.DataFrame, handle: BinaryIO, sep: str = ";") -> None:
    """Write `frame.to_csv(sep=sep, index=False)`'s UTF-8 (minimal quoting, `\n` line ends) to
    `handle`, built column-wise in Arrow: pandas' own writer costs ~3 s per million rows of text.
    Without a cell to quote (the usual case) Arrow's CSV writer streams it all. Every CSV of
    gedflow goes through here: formula triggers are neutralised (`neutralised`)."""
    header = pa.chunked_array([pa.array([str(c) for c in frame.columns], pa.large_string())])
    cells = [neutralised(text_array(frame[column])) for column in frame.columns]
    special = (sep + '"\n\r').encode()
    if not any(any_byte(column, special) for column in [header, *cells]):
        handle.write((sep.join(header.to_pylist()) + "\n").encode())
        table = pa.table(cells, names=[f"c{i}" for i in range(len(cells))])
        pa_csv.write_csv(table, handle, pa_csv.WriteOptions(
            include_header=False, delimiter=sep, quoting_style="none", eol="\n"))
        return
    handle.write((sep.join(_quoted(header, sep).to_pylist()) + "\n").encode())
    if not frame.empty:
        joined = pc.binary_join_element_wise(*[_quoted(c, sep) for c in cells],
                                             pa.scalar(sep, type=pa.large_string()))
        end = pa.scalar("\n", type=pa.large_string())
        handle.write(contiguous_bytes(pc.binary_join_element_wise(
            joined, end, pa.scalar("", type=pa.large_string()))))


def to_csv_text(frame: pd.DataFrame, sep: str = ";") -> str:
    """`write_csv_to`'s output as text."""
    buffer = io.BytesIO()
    write_csv_to(frame, buffer, sep)
    return buffer.getvalue().decode("utf-8")
