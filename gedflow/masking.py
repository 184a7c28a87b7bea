"""How a NIR is shown in reports, logs and tables: its first 5 characters (sex, year and month
of birth), then `*`. `gedflow.checks.mask_nir` applies the same rule to a column."""

from __future__ import annotations

SHOWN = 5


def masked(nir: str) -> str:
    """One NIR as it may be shown ("" stays "")."""
    return f"{nir[:SHOWN]}*" if nir else ""
