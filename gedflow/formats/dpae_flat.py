"""The flat DUE file `dpae.txt` (fixed width, one 989-char record per hire): `write` and `read`,
both driven by `schemas.dpae.FLAT_LAYOUT` (the URSSAF's fixed-width DUE record).

Values in record tables are the file's own text, one column per zone (`FLAT_LAYOUT[i].column`):
dates `JJMMAAAA`, times `HHMM`. Writing is strict: the first invalid value raises `ValueError`
and nothing is returned. Reading is lenient (the AR comes back through mailers): short lines are
right-padded, `\\r\\n` accepted, and every defect is collected; `write(read(x)) == x` byte for byte.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gedflow.formats.arrowtext import contiguous_bytes, from_latin1, is_ascii
from schemas.dpae import FLAT_LAYOUT, FLAT_PATTERNS, RECORD_LENGTH, Flat, FlatField

COLUMNS = [f.column for f in FLAT_LAYOUT]
ISSUE_COLUMNS = ["ligne", "position", "champ", "valeur", "erreur"]


def _zone(values: pd.Series, fld: FlatField) -> pa.Array:
    """One zone, padded to its width; raises on the first value that cannot be written."""
    codes, uniques = pd.factorize(values.fillna("").astype("str"))
    padded = _pad(pd.Series(uniques, dtype="str"), fld, values, codes)
    return pa.array(padded, type=pa.large_string()).take(pa.array(codes))


def _pad(text: pd.Series, fld: FlatField, values: pd.Series, codes) -> pd.Series:
    """Check and pad distinct values; name the first record holding a bad one."""
    bad = ~text.str.fullmatch(FLAT_PATTERNS[fld.kind]).fillna(False).astype(bool)
    bad |= text.str.len() > fld.length
    if fld.required:
        bad |= text.str.strip() == ""
    if bad.any():
        row = int(np.isin(codes, bad.to_numpy().nonzero()[0]).nonzero()[0][0])
        raise ValueError(
            f"dpae.txt record {row + 1}: {fld.column} (pos {fld.start}-{fld.end}, "
            f"{fld.kind}, {fld.length} chars{', required' if fld.required else ''}) "
            f"cannot hold {values.iloc[row]!r}"
        )
    if fld.kind is Flat.NUM:
        return text.str.zfill(fld.length).where(text != "", " " * fld.length)
    return text.str.ljust(fld.length)


def write(records: pd.DataFrame, *, encoding: str = "iso-8859-1", newline: str = "\n") -> bytes:
    """Records (one column per zone; missing reserved zones are blank) → file bytes."""
    if records.empty:
        raise ValueError("dpae.txt: no record to write")
    zones = [
        _zone(records[f.column], f) if f.column in records
        else pa.scalar(" " * f.length, type=pa.large_string())  # absent zone: blanks
        for f in FLAT_LAYOUT
    ]
    end = pa.scalar(newline, type=pa.large_string())
    lines = pc.binary_join_element_wise(*zones, end, pa.scalar("", type=pa.large_string()))
    return _contiguous_bytes(lines, encoding)


def _contiguous_bytes(lines: pa.Array, encoding: str) -> bytes:
    """For ASCII text (the usual case) UTF-8 bytes are already ISO-8859-1 / Windows-1252;
    otherwise re-encode strictly."""
    data = contiguous_bytes(lines)
    ascii_compatible = "DUE 09\n".encode(encoding) == b"DUE 09\n"
    if ascii_compatible and is_ascii(lines):
        return data
    return data.decode("utf-8").encode(encoding)


@dataclass
class FlatFile:
    """Records read from a flat file, with line numbers and the defects found."""

    records: pd.DataFrame
    lines: pd.Series
    issues: pd.DataFrame
    encoding: str
    newline: str


def decode(raw: bytes, encoding: str = "iso-8859-1") -> tuple[str, str]:
    """Text and encoding: UTF-8 when it decodes as such (BOM stripped; a mailer may have
    re-encoded the file), else `encoding`. Some ISO-8859-1 text is valid UTF-8 too (`Ä¡` is
    the bytes of `ġ`): when the bytes are exactly whole records, they are one per character."""
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode(encoding), encoding
    if len(text) != len(raw) and _whole_records(raw):
        return raw.decode(encoding), encoding
    return text, "utf-8"


def _whole_records(raw: bytes) -> bool:
    """Whether the bytes make lines of RECORD_LENGTH bytes (counted over the whole file)."""
    body = raw.replace(b"\r\n", b"\n").removesuffix(b"\n")
    return len(body) == (body.count(b"\n") + 1) * (RECORD_LENGTH + 1) - 1


def _zones(lines: pd.Series, wanted: list[FlatField]) -> dict[str, pd.Series | np.ndarray]:
    """Cut each zone out of fixed-width lines: through one byte grid when the text is
    ISO-8859-1 (column views, no per-line work), else with Arrow string slicing."""
    try:
        block = "".join(lines.tolist()).encode("iso-8859-1")
    except UnicodeEncodeError:
        return {f.column: lines.str.slice(f.start - 1, f.end) for f in wanted}
    grid = np.frombuffer(block, dtype=np.uint8).reshape(len(lines), RECORD_LENGTH)
    zones = {}
    for fld in wanted:
        cells = np.ascontiguousarray(grid[:, fld.start - 1:fld.end]).view(f"S{fld.length}")
        zones[fld.column] = pd.Series(np.char.decode(cells.ravel(), "iso-8859-1"),
                                      index=lines.index, dtype="str")
    return zones


BLOCK_RECORDS = 1 << 16  # records looked at at once when checking a whole file's grid


def _grid(raw) -> tuple[np.ndarray, str] | None:  # noqa: ANN001 - bytes or an mmap
    """The records as a (records × RECORD_LENGTH) view of the bytes (never a copy), and the
    newline, when the file is exactly whole records of one byte per character (what gedflow
    and the URSSAF write); None otherwise (the line-by-line reading handles the rest)."""
    for newline in ("\n", "\r\n"):
        end = newline.encode()
        stride = RECORD_LENGTH + len(end)
        if len(raw) <= RECORD_LENGTH or len(raw) % stride or raw[RECORD_LENGTH:stride] != end:
            continue
        grid = np.frombuffer(raw, dtype=np.uint8).reshape(len(raw) // stride, stride)
        expected = np.frombuffer(end, dtype=np.uint8)
        if all((block[:, RECORD_LENGTH:] == expected).all()
               and not (block[:, :RECORD_LENGTH] == 10).any()
               for block in _blocks(grid)):
            return grid[:, :RECORD_LENGTH], newline
    return None


def _blocks(grid: np.ndarray):  # noqa: ANN202 - an iterator of views
    return (grid[i:i + BLOCK_RECORDS] for i in range(0, len(grid), BLOCK_RECORDS))


def _ascii(grid: np.ndarray) -> bool:
    return all(int(block.max(initial=0)) < 0x80 for block in _blocks(grid))


def read_path(path: Path, *, columns: tuple[str, ...] | None = None) -> FlatFile:
    """`read` of a file on disk: whole ISO-8859-1 records are cut straight out of the mapped
    file, a block at a time (memory: the zones wanted, not the file); anything else is read
    whole, leniently."""
    with path.open("rb") as handle:
        if path.stat().st_size == 0:
            return read(b"", columns=columns)
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            found = None if mapped[:3] == b"\xef\xbb\xbf" else _grid(mapped)
            if found is not None:
                wanted = [f for f in FLAT_LAYOUT if columns is None or f.column in columns]
                grid, newline = found
                result = _read_grid(grid, newline, "utf-8" if _ascii(grid) else "iso-8859-1",
                                    wanted)
                del grid, found  # the zones are copies: the mapping can close
                return result
    return read(path.read_bytes(), columns=columns)


def _latin1_zone(grid: np.ndarray, fld: FlatField) -> pa.Array:
    """One zone of every record as text (ISO-8859-1 → UTF-8 by numpy), without a Python
    string per record."""
    cells = np.ascontiguousarray(grid[:, fld.start - 1:fld.end])
    offsets = np.arange(0, cells.size + 1, fld.length, dtype=np.int64)
    return from_latin1(pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(cells), [None, pa.py_buffer(offsets), pa.py_buffer(cells)]))


def _read_grid(grid: np.ndarray, newline: str, used: str,
               wanted: list[FlatField]) -> FlatFile:
    """`read` for whole records: zones cut out of the bytes, stripped in Arrow."""
    records = {}
    for fld in wanted:
        zone = _latin1_zone(grid, fld)
        zone = pc.utf8_trim_whitespace(zone) if fld.kind is Flat.NUM else \
            pc.utf8_rtrim_whitespace(zone)
        records[fld.column] = pd.Series(zone, dtype="str")
    return FlatFile(records=pd.DataFrame(records),
                    lines=pd.Series(np.arange(1, len(grid) + 1)),
                    issues=pd.DataFrame(columns=ISSUE_COLUMNS), encoding=used, newline=newline)


def read(raw: bytes, *, encoding: str = "iso-8859-1",
         columns: tuple[str, ...] | None = None) -> FlatFile:
    """Parse a flat file leniently: short lines right-padded, long ones reported. `columns`
    limits the zones sliced (a reader that needs a few zones of a large file). A file of
    whole ISO-8859-1 records is cut as a byte grid (memory: the file and the zones wanted)."""
    wanted = [f for f in FLAT_LAYOUT if columns is None or f.column in columns]
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    if not raw.endswith(b"\n"):  # a last record without its newline, as a mailer may leave it
        raw += b"\r\n" if b"\r\n" in raw[:RECORD_LENGTH + 2] else b"\n"
    found = _grid(raw) if encoding == "iso-8859-1" else None
    if found is not None:
        return _read_grid(*found, "utf-8" if raw.isascii() else encoding, wanted)
    text, used = decode(raw, encoding)
    newline = "\r\n" if "\r\n" in text else "\n"
    body = text.replace("\r\n", "\n").removesuffix("\n")
    raw_lines = pd.Series(body.split("\n") if body else [], dtype="str")
    numbers = pd.Series(range(1, len(raw_lines) + 1), index=raw_lines.index)
    blank_line = raw_lines.str.strip() == ""
    raw_lines, numbers = raw_lines[~blank_line], numbers[~blank_line]
    length = raw_lines.str.len()
    issues = []
    long = length > RECORD_LENGTH
    if long.any():
        issues.append(pd.DataFrame({"ligne": numbers[long], "position": RECORD_LENGTH + 1,
                                    "champ": "", "valeur": "",
                                    "erreur": "ligne trop longue : " + length[long].astype(str)
                                    + f" caractères au lieu de {RECORD_LENGTH}"}))
    padded = raw_lines.str.ljust(RECORD_LENGTH).str.slice(0, RECORD_LENGTH)
    records = pd.DataFrame(_zones(padded, wanted), index=padded.index)
    for fld in wanted:
        records[fld.column] = (records[fld.column].str.rstrip() if fld.kind is not Flat.NUM
                               else records[fld.column].str.strip())
    return FlatFile(
        records=records.reset_index(drop=True),
        lines=numbers.reset_index(drop=True),
        issues=pd.concat(issues) if issues else pd.DataFrame(columns=ISSUE_COLUMNS),
        encoding=used,
        newline=newline,
    )
