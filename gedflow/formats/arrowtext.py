"""Text assembled in Arrow: lines joined element-wise, then read as one buffer."""

from __future__ import annotations

import numpy as np
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
