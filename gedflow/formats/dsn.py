"""The DSN (NEODeS text lines `Sxx.Gxx.xx.xxx,'value'`), read leniently and without a Python
loop per line: the bytes are cut into lines by numpy and handled as Arrow arrays. Layout:
`schemas.dsn`.

- Encoding: UTF-8 (BOM or not) when the bytes are UTF-8, else ISO-8859-1; CRLF or LF.
- The value is the text between the first `,'` and the last `'` (quotes inside are not
  escaped).
- A new block instance starts when the block changes or its rubric number goes down or repeats
  (never relying on `.001`); it attaches to the latest instance of its parent above it, within
  the same declaration, else it is out of place.
- Several declarations (S20) per envoi and lot envelopes (S05/S06/S95/S96, outside the totals).
- Every problem is one row of `Dsn.problems` (`ligne;rubrique;valeur;code;message`, NIR masked)
  and the rest is read; only a file that is not a DSN, or not text, raises `InputError`.
"""

from __future__ import annotations

import logging
import mmap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gedflow.checks import mask_nir, nir_numbers
from gedflow.errors import InputError
from gedflow.formats.arrowtext import decodes, from_latin1
from schemas.dsn import (
    BLOCKS,
    DECLARATION,
    ENVOI,
    LECTURE_COLUMNS,
    LOT_PREFIXES,
    READING_CODES,
    TOTAL,
    Block,
    Kind,
)
from schemas.fields import JJMMAAAA

log = logging.getLogger(__name__)
BOM = b"\xef\xbb\xbf"
TEXT = pa.large_string()

_PATTERNS = {Kind.DATE: JJMMAAAA.regex, Kind.AMOUNT: r"-?\d+\.\d{2}", Kind.CODE: r"[^\s']+"}
_NOT_DSN = (
    (b"%PDF", "un PDF"), (b"PK\x03\x04", "une archive ZIP"), (b"\x1f\x8b", "un fichier gzip"),
    (b"<?xml", "un fichier XML (un compte rendu ? déposez-le dans inbox/crm_nominatif/travail/)"),
    (b"<", "une page HTML ou un fichier XML"),
)


@dataclass
class Dsn:
    """A read DSN: one table per declared block (`schemas.dsn`), each row a block instance
    with its rubrics by name (absent: ""; NIRs upper-cased), `_id` (instance), `_parent`
    (its parent's `_id`), `_decl` (its declaration's `_id`, -1 above the declarations) and
    `_ligne` (first line)."""

    tables: dict[str, pd.DataFrame]
    problems: pd.DataFrame
    encoding: str
    lines: int
    warnings: list[str] = field(default_factory=list)

    def __getitem__(self, block: Block) -> pd.DataFrame:
        return self.tables[block.name]


def _what_it_is(head: bytes) -> str:
    stripped = head.lstrip()
    for magic, what in _NOT_DSN:
        if stripped.startswith(magic):
            return what
    first = stripped.split(b"\n", 1)[0][:60].decode("latin-1", "replace").strip()
    if ";" in first or "," in first:
        return f"un tableau (première ligne « {first} »)"
    return f"un fichier dont la première ligne est « {first} »" if first else "un fichier vide"


def sniff(raw: bytes) -> None:
    """Raise `InputError` unless the file begins as a DSN (or a lot of DSNs) does."""
    head = raw[:4096].removeprefix(BOM).lstrip(b"\r\n\t ")
    if b"\x00" in raw[:4096]:
        raise InputError("ce n'est pas une DSN : fichier binaire", code="pas_dsn",
                         todo="déposez la DSN exportée par la paie (fichier texte)")
    if not (head.startswith(b"S10.G00.00.001,'") or head.startswith(b"S05.G51.00.")):
        raise InputError(
            f"ce n'est pas une DSN : c'est {_what_it_is(head)}", code="pas_dsn",
            where="début du fichier",
            todo="déposez le fichier DSN (lignes S10.G00.00.001,'…') exporté par la paie")


def _decode(raw: bytes) -> tuple[bytes, str]:
    """The bytes without their BOM, and their encoding: UTF-8 when they are UTF-8, else
    ISO-8859-1 (its values are made UTF-8 rubric by rubric, where they are used)."""
    data = raw.removeprefix(BOM)
    if data.isascii():
        return data, "utf-8"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data, "iso-8859-1"
    return data, "utf-8"


def _gather(data: bytes, begin: np.ndarray, stop: np.ndarray,
            kind: pa.DataType = TEXT) -> pa.Array:
    """The texts [begin, stop) of `data`, copied into one array: memory for their bytes only
    (an Arrow array over the whole buffer, then `take`, reserves in proportion to the file).
    Bytes (`kind` binary) where a cut may fall inside a character."""
    sizes = stop - begin
    offsets = np.zeros(len(begin) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    kind_of_index = np.int32 if len(data) < 1 << 31 else np.int64  # half the traffic
    index = np.arange(offsets[-1], dtype=kind_of_index) - np.repeat(
        (offsets[:-1] - begin).astype(kind_of_index), sizes)
    values = np.take(np.frombuffer(data, dtype=np.uint8), index)  # faster than [index]
    return pa.Array.from_buffers(kind, len(begin),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(values)])


_HEAD = b"S99.G99.99.999,'"  # what each line begins with (9: a digit), as two 8-byte words


def _head_masks() -> list[tuple[np.uint64, ...]]:
    """Per word of _HEAD: the bits that must equal given bytes (fixed bytes, a digit's high
    nibble 3), and what added to a digit's byte sets its bit 7 when it is above 9."""
    masks = []
    for word in (_HEAD[:8], _HEAD[8:]):
        fixed = value = add = high = 0
        for i, byte in enumerate(word):
            digit = byte == ord("9")
            fixed |= (0xF0 if digit else 0xFF) << 8 * i
            value |= (0x30 if digit else byte) << 8 * i
            if digit:
                add |= 0x46 << 8 * i  # 0x39 + 0x46 = 0x7F
                high |= 0x80 << 8 * i
        masks.append(tuple(np.uint64(m) for m in (fixed, value, add, high)))
    return masks


_MASKS = _head_masks()
_BLOCK_END = np.uint64(0xFFFF)  # in the second word: the block's last two digits
# Digits read from a little-endian word (the first digit in the lowest byte), by lookup:
_DIGIT_PAIRS = np.zeros(0x0A0A, dtype=np.int32)  # 0x0U0T → 10T + U
_DIGIT_PAIRS[[n | (m << 8) for n in range(10) for m in range(10)]] = np.arange(100)
_RUBRIC_NUMBERS = np.zeros(0x0A0A0A, dtype=np.int16)  # 0x0U0T0H → 100H + 10T + U
_RUBRIC_NUMBERS[[n | (m << 8) | (p << 16) for n in range(10) for m in range(10)
                 for p in range(10)]] = np.arange(1000)
_CODES = [f"{b.code}.{r.number}" for b in BLOCKS for r in b.rubrics]  # the declared rubrics
_DECLARED_BLOCK = np.full(1_000_000, len(BLOCKS), dtype=np.int8)  # xxyyzz → BLOCKS index
_SLOT = np.full((len(BLOCKS) + 1, 1000), -1, dtype=np.int8)  # (block, rubric) → _CODES index
for _slot, _code in enumerate(_CODES):
    _index = next(i for i, b in enumerate(BLOCKS) if b.code == _code[:10])
    _DECLARED_BLOCK[int(_code[1:3] + _code[5:7] + _code[8:10])] = _index
    _SLOT[_index, int(_code[11:])] = _slot
_LOT_HEAD = np.zeros(100, dtype=bool)  # xx of Sxx → a lot envelope's block (S05. → 5)
_LOT_HEAD[[int(prefix[1:3]) for prefix in LOT_PREFIXES]] = True
_PIECE = 1 << 22  # bytes read at once: temporaries stay small and in cache


def _block_numbers(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Sxx.Gyy.zz of heads (their two words) as the number xxyyzz."""
    one, two = np.uint64(8), np.uint64(40)
    pair = np.uint64(0x0F0F)
    return (np.take(_DIGIT_PAIRS, (first >> one) & pair) * 10_000
            + np.take(_DIGIT_PAIRS, (first >> two) & pair) * 100
            + np.take(_DIGIT_PAIRS, second & pair))


def _block_name(number: int) -> str:
    """210030 → S21.G00.30."""
    return f"S{number // 10_000:02d}.G{number // 100 % 100:02d}.{number % 100:02d}"


@dataclass
class _Rubric:
    """The lines of one declared rubric with a value: the block instance each belongs to, the
    line number and the value (bytes for ISO-8859-1), in file order."""

    instance: np.ndarray
    line: np.ndarray
    values: pa.Array


@dataclass
class _Piece:
    """What reading some whole lines finds, numbered within the piece. Lines of the
    Sxx.Gxx.xx.xxx,'…' shape are kept; a block instance starts where the block's bytes change
    or the rubric number does not go up."""

    lines: int
    kept: int
    problems: list[pd.DataFrame]  # unreadable lines, empty values
    start: np.ndarray  # per instance: its first kept line (position among the kept)
    line: np.ndarray  # its first line (number)
    blocks: np.ndarray  # its block, Sxx.Gyy.zz as the number xxyyzz
    continues: bool  # its first instance goes on from the piece before, if any
    first_number: int  # the first kept line's rubric number, the last's
    last_number: int
    rubrics: list[_Rubric]  # one per _CODES


def _read_piece(data: bytes, lo: int, hi: int, latin1: bool) -> _Piece:
    """Read the whole lines of data[lo:hi] (temporaries of the piece's size only)."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    words = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    end = np.flatnonzero(buffer[lo:hi] == 10) + lo
    start = np.empty(len(end), dtype=np.int64)
    start[0], start[1:] = lo, end[:-1] + 1
    last = buffer[end - 1]  # at -1 (the buffer's last byte) only for an empty first line
    crlf = (last == 13) & (end > start)
    if crlf.any():
        end -= crlf
        last = np.where(crlf, buffer[end - 1], last)
    length = end - start
    cap = len(words) - 9  # a line's two words are read where it starts, within the buffer
    at = start if start[-1] <= cap else np.minimum(start, cap)
    first, second = words[at], words[at + 8]
    (fixed, value, add, high), (fixed_2, value_2, add_2, high_2) = _MASKS
    wrong = (((first & fixed) ^ value) | ((first + add) & high)
             | ((second & fixed_2) ^ value_2) | ((second + add_2) & high_2))
    shaped = (wrong == 0) & (length > len(_HEAD)) & (last == 39)  # CODE,' … '
    problems = []
    unreadable = np.flatnonzero((length > 0) & ~shaped)
    if len(unreadable):
        shown = _gather(data, start[unreadable], np.minimum(end[unreadable],
                                                            start[unreadable] + 60),
                        pa.large_binary()).to_pylist()
        problems.append(_problem(unreadable + 1, "", [t.decode(
            "latin-1" if latin1 else "utf-8", "replace")
                                                      for t in shown], "LIGNE_ILLISIBLE"))
    lines, keep = len(end), np.flatnonzero(shaped)
    if len(keep) < lines:
        first, second, start, end = first[keep], second[keep], start[keep], end[keep]
        length = length[keep]
    # np.take: indexing with other than intp indices converts them first (2-3 times slower)
    number = np.take(_RUBRIC_NUMBERS, (second >> np.uint64(24)) & np.uint64(0x0F0F0F))
    new = np.ones(len(keep), dtype=bool)
    new[1:] = ((first[1:] != first[:-1]) | (((second[1:] ^ second[:-1]) & _BLOCK_END) != 0)
               | (number[1:] <= number[:-1]))
    starts = np.flatnonzero(new)
    blocks = _block_numbers(first[starts], second[starts])
    declared = np.take(_DECLARED_BLOCK, blocks)  # its index in BLOCKS, len(BLOCKS) if none
    sizes = np.diff(np.append(starts, len(keep)))
    slot = np.take(_SLOT.ravel(), np.repeat(declared.astype(np.int32)
                                            * _SLOT.shape[1], sizes) + number)
    empty = np.flatnonzero(length == len(_HEAD) + 1)  # CODE,''
    if len(empty):
        instance = np.searchsorted(starts, empty, side="right") - 1
        lot = _LOT_HEAD[blocks[instance] // 10_000]
        empty, instance = empty[~lot], instance[~lot]
        codes = [f"{_block_name(b)}.{n:03d}"
                 for b, n in zip(blocks[instance], number[empty], strict=True)]
        problems.append(_problem(keep[empty] + 1, codes, "", "VALEUR_VIDE"))
        slot[empty] = -1
    # Instances of blocks gedflow does not use (cotisations…, most of a DSN's lines) are not
    # kept: memory follows what is read, not the file. Kept all the same: the lot envelopes
    # (outside the S90 line count) and the piece's edges (stitched to its neighbours).
    used = (declared < len(BLOCKS)) | np.take(_LOT_HEAD, blocks // 10_000)
    if len(used):
        used[[0, -1]] = True
    # The declared rubrics' lines grouped by rubric (file order within each), their values
    # copied while the piece's bytes are in cache: each rubric's values are then one slice.
    order = np.argsort(slot, kind="stable")
    bounds = np.cumsum(np.bincount(slot + 1, minlength=len(_CODES) + 1))  # -1 (none) first
    taken = order[bounds[0]:]
    instances = np.take(np.cumsum(used, dtype=np.int32) - 1,
                        np.take(np.cumsum(new, dtype=np.int32), taken) - 1)
    line_numbers = (keep[taken] + 1).astype(np.int32)  # within the piece
    values = _gather(data, start[taken] + len(_HEAD), end[taken] - 1,
                     pa.large_binary() if latin1 else TEXT)
    bounds -= bounds[0]
    rubrics = [_Rubric(instances[low:high], line_numbers[low:high], values.slice(low, high - low))
               for low, high in zip(bounds[:-1], bounds[1:], strict=True)]
    starts = starts[used]
    return _Piece(lines, len(keep), problems, starts, keep[starts] + 1, blocks[used], False,
                  int(number[0]) if len(keep) else 0, int(number[-1]) if len(keep) else 0,
                  rubrics)


def _pieces(data, latin1: bool) -> list[_Piece]:  # noqa: ANN001 - bytes or an mmap
    """The buffer's pieces (a newline added at its end if missing), read by two threads (numpy
    releases the GIL)."""
    if not data[-1:] == b"\n":
        data = bytes(data) + b"\n"
    if len(data) < 2 * len(_HEAD):  # a line's head is read only where the line is longer
        data = bytes(data) + b"\n" * len(_HEAD)  # than it, and the first line's always
    buffer = np.frombuffer(data, dtype=np.uint8)
    bounds = [0]
    while bounds[-1] < len(data):
        at = min(bounds[-1] + _PIECE, len(data) - 1)
        ahead = np.flatnonzero(buffer[at:at + (1 << 16)] == 10)
        bounds.append(at + int(ahead[0]) + 1 if len(ahead) else
                      at + int(np.flatnonzero(buffer[at:] == 10)[0]) + 1)
    with ThreadPoolExecutor(2) as pool:
        pieces = list(pool.map(lambda lo, hi: _read_piece(data, lo, hi, latin1), bounds[:-1],
                               bounds[1:]))
    previous = None
    for piece in pieces:  # an instance cut by a piece's edge: made whole again
        if not piece.kept:
            continue
        piece.continues = (previous is not None and piece.blocks[0] == previous.blocks[-1]
                           and piece.first_number > previous.last_number)
        previous = piece
    return pieces


def _problem(line: np.ndarray, rubrique, valeur, code: str) -> pd.DataFrame:
    return pd.DataFrame({"ligne": line, "rubrique": rubrique, "valeur": valeur, "code": code,
                         "message": READING_CODES[code]}, columns=LECTURE_COLUMNS)


class _Reader:
    """A file's block instances and declared rubrics, joined from its pieces."""

    def __init__(self, pieces: list[_Piece], latin1: bool) -> None:
        self.latin1 = latin1
        self.problems: list[pd.DataFrame] = []
        instances, lines, kept = 0, 0, 0
        starts, first_lines, blocks = [], [], []
        rubrics: list[list[tuple[_Rubric, int, int]]] = [[] for _ in _CODES]
        for piece in pieces:
            self.problems += [p.assign(ligne=p["ligne"] + lines) for p in piece.problems]
            skip = int(piece.continues)
            base = instances - skip
            starts.append(piece.start[skip:] + kept)
            first_lines.append(piece.line[skip:] + lines)
            blocks.append(piece.blocks[skip:])
            for mine, rubric in zip(rubrics, piece.rubrics, strict=True):
                mine.append((rubric, base, lines))
            instances += len(piece.blocks) - skip
            lines += piece.lines
            kept += piece.kept
        self.kept = kept
        self.instance_start = np.concatenate(starts)
        self.instance_line = np.concatenate(first_lines)
        blocks = np.concatenate(blocks)
        present = np.zeros(1_000_000, dtype=bool)
        present[blocks] = True
        distinct = np.flatnonzero(present)
        self.names = [_block_name(b) for b in distinct]
        rank = np.zeros(len(present), dtype=np.int16)  # a block's number → its rank in names
        rank[distinct] = np.arange(len(distinct))
        self.instance_block = rank[blocks]
        self.instance_lot = _LOT_HEAD[distinct // 10_000][self.instance_block]
        self._rubrics = dict(zip(_CODES, rubrics, strict=True))

    def rubric(self, code: str) -> _Rubric:
        """A declared rubric's lines over the file (joined when asked, once: by the threads
        that build the tables)."""
        parts = self._rubrics.pop(code)
        counts = [len(r.instance) for r, _, _ in parts]
        instance = np.concatenate([r.instance for r, _, _ in parts]).astype(np.int64)
        instance += np.repeat([base for _, base, _ in parts], counts)
        line = np.concatenate([r.line for r, _, _ in parts]).astype(np.int64)
        line += np.repeat([lines for _, _, lines in parts], counts)
        return _Rubric(instance, line, pa.concat_arrays([r.values for r, _, _ in parts]))

    def positions(self, code: str) -> np.ndarray:
        """The instances of a block, in file order."""
        if code not in self.names:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(self.instance_block == self.names.index(code))


def _unusable(values: pa.Array, kind: Kind, max_length: int) -> tuple[np.ndarray, str]:
    """The positions of the values unusable for their kind (each distinct value checked
    once), and the problem's code."""
    longest = max_length or np.iinfo(np.int32).max
    if kind is Kind.TEXT:  # its length only (in bytes first: never fewer than characters)
        if (pc.max(pc.binary_length(values)).as_py() or 0) <= longest:
            return np.zeros(0, dtype=np.int64), "FORMAT"
        too_long = pc.greater(pc.utf8_length(values), longest)
        return np.flatnonzero(too_long.to_numpy(zero_copy_only=False)), "FORMAT"
    if kind is Kind.NIR:  # 13 characters of a NIR's shape (no key); each one distinct
        ok = ((nir_numbers(values) >= 0)
              & (pc.utf8_length(values).to_numpy(zero_copy_only=False) == 13))
        return np.flatnonzero(~ok), "NIR_INVALIDE"
    distinct = pc.unique(values)
    ok = np.ones(len(distinct), dtype=bool)
    if kind in _PATTERNS:
        ok &= pc.match_substring_regex(distinct, f"^{_PATTERNS[kind]}$").to_numpy(
            zero_copy_only=False)
    if kind is Kind.DATE and ok.any():
        dates = pd.Series(distinct.to_pandas()).where(ok)
        ok &= pd.to_datetime(dates, format=JJMMAAAA.pattern,
                             errors="coerce").notna().to_numpy()
    if max_length:
        ok &= pc.less_equal(pc.utf8_length(distinct), max_length).to_numpy(
            zero_copy_only=False)
    if ok.all():
        return np.zeros(0, dtype=np.int64), "FORMAT"
    bad = pc.is_in(values, value_set=distinct.filter(pa.array(~ok)))
    return np.flatnonzero(bad.to_numpy(zero_copy_only=False)), "FORMAT"


def _attach(reader: _Reader) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each declared block's valid instances, their parent instance and declaration: the
    latest parent instance above, within the same declaration; out of place otherwise."""
    declarations = reader.positions(DECLARATION.code)
    found: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for block in BLOCKS:  # parents come before children in BLOCKS
        mine = reader.positions(block.code)
        slot_decl = np.searchsorted(declarations, mine, side="right") - 1
        decl = (np.where(slot_decl >= 0, declarations[np.maximum(slot_decl, 0)], -1)
                if len(declarations) else np.full(len(mine), -1))
        if not block.parent:
            parent = np.full(len(mine), -1)
            ok = np.ones(len(mine), dtype=bool)
        else:
            parents, _parent_parent, parent_decl = found.get(
                block.parent, (np.zeros(0, np.int64),) * 3)
            slot = np.searchsorted(parents, mine, side="right") - 1
            ok = slot >= 0
            safe = np.maximum(slot, 0)
            parent = np.where(ok, parents[safe], -1) if len(parents) else np.full(len(mine), -1)
            if block.parent != ENVOI.code and len(parents):
                ok &= np.where(ok, parent_decl[safe], -2) == decl
        if not ok.all():
            lines = reader.instance_line[mine[~ok]]
            reader.problems.append(_problem(lines, block.code, "", "BLOC_HORS_PLACE"))
        found[block.code] = (mine[ok], parent[ok], decl[ok])
    return found


def _column(reader: _Reader, code: str, kind: Kind, max_length: int, row_of: np.ndarray,
            rows: int) -> pa.Array:
    """A rubric's values for the `rows` instances of its block (`row_of`: instance → row,
    -1 for none), checked; "" where there is none or it is unusable (a problem row)."""
    rubric = reader.rubric(code)
    row = row_of[rubric.instance]
    values = rubric.values
    every = np.arange(rows)
    if len(row) == rows and (row == every).all():  # the usual: one value per row, in order
        source = present = every
    else:
        source = np.full(rows, -1)
        source[row[row >= 0]] = np.flatnonzero(row >= 0)  # twice in an instance: the last
        present = np.flatnonzero(source >= 0)
        chosen = source[present]
        if len(chosen) != len(values) or (chosen != np.arange(len(chosen))).any():
            values = values.take(pa.array(chosen))  # out of place, or twice in an instance
    if reader.latin1:
        values = from_latin1(values)
    if kind is Kind.NIR:  # 2a, 2b: read as 2A, 2B
        values = pc.utf8_upper(values)
    bad, problem = _unusable(values, kind, max_length) if len(present) else ([], "")
    if len(bad):
        shown = pd.Series(values.take(pa.array(bad)).to_pandas(), dtype="str")
        shown = mask_nir(shown) if kind is Kind.NIR else shown.str.slice(0, 60)
        reader.problems.append(_problem(rubric.line[source[present[bad]]], code,
                                        shown.to_numpy(), problem))
    elif len(present) == rows:
        return values
    at = np.full(rows, -1)  # row → its value among `values`; none or unusable: ""
    at[present] = np.arange(len(present))
    at[present[bad]] = -1
    return pc.fill_null(values.take(pa.array(at, mask=at < 0)), "")


def _tables(reader: _Reader, attached: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
            ) -> dict[str, pd.DataFrame]:
    """Per declared block, one row per instance and one column per declared rubric (pivoted
    in Arrow); the columns built by two threads, whatever their block."""
    row_of = np.full(len(reader.instance_block), -1)  # each instance in its block's table
    for block in BLOCKS:
        instances = attached[block.code][0]
        row_of[instances] = np.arange(len(instances))
    with ThreadPoolExecutor(2) as pool:
        built = {block.name: {r.name: pool.submit(
            _column, reader, f"{block.code}.{r.number}", r.kind, r.max_length, row_of,
            len(attached[block.code][0])) for r in block.rubrics} for block in BLOCKS}
        columns = {name: {r: f.result() for r, f in mine.items()} for name, mine in built.items()}
    tables = {}
    for block in BLOCKS:
        instances, parents, decls = attached[block.code]
        tables[block.name] = pa.table({
            **columns[block.name], "_id": instances, "_parent": parents, "_decl": decls,
            "_ligne": reader.instance_line[instances]}).to_pandas()
    return tables


def _totals(reader: _Reader, tables: dict[str, pd.DataFrame]) -> None:
    """S90.G00.90.001 = the rubric lines of its envoi (S10…S90, lot lines out); .002 = its
    declarations."""
    envois = reader.positions(ENVOI.code)
    if not len(envois):
        return
    sizes = np.diff(np.append(reader.instance_start, reader.kept))
    counted = np.concatenate([[0], np.cumsum(np.where(reader.instance_lot, 0, sizes))])
    bounds = np.append(envois, len(sizes))
    lines = counted[bounds[1:]] - counted[bounds[:-1]]
    declarations = tables[DECLARATION.name]
    per_envoi = np.bincount(np.searchsorted(envois, declarations["_parent"], side="right") - 1,
                            minlength=len(envois)) if len(declarations) else np.zeros(
        len(envois), dtype=np.int64)
    for total in tables[TOTAL.name].to_dict("records"):  # one per envoi: a handful
        envoi = int(np.searchsorted(envois, total["_parent"], side="right") - 1)
        want = (str(lines[envoi]), str(per_envoi[envoi]))
        if (total["lignes"], total["declarations"]) != want:
            reader.problems.append(_problem(
                np.array([total["_ligne"]]), TOTAL.rubric("lignes"),
                f"{total['lignes']} / {total['declarations']} (fichier : {want[0]} / "
                f"{want[1]})", "TOTAUX_S90"))


def read(raw: bytes) -> Dsn:
    """Read a DSN leniently, or raise `InputError` for a file that is not one."""
    sniff(raw)
    return _read(*_decode(raw))


def read_path(path: Path) -> Dsn:
    """`read` of a file on disk, mapped rather than loaded: memory goes to the pieces read
    and the tables built, not to the file."""
    with path.open("rb") as handle:
        if path.stat().st_size < 2 * len(_HEAD):
            return read(handle.read())
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            sniff(mapped[:4096])
            data = memoryview(mapped)[len(BOM):] if mapped[:len(BOM)] == BOM else mapped
            try:
                return _read(data, "utf-8" if decodes(data, "utf-8") else "iso-8859-1")
            finally:
                if isinstance(data, memoryview):
                    data.release()


def _read(data, encoding: str) -> Dsn:  # noqa: ANN001 - bytes or a mapped file
    latin1 = encoding == "iso-8859-1"
    reader = _Reader(_pieces(data, latin1), latin1)
    tables = _tables(reader, _attach(reader))
    _totals(reader, tables)
    problems = (pd.concat(reader.problems, ignore_index=True).sort_values("ligne", kind="stable")
                if reader.problems else pd.DataFrame(columns=LECTURE_COLUMNS))
    warnings = []
    if encoding == "utf-8" and not bytes(data[:1 << 20]).isascii():
        warnings.append("fichier en UTF-8 (la norme attend ISO-8859-1) : lu en UTF-8")
    log.info("DSN: %d lines, %d declarations, %d individuals, %d reading problems",
             reader.kept, len(tables[DECLARATION.name]), len(tables["individu"]),
             len(problems))
    return Dsn(tables=tables, problems=problems.reset_index(drop=True), encoding=encoding,
               lines=reader.kept, warnings=warnings)
