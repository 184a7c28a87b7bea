"""Text assembled in Arrow: lines joined element-wise, then read as one buffer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def contiguous_bytes(lines: pa.Array | pa.ChunkedArray) -> bytes:
    """All the strings' UTF-8 bytes, back to back, straight from Arrow's data buffer."""
    array = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
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
