"""Dates and times between their declared forms: one declaration per form, one rewrite, both
ways (the DPAE writer's JJ/MM/AAAA → JJMMAAAA, the AR reader's way back, the DSN's ISO dates)."""

from __future__ import annotations

from datetime import date, time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gedflow.dsn.read import _iso
from gedflow.forms import real_dates, rewrite
from schemas.fields import AAAA_MM_JJ, HH_MM, HHMM, JJ_MM_AAAA, JJMMAAAA, Form

DATES = (JJMMAAAA, JJ_MM_AAAA, AAAA_MM_JJ)


@given(st.lists(st.dates(min_value=date(1000, 1, 1)), max_size=20),
       st.sampled_from(DATES), st.sampled_from(DATES))
def test_a_date_rewritten_is_the_date_written_in_the_other_form(
        days: list[date], source: Form, target: Form) -> None:
    written = pd.Series([d.strftime(source.pattern) for d in days], dtype="str")
    assert rewrite(written, source, target).tolist() == [d.strftime(target.pattern)
                                                         for d in days]
    assert rewrite(rewrite(written, source, target), target, source).tolist() == written.tolist()


@given(st.lists(st.times(), max_size=20))
def test_a_time_goes_to_hhmm_and_back(times: list[time]) -> None:
    written = pd.Series([t.strftime(HH_MM.pattern) for t in times], dtype="str")
    compact = rewrite(written, HH_MM, HHMM)
    assert compact.tolist() == [t.strftime("%H%M") for t in times]
    assert rewrite(compact, HHMM, HH_MM).tolist() == written.tolist()


@pytest.mark.parametrize("value", ["", "1/3/2025", "2025-03-10", "10-03-2025", "jamais"])
def test_a_value_not_of_the_source_form_stays_as_given(value: str) -> None:
    assert rewrite(pd.Series([value]), JJ_MM_AAAA, JJMMAAAA).tolist() == [value]


def test_missing_values_become_blank() -> None:
    assert rewrite(pd.Series(["10/03/2025", None]), JJ_MM_AAAA, JJMMAAAA).tolist() == [
        "10032025", ""]


def test_the_dsn_readers_byte_mover_follows_the_same_declarations() -> None:
    days = pd.Series(["10032025", "", "31121999"], dtype="str")
    assert _iso(days).tolist() == rewrite(days, JJMMAAAA, AAAA_MM_JJ).tolist()
    assert JJMMAAAA.moves(AAAA_MM_JJ) == [4, 5, 6, 7, -1, 2, 3, -1, 0, 1]
    assert np.array_equal(np.frombuffer(AAAA_MM_JJ.template.encode(), dtype=np.uint8),
                          np.frombuffer(b"0000-00-00", dtype=np.uint8))


@given(st.lists(st.text("0123456789", min_size=8, max_size=8), max_size=30))
def test_a_real_date_is_one_the_calendar_has(days: list[str]) -> None:
    """Day or month 99 (unknown), 31 February, 29 February of a common year: not real."""
    def calendar(text: str) -> str:
        try:
            return date(int(text[4:]), int(text[2:4]), int(text[:2])).isoformat()
        except ValueError:
            return ""

    values = pd.Series([*days, "99071985", "29021900", "29022000", "01010000"], dtype="str")
    assert _iso(values, real=True).tolist() == [calendar(d) for d in values]
    written = np.frombuffer("".join(values).encode(), dtype=np.uint8).reshape(-1, 8)
    assert real_dates(written, JJMMAAAA).tolist() == [calendar(d) != "" for d in values]
