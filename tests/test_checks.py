"""Vectorised checks agree with python-stdnum, and each kind rejects what it must."""

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from stdnum.fr import nir as stdnum_nir
from stdnum.fr import siret as stdnum_siret

from gedflow.checks import (
    check_field,
    check_table,
    digit_numbers,
    mask_nir,
    nir_checked,
    nir_key,
    nir_numbers,
    siret_valid,
)
from schemas.fields import Field, Kind

digits = st.text(alphabet="0123456789", min_size=14, max_size=14)


def _with_luhn(body: str) -> str:
    """Complete 13 digits into a Luhn-valid 14-digit number."""
    for last in "0123456789":
        if stdnum_siret.is_valid(body + last):
            return body + last
    return body + "0"


@given(st.lists(st.one_of(digits, digits.map(lambda d: _with_luhn(d[:13])),
                          st.text(max_size=16)), max_size=30))
@example(["35600000000048", "35600000000055", "35600000000014", "81234567600017", "1234567890123A"])
def test_siret_matches_stdnum(values: list[str]) -> None:
    got = siret_valid(pd.Series(values, dtype=object)).tolist()
    assert got == [stdnum_siret.is_valid(v) if v.isdigit() else False for v in values]


nir13 = st.builds(
    lambda a, dep, b: a + dep + b,
    st.text(alphabet="0123456789", min_size=5, max_size=5),
    st.sampled_from(["75", "2A", "2B", "99", "01"]),
    st.text(alphabet="0123456789", min_size=6, max_size=6),
)


@given(st.lists(st.one_of(nir13, nir13.map(lambda n: n + stdnum_nir.calc_check_digits(n + "00")),
                          nir13.map(lambda n: n + "00")), max_size=30))
@example(["285037511203464", "2850375112034", "1792A69123045", "279012A12304511", "179022A123045"])
def test_nir_matches_stdnum(values: list[str]) -> None:
    got = nir_checked(pd.Series(values, dtype="str"))[0].tolist()
    assert got == [_stdnum_accepts(v) for v in values]


@given(st.lists(nir13, max_size=30))
@example(["1792069123045", "179022A123045", "179022B123045", "1790200123045"])
def test_nir_numbers_are_equal_exactly_when_the_nirs_are(values: list[str]) -> None:
    """Join keys: two NIRs share a number only when they are the same (2A, 2B, 20 differ)."""
    numbers = nir_numbers(pa.array(values + [n + "97" for n in values], pa.large_string()))
    assert (numbers >= 0).all()
    assert len(set(numbers[: len(values)])) == len(set(values))
    assert numbers[len(values):].tolist() == numbers[: len(values)].tolist()  # key ignored


def _nir_number(value: str | None) -> int:
    """`nir_numbers` of one value, written plainly."""
    if value is None or len(value) < 13:
        return -1
    head = value[:13]
    corsica = {"2A": 1, "2B": 2}.get(head[5:7], 0)
    digits = head[:6] + "0" + head[7:] if corsica else head
    return int(digits) * 4 + corsica if digits.isascii() and digits.isdigit() else -1


@given(st.lists(st.one_of(st.none(), st.text("0123456789AB2é -", max_size=16), nir13),
                max_size=30), st.integers(0, 3))
def test_nir_numbers_follow_their_plain_definition(values: list, offset: int) -> None:
    """Any text, a sliced or chunked array: what the bytes give is what the characters say."""
    array = pa.array(["x"] * offset + values, pa.string()).slice(offset)
    expected = [_nir_number(v) for v in values]
    assert nir_numbers(array).tolist() == expected
    assert nir_numbers(pa.chunked_array([array[:1], array[1:]], pa.string())).tolist() == expected


def test_unusable_values_have_no_number() -> None:
    values = pa.array(["", "12345", "1792A69123045", "17902X9123045", None], pa.large_string())
    assert nir_numbers(values).tolist() == [-1] * 5
    assert digit_numbers(pa.array(["81234567600017", "8123456760001", "8123456760001A"]),
                         14).tolist() == [81234567600017, -1, -1]


def _stdnum_accepts(value: str) -> bool:
    """stdnum's verdict; a 13-char NIR is valid when stdnum accepts it with its own key."""
    if len(value) != 13:
        return stdnum_nir.is_valid(value)
    try:
        return stdnum_nir.is_valid(value + stdnum_nir.calc_check_digits(value + "00"))
    except ValueError:
        return False


def test_nir_key_corsica_and_padding() -> None:
    nirs = ["2850375112034", "179022A123045", "179022B123045", "1000000000001"]
    keys = nir_key(pd.Series(nirs))
    assert keys.tolist() == [stdnum_nir.calc_check_digits(n + "00") for n in nirs]
    assert all(len(k) == 2 for k in keys)


@pytest.mark.parametrize("value", ["12345", "28503751120X4", "", "285037511203"])
def test_nir_key_refuses_what_is_not_a_nir(value: str) -> None:
    with pytest.raises(ValueError):
        nir_key(pd.Series(["2850375112034", value]))


def test_mask_nir_keeps_five_characters() -> None:
    assert mask_nir(pd.Series(["285037511203464", ""])).tolist() == ["28503*", ""]


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        (Kind.DATE, ["01/02/1990", "29/02/2000"], ["1990-02-01", "31/02/1990", "01/13/1990"]),
        (Kind.TAUX, ["7,5", "0.00", "100", "14.25"], ["-1", "100.01", "7.555", "abc", "7%"]),
        (Kind.SEXE, ["M", "f", "1", "2"], ["X", "H"]),
        (Kind.DEPT, ["75", "2A", "2b", "971", "99", "01"], ["00", "20", "977", "100", "A"]),
        (Kind.APE, ["8899B", "88.99b"], ["889B", "88999"]),
        (Kind.CODE_POSTAL, ["69003"], ["6900", "6900A"]),
        (Kind.TELEPHONE, ["04 72 00 00 01", "04.72.00.00.01"], ["04-72-AB"]),
        (Kind.EMAIL, ["paie@x.example"], ["paie@", "a b@c.fr"]),
        (Kind.TYPE_TAUX, ["01", "1", "13", "99"], ["02", "50"]),
        (Kind.CODE, ["A001"], ["A 001"]),
    ],
)
def test_each_kind(kind: Kind, good: list[str], bad: list[str]) -> None:
    _values, errors = check_field(pd.Series(good + bad, dtype=object), Field("x", kind))
    assert (errors == "").tolist() == [True] * len(good) + [False] * len(bad)


def test_normalisation() -> None:
    values, _ = check_field(pd.Series(["7,5", "014.2", "100"], dtype=object),
                            Field("t", Kind.TAUX))
    assert values.tolist() == ["7.50", "14.20", "100.00"]
    values, _ = check_field(pd.Series(["1", "f"], dtype=object), Field("s", Kind.SEXE))
    assert values.tolist() == ["M", "F"]


def test_required_and_max_len() -> None:
    _, errors = check_field(pd.Series(["", " ", "abcd", "abc"], dtype=object),
                            Field("n", Kind.TEXT, required=True, max_len=3))
    assert errors.tolist() == ["obligatoire", "obligatoire", "trop long (3 caractères au plus)", ""]


def test_check_table_reports_every_error_with_its_line() -> None:
    table = pd.DataFrame({"siret": ["81234567600017", "81234567600018", ""],
                          "nir": ["285037511203499", "", "2850375112034"]}, dtype=object)
    fields = (Field("siret", Kind.SIRET, required=True), Field("nir", Kind.NIR))
    _, report = check_table(table, fields, pd.Series([2, 3, 4]))
    assert report[["ligne", "colonne"]].values.tolist() == [[2, "nir"], [3, "siret"], [4, "siret"]]
    assert report.iloc[0]["valeur"] == "28503*"  # NIR never in clear in a report
