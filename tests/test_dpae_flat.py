"""dpae.txt: the layout declaration is checked, the writer is strict, the reader lenient, and
write(read(x)) == x byte for byte (hypothesis)."""

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gedflow.formats import dpae_flat
from schemas.dpae import FLAT_LAYOUT, RECORD_LENGTH, Flat, FlatField, check_layout

from .conftest import TESTS

SPEC_FILE = TESTS / "data/dpae/spec_records.dpae.txt"
LATIN1_TEXT = st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                            blacklist_characters="".join(map(chr, range(0x7F, 0xA0))))


def _value(fld: FlatField) -> st.SearchStrategy[str]:
    if fld.kind is Flat.RESERVED:
        return st.just("")
    if fld.kind in (Flat.NUM, Flat.DIGITS):
        return st.text("0123456789", min_size=1 if fld.required else 0, max_size=fld.length)
    if fld.kind is Flat.DATE:
        day = st.dates(min_value=date(1900, 1, 1)).map(lambda d: d.strftime("%d%m%Y"))
        return day if fld.required else st.one_of(st.just(""), day)
    if fld.kind is Flat.TIME:
        return st.times().map(lambda t: t.strftime("%H%M"))
    text = st.text(LATIN1_TEXT, min_size=1 if fld.required else 0, max_size=fld.length)
    # trailing blanks are padding: a value never ends with one; a required one is not blank
    return text.map(str.rstrip).filter(lambda v: v or not fld.required)


record = st.fixed_dictionaries({f.column: _value(f) for f in FLAT_LAYOUT})


def test_layout_is_checked_at_import() -> None:
    check_layout()
    assert sum(f.length for f in FLAT_LAYOUT) == RECORD_LENGTH
    with pytest.raises(ValueError, match="gap"):
        check_layout((FlatField(1, 10, "A"), FlatField(12, 978, "B")))
    with pytest.raises(ValueError, match="overlap"):
        check_layout((FlatField(1, 10, "A"), FlatField(10, 980, "B")))
    with pytest.raises(ValueError, match="988 characters"):
        check_layout((FlatField(1, 988, "A"),))


def test_spec_records_round_trip() -> None:
    raw = SPEC_FILE.read_bytes()
    parsed = dpae_flat.read(raw)
    assert parsed.issues.empty and len(parsed.records) == 2
    assert parsed.records.loc[1, "L_LIEU_NAISS_SAL"] == "ALGERIE"
    assert dpae_flat.write(parsed.records) == raw


@settings(max_examples=80, deadline=None)
@given(st.lists(record, min_size=1, max_size=5), st.sampled_from(["\n", "\r\n"]))
@example([{**{f.column: "" for f in FLAT_LAYOUT}, "L_IDENT_EMT": "00012345678901",
           "C_APPLICATION": "DUE", "C_ADR_RET_AR": "a@b.fr", "N_LG_MESS": "917",
           "C_VERSION": "TST", "D_CREATION": "01012025", "H_CREATION": "0000", "C_URSSAF": "117",
           "N_SIRET": "00012345678901", "L_RAISON_SOC_1": "NA", "L_ADR_EMP_1": "NULL",
           "C_POSTAL_EMP": "01000", "L_BUR_DIST_EMP": "nan", "L_NOM_PATRO_SAL": "None",
           "L_PRENOMS_SAL": "É", "D_NAISSANCE_SAL": "29022000", "L_LIEU_NAISS_SAL": "2A",
           "D_EMBAUCHE": "01012025", "H_EMBAUCHE": "2359", "C_NAF_NN": "0000A",
           "C_SEXE_SAL": "F", "C_DEPT_NAISS_SAL": "2A", "C_TYPE_CONTRAT": "2",
           "N_JJ_ESSAI": "007"}], "\n")
@example([{**{f.column: "0" if f.required else "" for f in FLAT_LAYOUT}, "D_CREATION": "01012000",
           "H_CREATION": "0000", "D_NAISSANCE_SAL": "01012000", "D_EMBAUCHE": "01012000",
           "H_EMBAUCHE": "0000", "C_MT_DCL": "Ä¡"}], "\r\n")  # its bytes are UTF-8 for ġ
def test_write_read_write_is_the_identity(records: list[dict], newline: str) -> None:
    frame = pd.DataFrame(records)
    raw = dpae_flat.write(frame, newline=newline)
    parsed = dpae_flat.read(raw)
    assert parsed.newline == newline and parsed.issues.empty
    assert dpae_flat.write(parsed.records, newline=newline) == raw
    for column in ("L_NOM_PATRO_SAL", "N_SECU_SOC", "D_EMBAUCHE"):
        assert parsed.records[column].tolist() == frame[column].tolist()


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("L_NOM_PATRO_SAL", "X" * 33, "cannot hold"),
        ("L_NOM_PATRO_SAL", "", "required"),
        ("L_NOM_PATRO_SAL", "ŒUVRE", "cannot hold"),
        ("D_EMBAUCHE", "2025-03-10", "cannot hold"),
        ("H_EMBAUCHE", "2460", "cannot hold"),
        ("N_JJ_ESSAI", "6O", "cannot hold"),
    ],
)
def test_writer_is_strict(column: str, value: str, message: str) -> None:
    parsed = dpae_flat.read(SPEC_FILE.read_bytes())
    records = parsed.records.copy()
    records.loc[1, column] = value
    with pytest.raises(ValueError, match=message) as info:
        dpae_flat.write(records)
    assert "record 2" in str(info.value)


def test_reader_is_lenient() -> None:
    lines = SPEC_FILE.read_text(encoding="iso-8859-1").splitlines()
    short = [lines[0].rstrip(), lines[1] + "EXTRA"]  # a mailer stripped blanks; a long line
    raw = ("\r\n".join(short) + "\r\n\r\n").encode("utf-8")
    parsed = dpae_flat.read(raw)
    assert len(parsed.records) == 2 and parsed.newline == "\r\n" and parsed.encoding == "utf-8"
    assert parsed.records.loc[0, "L_NOM_PATRO_SAL"] == "MARTINEAU"
    assert parsed.issues["ligne"].tolist() == [2]
    assert "trop longue" in parsed.issues["erreur"].iloc[0]


def test_writing_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no record"):
        dpae_flat.write(pd.DataFrame(columns=[f.column for f in FLAT_LAYOUT]))


@pytest.mark.parametrize("encoding", ["iso-8859-1", "cp1252", "utf-8", "utf-16"])
def test_accented_text_in_each_encoding(encoding: str) -> None:
    records = dpae_flat.read(SPEC_FILE.read_bytes()).records
    records.loc[0, "L_LIEU_NAISS_SAL"] = "SAINT-ÉTIENNE"
    raw = dpae_flat.write(records, encoding=encoding)
    assert raw.decode(encoding).splitlines()[0][368:381] == "SAINT-ÉTIENNE"
    ascii_only = dpae_flat.write(dpae_flat.read(SPEC_FILE.read_bytes()).records,
                                 encoding=encoding)
    assert ascii_only.decode(encoding) == SPEC_FILE.read_text(encoding="iso-8859-1")


_ONE_WIDTH = """
import sys
sys.path[:0] = [{tmp!r}, {root!r}]
import schemas.dpae
assert schemas.dpae.__file__.startswith({tmp!r})
from gedflow.dpae.build import FLAT_WIDTHS as built
from gedflow.dpae.validate import FLAT_WIDTHS as checked
from gedflow.formats import dpae_flat
records = dpae_flat.read(open({spec!r}, "rb").read()).records.head(1).copy()
records["L_LIEU_NAISS_SAL"] = "A" * 22
line = dpae_flat.write(records).decode("iso-8859-1").splitlines()[0]
back = dpae_flat.read(line.encode("iso-8859-1")).records["L_LIEU_NAISS_SAL"][0]
records["L_LIEU_NAISS_SAL"] = "A" * 23
try:
    dpae_flat.write(records)
    refused = False
except ValueError:
    refused = True
print(built["lieu_naissance"], checked["lieu_naissance"], len(line), line[368:390],
      line[390] == " ", back, refused)
"""


def test_one_width_in_the_schema_moves_writer_reader_and_validator(tmp_path: Path) -> None:
    """L_LIEU_NAISS_SAL made 22 characters in a copy of schemas/dpae.py (the zone after it
    2 longer): the validator's bound, the builder's cut, the writer and the reader follow."""
    root = Path(__file__).resolve().parent.parent
    shutil.copytree(root / "schemas", tmp_path / "schemas")
    source = (tmp_path / "schemas/dpae.py").read_text()
    changed = source.replace('_f(369, 24, "L_LIEU_NAISS_SAL", required=True),\n    _f(393, 20),',
                             '_f(369, 22, "L_LIEU_NAISS_SAL", required=True),\n    _f(391, 22),')
    assert changed != source
    (tmp_path / "schemas/dpae.py").write_text(changed)
    code = _ONE_WIDTH.format(tmp=str(tmp_path), root=str(root),
                             spec=str(root / "tests/data/dpae/spec_records.dpae.txt"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["22", "22", "989", "A" * 22, "True", "A" * 22, "True"]
