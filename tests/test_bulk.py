"""The bulk writers' rows: plain Python values, a missing value of any kind as None, whatever
the column's storage (a copy-on-write view of a frame is read-only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from gedflow.db.bulk import _tuples, bulk_insert
from gedflow.db.tables import dossier, employeur, salarie


def test_missing_values_of_every_kind_become_none() -> None:
    frame = pd.DataFrame({
        "text": pd.Series(["x", None], dtype="str"),
        "objects": pd.Series(["p", None], dtype=object), "number": [1.5, np.nan],
        "whole": [1, 2], "when": pd.to_datetime(["2020-01-01", None])})
    view = frame[["objects", "text", "number", "whole", "when"]]  # read-only buffers
    assert _tuples(view) == [("p", "x", 1.5, 1, pd.Timestamp("2020-01-01")),
                             (None, None, None, 2, None)]
    assert frame["objects"].tolist() == ["p", None]  # the frame itself is left as it was


def test_a_frame_with_missing_values_is_written(engine: Engine) -> None:
    with engine.begin() as conn:
        bulk_insert(conn, dossier, pd.DataFrame({"id": [1], "code": ["A"],
                                                 "created_at": ["2025-01-01 00:00:00+00:00"]}))
        bulk_insert(conn, employeur, pd.DataFrame({"id": [1], "dossier_id": [1],
                                                   "siret": ["81234567600017"],
                                                   "raison_sociale": ["ATELIER"]}))
        people = pd.DataFrame({"employeur_id": [1, 1], "matricule": ["A1", "A2"],
                               "nom": ["MARTIN", "DURAND"],
                               "date_naissance": pd.Series([None, "1980-06-15"])})
        bulk_insert(conn, salarie, people[["employeur_id", "matricule", "nom", "date_naissance"]])
        found = conn.execute(select(salarie.c.matricule, salarie.c.date_naissance)
                             .order_by(salarie.c.matricule)).all()
    assert [(m, d and str(d)) for m, d in found] == [("A1", None), ("A2", "1980-06-15")]
