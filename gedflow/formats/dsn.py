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
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gedflow.checks import mask_nir, nir_checked
from gedflow.errors import InputError
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

log = logging.getLogger(__name__)
BOM = b"\xef\xbb\xbf"
TEXT = pa.large_string()
CODE = r"S\d{2}\.G\d{2}\.\d{2}\.\d{3}"  # a line is CODE,'value'

_PATTERNS = {Kind.DATE: r"\d{8}", Kind.AMOUNT: r"-?\d+\.\d{2}", Kind.CODE: r"[^\s']+"}
_NOT_DSN = (
    (b"%PDF", "un PDF"), (b"PK\x03\x04", "une archive ZIP"), (b"\x1f\x8b", "un fichier gzip"),
    (b"<?xml", "un fichier XML (un compte rendu ? déposez-le dans inbox/crm_nominatif/travail/)"),
    (b"<", "une page HTML ou un fichier XML"),
)


@dataclass
class Dsn:
    """A read DSN: one table per declared block (`schemas.dsn`), each row a block instance
    with its rubrics by name (absent: ""), `_id` (instance), `_parent` (its parent's `_id`),
    `_decl` (its declaration's `_id`, -1 above the declarations) and `_ligne` (first line)."""

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
    """The bytes as UTF-8, and the encoding they were in."""
    data = raw.removeprefix(BOM)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1").encode("utf-8"), "iso-8859-1"
    return data, "utf-8"


@dataclass
class _Cut:
    """The file's lines as positions in its buffer: where each starts and ends (without the
    `\r\n`), found by numpy; texts are taken out of the buffer by Arrow, never one by one."""

    data: bytes
    bytes_: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def over(self, begin: np.ndarray, stop: np.ndarray, kind: pa.DataType = TEXT) -> pa.Array:
        """An array alternating gaps and the texts [begin, stop) over the buffer (begin ≤
        stop, both increasing), copying nothing: text i is element 2i+1. Bytes (`kind`
        binary) where a cut may fall inside a character."""
        bounds = np.empty(2 * len(begin) + 1, dtype=np.int64)
        bounds[0] = 0
        bounds[1::2] = begin
        bounds[2::2] = stop
        return pa.Array.from_buffers(kind, 2 * len(begin),
                                     [None, pa.py_buffer(bounds), pa.py_buffer(self.data)])

    def texts(self, begin: np.ndarray, stop: np.ndarray, kind: pa.DataType = TEXT) -> pa.Array:
        """The texts [begin, stop) of the buffer, as one contiguous array."""
        return self.over(begin, stop, kind).take(pa.array(np.arange(1, 2 * len(begin), 2)))


def _cut(data: bytes) -> _Cut:
    if not data.endswith(b"\n"):
        data += b"\n"
    buffer = np.frombuffer(data, dtype=np.uint8)
    newline = np.flatnonzero(buffer == 10)
    start = np.concatenate([[0], newline[:-1] + 1]).astype(np.int64)
    end = newline.astype(np.int64)
    end -= (end > start) & (buffer[np.maximum(end - 1, 0)] == 13)  # CRLF
    return _Cut(data, buffer, start, end)


def _problem(line: np.ndarray, rubrique, valeur, code: str) -> pd.DataFrame:
    return pd.DataFrame({"ligne": line, "rubrique": rubrique, "valeur": valeur, "code": code,
                         "message": READING_CODES[code]}, columns=LECTURE_COLUMNS)


class _Reader:
    """One file's lines, rubrics and block instances as arrays. Lines are grouped by rubric
    code once (a stable sort of their dictionary codes), so each declared rubric is found
    without a pass over the whole file."""

    def __init__(self, cut: _Cut) -> None:
        self.problems: list[pd.DataFrame] = []
        start, end, buffer = cut.start, cut.end, cut.bytes_
        number = np.arange(1, len(start) + 1)
        length = end - start
        long_enough = length >= 17  # CODE (14) ,' (2) … '
        at = np.where(long_enough, start, 0)
        shaped = long_enough & (buffer[at + 14] == 44) & (buffer[at + 15] == 39) & (
            buffer[np.where(long_enough, end - 1, 0)] == 39)
        codes = pc.dictionary_encode(cut.texts(start, np.minimum(start + 14, end),
                                               pa.large_binary()))
        names = [n.decode("utf-8", "replace") for n in codes.dictionary.to_pylist()]
        known = np.array([re.fullmatch(CODE, n) is not None for n in names] + [False])
        index = codes.indices.to_numpy()
        shaped &= known[index]
        bad = (length > 0) & ~shaped
        if bad.any():
            shown = [t.decode("utf-8", "replace") for t in cut.texts(
                start[bad], np.minimum(end[bad], start[bad] + 60), pa.large_binary()).to_pylist()]
            self.problems.append(_problem(number[bad], "", shown, "LIGNE_ILLISIBLE"))
        keep = np.flatnonzero(shaped)
        self.line = number[keep]
        self._values = cut.over(start[keep] + 16, end[keep] - 1)  # taken where needed
        self.empty = (end[keep] - 1) == (start[keep] + 16)
        self.code_index = index[keep].astype(np.int16 if len(names) < 2**15 else np.int32)
        self.code_names = names
        blocks = [n[:10] for n in names]
        self.names = sorted(set(blocks))
        self.block_index = np.array([self.names.index(b) for b in blocks] + [0])[
            self.code_index]
        self.number = np.array([int(n[11:14]) if re.fullmatch(CODE, n) else 0
                                for n in names] + [0])[self.code_index]
        self.lot = np.array([n.startswith(LOT_PREFIXES) for n in names] + [False])[
            self.code_index]
        order = np.argsort(self.code_index, kind="stable")
        bounds = np.searchsorted(self.code_index[order], np.arange(len(names) + 1))
        self._by_code = {name: order[bounds[i]:bounds[i + 1]] for i, name in enumerate(names)}
        new = np.ones(len(keep), dtype=bool)
        new[1:] = ((self.block_index[1:] != self.block_index[:-1])
                   | (self.number[1:] <= self.number[:-1]))
        self.instance = np.cumsum(new) - 1
        self.instance_block = self.block_index[new]
        self.instance_line = self.line[new]
        self.usable = ~self.lot

    def values(self, positions: np.ndarray) -> pa.Array:
        """The values of the lines at `positions` (-1: null)."""
        odd = 2 * positions + 1
        return self._values.take(pa.array(odd, mask=positions < 0))

    def at(self, code: str) -> np.ndarray:
        """The positions (in file order) of a rubric's lines."""
        return self._by_code.get(code, np.zeros(0, dtype=np.int64))

    def positions(self, code: str) -> np.ndarray:
        """The instances of a block, in file order."""
        if code not in self.names:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(self.instance_block == self.names.index(code))

    def check_values(self) -> None:
        """Each declared rubric's values against its kind; an unusable one is a problem row
        and left out (absent). Empty values anywhere are reported and left out."""
        empty = self.empty & self.usable
        if empty.any():
            codes = np.array(self.code_names)[self.code_index[empty]]
            self.problems.append(_problem(self.line[empty], codes, "", "VALEUR_VIDE"))
            self.usable &= ~empty
        for block in BLOCKS:
            for rubric in block.rubrics:
                full = f"{block.code}.{rubric.number}"
                at = self.at(full)
                at = at[self.usable[at]]
                if len(at):
                    self._check(at, full, rubric.kind, rubric.max_length)

    def _check(self, at: np.ndarray, full: str, kind: Kind, max_length: int) -> None:
        """The rubric's values against its kind, each distinct value checked once."""
        encoded = pc.dictionary_encode(self.values(at))
        distinct = encoded.dictionary
        if kind is Kind.NIR:
            text = pd.Series(distinct.to_pandas(), dtype="str").str.upper()
            ok = (nir_checked(text)[0] & (text.str.len() == 13)).to_numpy()
            code = "NIR_INVALIDE"
        else:
            ok = np.ones(len(distinct), dtype=bool)
            if kind in _PATTERNS:
                ok &= pc.match_substring_regex(distinct, f"^{_PATTERNS[kind]}$").to_numpy(
                    zero_copy_only=False)
            if kind is Kind.DATE and ok.any():
                dates = pd.Series(distinct.to_pandas()).where(ok)
                ok &= pd.to_datetime(dates, format="%d%m%Y", errors="coerce").notna().to_numpy()
            if max_length:
                ok &= pc.less_equal(pc.utf8_length(distinct), max_length).to_numpy(
                    zero_copy_only=False)
            code = "FORMAT"
        if ok.all():
            return
        bad = ~ok[encoded.indices.to_numpy()]
        values = pd.Series(self.values(at[bad]).to_pandas(), dtype="str")
        shown = mask_nir(values.str.upper()) if kind is Kind.NIR else values.str.slice(0, 60)
        self.problems.append(_problem(self.line[at[bad]], full, shown.to_numpy(), code))
        self.usable[at[bad]] = False


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


def _table(reader: _Reader, block: Block, instances: np.ndarray, parents: np.ndarray,
           decls: np.ndarray) -> pd.DataFrame:
    """One row per instance, one column per declared rubric (pivoted in Arrow)."""
    row_of = np.full(len(reader.instance_block), -1)
    row_of[instances] = np.arange(len(instances))
    columns: dict[str, pa.Array] = {}
    for rubric in block.rubrics:
        at = reader.at(f"{block.code}.{rubric.number}")
        at = at[reader.usable[at]]
        rows = row_of[reader.instance[at]]
        at, rows = at[rows >= 0], rows[rows >= 0]
        source = np.full(len(instances), -1)
        source[rows] = at  # a rubric given twice in one instance: the last one
        taken = reader.values(source)
        columns[rubric.name] = pc.fill_null(taken, "")
    frame = pa.table(columns).to_pandas() if columns else pd.DataFrame(index=range(0))
    frame["_id"] = instances
    frame["_parent"] = parents
    frame["_decl"] = decls
    frame["_ligne"] = reader.instance_line[instances] if len(instances) else []
    return frame


def _totals(reader: _Reader, tables: dict[str, pd.DataFrame]) -> None:
    """S90.G00.90.001 = the rubric lines of its envoi (S10…S90, lot lines out); .002 = its
    declarations."""
    envois = reader.positions(ENVOI.code)
    if not len(envois):
        return
    starts = reader.instance_line[envois]
    counted = ~reader.lot
    envoi_of_line = np.searchsorted(starts, reader.line, side="right") - 1
    lines = np.bincount(envoi_of_line[counted & (envoi_of_line >= 0)], minlength=len(envois))
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
    data, encoding = _decode(raw)
    reader = _Reader(_cut(data))
    reader.check_values()
    attached = _attach(reader)
    tables = {b.name: _table(reader, b, *attached[b.code]) for b in BLOCKS}
    _totals(reader, tables)
    problems = (pd.concat(reader.problems, ignore_index=True).sort_values("ligne", kind="stable")
                if reader.problems else pd.DataFrame(columns=LECTURE_COLUMNS))
    warnings = []
    if encoding == "utf-8" and re.search(rb"[\x80-\xff]", data[:1 << 20]):
        warnings.append("fichier en UTF-8 (la norme attend ISO-8859-1) : lu en UTF-8")
    log.info("DSN: %d lines, %d declarations, %d individuals, %d reading problems",
             len(reader.line), len(tables[DECLARATION.name]), len(tables["individu"]),
             len(problems))
    return Dsn(tables=tables, problems=problems.reset_index(drop=True), encoding=encoding,
               lines=len(reader.line), warnings=warnings)
