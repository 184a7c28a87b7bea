"""Text assembled in Arrow: lines joined element-wise, then read as one buffer."""

from __future__ import annotations

import codecs

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

SAMPLE = 1_000  # rows looked at to guess whether a column repeats


def decodes(data, encoding: str, block: int = 1 << 22) -> bool:  # noqa: ANN001 - or an mmap
    """Whether the bytes decode in `encoding`, checked a block at a time (nothing kept).
    UTF-8 is checked in place by Arrow (a string array over the bytes, validated)."""
    if codecs.lookup(encoding).name == "utf-8":
        whole = pa.LargeStringArray.from_buffers(
            1, pa.py_buffer(np.array([0, len(data)], dtype=np.int64)), pa.py_buffer(data))
        try:
            whole.validate(full=True)
        except pa.ArrowInvalid:
            return False
        return True
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for at in range(0, len(data), block):
            decoder.decode(data[at:at + block], final=at + block >= len(data))
    except UnicodeDecodeError:
        return False
    return True


def flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One array: a chunked array's only chunk as it is (`combine_chunks` copies even then)."""
    if isinstance(values, pa.ChunkedArray):
        return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
    return values


def contiguous_bytes(lines: pa.Array | pa.ChunkedArray) -> bytes:
    """All the strings' UTF-8 bytes, back to back, straight from Arrow's data buffer."""
    array = flat(lines)
    if len(array) == 0:
        return b""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset:]
    return array.buffers()[2].to_pybytes()[offsets[0]:offsets[len(array)]]


def is_ascii(lines: pa.Array | pa.ChunkedArray) -> bool:
    return bool(pc.all(pc.string_is_ascii(lines)).as_py())


def text_array(values: pd.Series) -> pa.ChunkedArray:
    """A column as Arrow `large_string`, missing values as "" (zero-copy for text columns)."""
    if isinstance(values.dtype, pd.StringDtype) or values.dtype == "str":
        array = pa.array(values.array)
    else:
        filled = values.astype(object).where(values.notna(), "")
        try:
            array = pa.array(filled, type=pa.large_string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers and the like
            array = pa.array(filled.astype(str), type=pa.large_string())
    if isinstance(array, pa.Array):
        array = pa.chunked_array([array])
    return pc.fill_null(array.cast(pa.large_string()), "")


def taken(values: pd.Series, rows: np.ndarray) -> pa.ChunkedArray:
    """The column's text at `rows` (positions), "" at -1."""
    return pc.fill_null(text_array(values).take(pa.array(rows, mask=rows < 0)), "")


def any_byte(array: pa.Array | pa.ChunkedArray, chars: bytes) -> bool:
    """Whether any string holds one of `chars`: a look at the data buffers in place (no copy,
    no regex)."""
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        chunk = chunk.cast(pa.large_string())
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[chunk.offset:]
        data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[len(chunk)]]
        if any(bool((data == c).any()) for c in chars):
            return True
    return False


def starts_with_any(array: pa.Array | pa.ChunkedArray, chars: bytes) -> bool:
    """Whether any string begins with one of `chars`: each value's first byte, read in place."""
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    for chunk in chunks:
        chunk = chunk.cast(pa.large_string())
        if len(chunk) == 0 or chunk.buffers()[2] is None:
            continue
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[
            chunk.offset:chunk.offset + len(chunk) + 1]
        data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)
        # An empty value's offset is the next value's first byte (checked anyway); the empty
        # values at the end, at the last offset, have none.
        begins = offsets[:np.searchsorted(offsets, offsets[-1])]
        first = data[begins]
        if any(bool((first == c).any()) for c in chars):
            return True
    return False


def from_latin1(values: pa.Array) -> pa.Array:
    """ISO-8859-1 texts (binary, offset 0) as UTF-8 strings: a byte ≥ 0x80 becomes two."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[:len(values) + 1]
    first = int(offsets[0]) if len(offsets) else 0
    data = np.frombuffer(values.buffers()[2] or b"", dtype=np.uint8)[first:offsets[-1]] \
        if len(offsets) else np.zeros(0, dtype=np.uint8)
    wide = data >= 0x80
    if not wide.any():
        return values.cast(pa.large_string())
    before = np.concatenate([[0], np.cumsum(wide)])  # wide bytes before each position
    out = np.empty(len(data) + int(before[-1]), dtype=np.uint8)
    at = np.arange(len(data)) + before[:-1]
    out[at] = np.where(wide, 0xC0 | (data >> 6), data)
    out[at[wide] + 1] = 0x80 | (data[wide] & 0x3F)
    moved = (offsets - first) + before[offsets - first]
    return pa.LargeStringArray.from_buffers(len(values), pa.py_buffer(moved.astype(np.int64)),
                                            pa.py_buffer(out), values.buffers()[0],
                                            values.null_count)
