"""Records of plain machine-written XML found with numpy on the raw bytes, without a tree.

The DGFiP writes its reports the same way every time: no comments, CDATA sections, processing
instructions, character references or `>` in texts and attribute values. In such a file, once
the hardened parser has found it well formed, every `<` opens a tag and the next `>` closes it,
so tags, nesting and the text of leaf elements come out of array operations (a few passes over
the bytes instead of a Python object per element). `scan` returns None as soon as the file
strays from that shape, and the caller reads it through the tree instead; both give the same
values (normalize-space applied, entities decoded).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gedflow.formats.arrowtext import any_byte

LT, GT, SLASH, BANG, QUESTION = (ord(c) for c in "<>/!?")
OPEN, CLOSE, EMPTY = 0, 1, 2
PAD = 8  # zero bytes after the data, so an 8-byte word can be read at any tag
CHUNK = 1 << 24
BLOCK = 1 << 24  # bytes of file per scan (8–16 MB measured fastest: temporaries stay small)
# libxml2's limits without huge_tree: a file beyond them goes to the tree parser, which refuses it.
MAX_DEPTH = 256
MAX_TEXT = 10_000_000
WHITESPACE = np.array([ord(c) for c in " \t\r\n"], dtype=np.uint8)
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&"))


def padded(*parts: bytes | memoryview) -> tuple[bytearray, int]:
    """The parts' bytes one after the other, PAD zero bytes after them, as `scan` needs them,
    and their size (one copy)."""
    size = sum(len(part) for part in parts)
    data, at = bytearray(size + PAD), 0
    for part in parts:
        data[at : at + len(part)] = part
        at += len(part)
    return data, size


def _head(piece: bytes) -> bytes:
    """The piece up to the end of its root start tag (XML declaration included)."""
    at = piece.find(b"<")
    while at >= 0 and piece[at + 1 : at + 2] == b"?":
        at = piece.find(b"<", at + 1)
    end = piece.find(b">", at)
    return piece[: end + 1] if at >= 0 and end >= 0 else piece


@dataclass(frozen=True)
class Split:
    """Where a record too large for a block may be cut: between two sibling `element`s, whose
    parent is reached from the record by `open` (the start tags reopened after the cut)."""

    element: str
    open: tuple[str, ...]

    def point(self, text: bytes) -> int:
        """The end of the last `element` followed by another one in `text`; -1 if none."""
        end_tag, sibling = f"</{self.element}>".encode(), _sibling(self.element)
        at = text.rfind(end_tag)
        while at >= 0 and not sibling.match(text, at + len(end_tag)):
            at = text.rfind(end_tag, 0, at)
        return at + len(end_tag) if at >= 0 else -1

    @property
    def reopen(self) -> bytes:
        return b"".join(f"<{name}>".encode() for name in self.open)

    @property
    def close(self) -> bytes:
        return b"".join(f"</{name}>".encode() for name in reversed(self.open))


@cache
def _sibling(element: str) -> re.Pattern:
    return re.compile(rb"\s*<" + re.escape(element.encode()) + rb"[\s/>]")


def blocks(path: Path, cut: bytes, split: Split) -> Iterator[tuple[bytearray, int, bool]]:
    """The file as documents of about BLOCK bytes each (memory stays flat whatever its size),
    cut just after a `cut` (a record's end tag): every piece but the first gets the file's head
    (up to the end of the root start tag) before it, and every piece but the last the closing
    tags after it. A record larger than a block is cut inside, at `split`: the next piece
    reopens it and is flagged continued (its first record is the end of the previous piece's
    last one). Padded for `scan`."""
    head, carry, reopen = b"", b"", b""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(BLOCK)
            text = carry + chunk
            end = text.rfind(cut) + len(cut) if chunk else len(text)
            inside = chunk and end < len(cut)  # no record ends in the text: cut inside one
            if inside:
                end = split.point(text) if len(text) > BLOCK else -1
                if end < 0:
                    carry = text  # no record ends here yet: read on
                    continue
            close = (split.close if inside else b"") + b"</r>"
            piece, carry = memoryview(text)[:end], text[end:]
            if not head:
                head = _head(text)
                parts = (piece,)
            else:
                parts = (head, reopen, piece)
            yield (*padded(*parts, close if chunk else b""), bool(reopen))
            del piece, parts
            reopen = split.reopen if inside else b""
            if not chunk:
                return


@dataclass
class Tags:
    """Every tag of the document from the root start tag on, in document order."""

    data: bytearray  # the file, PAD zero bytes after it
    start: np.ndarray  # position of `<`
    end: np.ndarray  # position of `>`
    kind: np.ndarray  # OPEN | CLOSE | EMPTY
    level: np.ndarray  # depth of the element (root = 1)
    parent: np.ndarray  # tag index of the parent element's start tag (-1: none)
    names: tuple[str, ...]  # the names looked up
    name_id: np.ndarray  # index in `names` of each start/empty tag's name (-1: other)
    by_name: list[np.ndarray]  # per name, the indexes of the tags so named, in document order

    def where(self, name: str, level: int) -> np.ndarray:
        """Indexes of the start/empty tags named `name` at `level`, in document order."""
        at = self.by_name[self.names.index(name)]
        return at[self.level[at] == level]

    def is_named(self, at: np.ndarray, name: str) -> np.ndarray:
        return self.name_id[at] == self.names.index(name)


def _brackets(data: bytearray, size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Positions of `<` and `>`, or None unless they strictly alternate."""
    array = np.frombuffer(data, dtype=np.uint8, count=size)
    found = []
    for at in range(0, size, CHUNK):
        chunk = array[at : at + CHUNK]
        found.append(np.flatnonzero((chunk == LT) | (chunk == GT)) + at)
    positions = np.concatenate(found)
    if len(positions) % 2:
        return None
    start, end = positions[0::2], positions[1::2]
    if not ((array[start] == LT).all() and (array[end] == GT).all()):
        return None  # a `>` in text or in an attribute value
    return start, end


def _words(data: bytearray) -> np.ndarray:
    """The little-endian 8-byte word starting at every byte (an unaligned view, no copy)."""
    return np.ndarray(shape=(len(data) - PAD,), dtype="<u8", buffer=data, strides=(1,))


def _word_of(text: bytes) -> np.uint64:
    return np.uint64(int.from_bytes(text[:8].ljust(8, b"\0"), "little"))


def _low_bytes(count: int) -> np.uint64:
    return np.uint64((1 << (8 * min(count, 8))) - 1)


def _name_ids(start: np.ndarray, name_length: np.ndarray, opening: np.ndarray,
              data: bytearray, names: tuple[str, ...]) -> tuple[np.ndarray, list[np.ndarray]]:
    """For each tag, the index in `names` of its name (-1: a closing tag or another name), and
    per name its tags in document order. A name ends at the tag's end or at the white space
    before its attributes."""
    words = _words(data)
    array = np.frombuffer(data, dtype=np.uint8)
    tags = np.flatnonzero(opening)
    name_start, length = start[tags] + 1, name_length[tags]
    # Tags sorted by their first byte: each name is compared with its own slice only.
    order = np.argsort(array[name_start], kind="stable")
    tags, name_start, length = tags[order], name_start[order], length[order]
    first = words[name_start]
    bounds = np.searchsorted(array[name_start], np.arange(257))
    ids, by_name = np.full(len(start), -1, dtype=np.int16), []
    for number, name in enumerate(names):
        raw = name.encode()
        low, high = bounds[raw[0]], bounds[raw[0] + 1]
        prefix = (first[low:high] & _low_bytes(len(raw))) == _word_of(raw)
        candidates = low + np.flatnonzero(prefix & (length[low:high] >= len(raw)))
        for offset in range(8, len(raw), 8):  # names longer than one word
            piece = raw[offset : offset + 8]
            same = (words[name_start[candidates] + offset] & _low_bytes(len(piece))) == _word_of(
                piece)
            candidates = candidates[same]
        whole = (length[candidates] == len(raw)) | np.isin(
            array[name_start[candidates] + len(raw)], WHITESPACE)
        found = tags[candidates[whole]]  # ascending: the sort by first byte was stable
        ids[found] = number
        by_name.append(found)
    return ids, by_name


def _default_namespace(data: bytearray, size: int, start: np.ndarray, end: np.ndarray) -> bool:
    """Whether a tag declares a default namespace (`xmlns="…"`): unprefixed names below it
    are then namespaced, which only the tree path tells apart."""
    at = data.find(b"xmlns", 0, size)
    while at >= 0:
        tag = np.searchsorted(start, at) - 1
        if tag >= 0 and at < end[tag] and re.match(rb"xmlns\s*=", data[at : at + 40]):
            return True
        at = data.find(b"xmlns", at + 5, size)
    return False


def _parents(start: np.ndarray, kind: np.ndarray, level: np.ndarray) -> np.ndarray:
    """For each tag, the index of its parent element's start tag (one pass per depth)."""
    parent = np.full(len(start), -1, dtype=np.int64)
    opening = kind != CLOSE
    for depth in range(2, int(level.max(initial=1)) + 1):
        parents = np.flatnonzero((kind == OPEN) & (level == depth - 1))
        children = np.flatnonzero(opening & (level == depth))
        if len(children):
            before = np.searchsorted(start[parents], start[children], side="right") - 1
            parent[children] = parents[before]
    return parent


def scan(data: bytearray, size: int, names: tuple[str, ...]) -> Tags | None:
    """The tags of a well-formed document of `size` bytes (`data` from `padded`), those of
    the looked-up `names` identified; None when the document is not of the plain shape described
    above."""
    head = bytes(data[: min(size, 512)])
    declared = _ENCODING.search(head.split(b"?>", 1)[0]) if head.startswith(b"<?") else None
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        return None
    found = _brackets(data, size)
    if found is None:
        return None
    start, end = found
    array = np.frombuffer(data, dtype=np.uint8)
    second, before_end = array[start + 1], array[end - 1]
    prolog = int(second[0] == QUESTION)  # the XML declaration
    if (second[prolog:] == QUESTION).any() or (second == BANG).any():
        return None  # comments, CDATA, processing instructions, DOCTYPE
    start, end, second, before_end = (a[prolog:] for a in (start, end, second, before_end))
    if _default_namespace(data, size, start, end):
        return None
    kind = np.where(second == SLASH, CLOSE, np.where(before_end == SLASH, EMPTY, OPEN))
    kind = kind.astype(np.int8)
    step = (kind == OPEN).astype(np.int8) - (kind == CLOSE).astype(np.int8)
    level = np.cumsum(step, dtype=np.int32) + (kind != OPEN)
    if level.max(initial=1) > MAX_DEPTH or (start[1:] - end[:-1]).max(initial=0) > MAX_TEXT:
        return None  # the hardened tree parser refuses it with its own message
    opening = kind != CLOSE
    opening[0] = False  # the root start tag carries attributes and is never looked up
    name_length = end - start - 1 - (kind == EMPTY)
    ids, by_name = _name_ids(start, name_length, opening, data, names)
    return Tags(data, start, end, kind, level, _parents(start, kind, level), names, ids, by_name)


def _on_path(tags: Tags, path: tuple[str, ...], level: int) -> np.ndarray:
    """Tag indexes of the elements at `path` whose first step is at `level`."""
    at = tags.where(path[-1], level + len(path) - 1)
    for step, name in enumerate(reversed(path[:-1]), start=1):
        at = at[tags.is_named(ancestor(tags, at, step), name)]
    return at


def elements(tags: Tags, path: tuple[str, ...]) -> np.ndarray:
    """Tag indexes of the elements at `path` below the root (e.g. declaration/…/salarie)."""
    return _on_path(tags, path, 2)


def ancestor(tags: Tags, at: np.ndarray, steps: int) -> np.ndarray:
    for _ in range(steps):
        at = tags.parent[at]
    return at


def _text(tags: Tags, leaves: np.ndarray, count: int, rows: np.ndarray) -> pa.Array | None:
    """`count` strings: the text of `leaves[i]` at row `rows[i]`, "" elsewhere; None if a leaf
    holds elements or a character reference. The texts are sliced out of the file's buffer by
    Arrow: over the buffer, an array alternates each text with the bytes up to the next one
    (its offsets are the texts' bounds, in document order), and the texts are taken from it."""
    if not len(leaves):
        return pa.chunked_array([pa.repeat(pa.scalar("", pa.large_string()), count)])
    filled = leaves[tags.kind[leaves] != EMPTY]
    if (tags.kind[filled + 1] != CLOSE).any():
        return None
    bounds = np.empty(2 * len(leaves) + 1, dtype=np.int64)
    bounds[0:-1:2] = np.where(tags.kind[leaves] == EMPTY, tags.end[leaves], tags.end[leaves] + 1)
    bounds[1:-1:2] = np.where(tags.kind[leaves] == EMPTY, tags.end[leaves],
                              tags.start[np.minimum(leaves + 1, len(tags.start) - 1)])
    bounds[-1] = bounds[-2]
    pieces = pa.LargeStringArray.from_buffers(
        2 * len(leaves), pa.py_buffer(bounds), pa.py_buffer(tags.data))
    pick = np.full(count, 2 * len(leaves) - 1, dtype=np.int64)
    pick[rows] = 2 * np.arange(len(leaves))
    return _decoded(pieces.take(pa.array(pick)))


def _decoded(values: pa.Array) -> pa.Array | None:
    """Entities decoded and white space normalised as XPath normalize-space does."""
    if any_byte(values, b"&"):
        if pc.any(pc.match_substring(values, "&#")).as_py():
            return None
        for entity, char in _ENTITIES:
            values = pc.replace_substring(values, entity, char)
    if any_byte(values, b" \t\r\n"):
        values = pc.replace_substring_regex(pc.utf8_trim(values, " \t\r\n"), r"[ \t\r\n]+", " ")
    return values


def fields(tags: Tags, records: np.ndarray, paths: dict[str, tuple[str, ...]]
           ) -> dict[str, pa.Array] | None:
    """One column per field path (relative to each record): the first such element's text,
    "" when the record has none; None when a field is not a plain text element."""
    row_of = np.full(len(tags.kind), -1, dtype=np.int64)
    row_of[records] = np.arange(len(records))
    level = tags.level[records[0]] if len(records) else 0
    columns = {}
    for column, path in paths.items():
        at = _on_path(tags, path, level + 1)
        rows = row_of[ancestor(tags, at, len(path))]
        at, rows = at[rows >= 0], rows[rows >= 0]
        _, first = np.unique(rows, return_index=True)  # document order: the first one wins
        text = _text(tags, at[first], len(records), rows[first])
        if text is None:
            return None
        columns[column] = text
    return columns
