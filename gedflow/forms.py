"""Dates and times rewritten from one declared form to another (`schemas.fields.Form`),
column-wise: the writer's JJ/MM/AAAA → JJMMAAAA and the AR reader's way back are one function
and two declarations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.fields import Form

_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _spans(source: Form, target: Form) -> list[tuple[int, int, str | None]]:
    """`target` as slices of a `source` value (start, stop, None) and separators (…, char)."""
    spans: list[tuple[int, int, str | None]] = []
    for (char, k), offset in zip(target.parts(), source.moves(target), strict=True):
        if k < 0:
            spans.append((0, 0, char))
        elif spans and spans[-1][2] is None and spans[-1][1] == offset:
            spans[-1] = (spans[-1][0], offset + 1, None)
        else:
            spans.append((offset, offset + 1, None))
    return spans


def rewrite(values: pd.Series, source: Form, target: Form) -> pd.Series:
    """Each value of `source`'s shape written in `target`'s form; any other value (blank,
    malformed) stays as given, missing values as ""."""
    text = pd.Series(values, dtype="str").fillna("")
    written = None
    for start, stop, separator in _spans(source, target):
        piece = text.str.slice(start, stop) if separator is None else separator
        written = piece if written is None else written + piece
    return pd.Series(written, index=text.index).where(text.str.fullmatch(source.regex), text)


def real_dates(written: np.ndarray, form: Form) -> np.ndarray:
    """Per row of `written` (the bytes of one value of `form` each, uint8), whether it is a
    real date: digits where the parts go, a month 1 to 12, a day of that month."""
    real = ((written >= ord("0")) & (written <= ord("9")))[
        :, [i for i, (_, k) in enumerate(form.parts()) if k >= 0]].all(axis=1)
    number = dict.fromkeys("Ymd", 0)
    for i, (char, k) in enumerate(form.parts()):
        if k >= 0:
            number[char] = number[char] * 10 + (written[:, i].astype(np.int32) - ord("0"))
    year, month, day = number["Y"], number["m"], number["d"]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days = _MONTH_DAYS[np.clip(month, 1, 12) - 1] + (leap & (month == 2))
    return real & (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= days)
