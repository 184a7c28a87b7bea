"""What the DSN controls read of the registry (`Registre`): from the tables inside the
transaction that fed the DSN (`load`), or from the registry's columnar copies while the file
is read (`read_with_registry`, for `gedflow dsn controle`). Both give the same frames."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, select

from gedflow.checks import nir_numbers
from gedflow.db.bulk import read_frame
from gedflow.db.tables import contrat, dpae_batch, employeur, salarie, taux_communique
from gedflow.dpae.suivi import DSN_ONLY
from gedflow.dsn.read import DsnView, view
from gedflow.formats import dsn as dsn_format
from gedflow.formats.arrowtext import text_array
from gedflow.registry import snapshot

PEOPLE = ["salarie_id", "siret", "matricule", "nir", "nom", "date_naissance"]
RATES = ["id", "salarie_id", "identifiant_crm", "taux", "date_disponibilite", "date_effet",
         "valide_jusqu_au"]
HIRES = ["salarie_id", "date_embauche", "heure_embauche", "statut", "code_retour",
         "certificat", "envoye_at"]


@dataclass
class Registre:
    """What the controls read of the registry for some SIRETs (dates as ISO text)."""

    salaries: pd.DataFrame  # salarie_id, siret, matricule, nir13, nir_cle, nom, date_naissance
    taux: pd.DataFrame  # salarie_id, identifiant_crm, taux, date_disponibilite, date_effet, …
    dpae: pd.DataFrame  # salarie_id, date_embauche, heure_embauche, statut, code_retour, …


def _iso(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Dates as AAAA-MM-JJ text, "" where none (SQLite gives the text, PostgreSQL dates):
    their first ten characters, cut in Arrow."""
    for column in columns:
        frame[column] = _first(frame[column], 10)
    return frame


def _text(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`columns` as `str` (the copies' are already)."""
    return frame.astype({c: "str" for c in columns if frame[c].dtype != "str"})


def _first(values: pd.Series, width: int) -> pd.Series:
    """The values' first `width` characters as text, "" where missing (cut only when some
    value is longer)."""
    text = text_array(values)
    if len(text) and (pc.max(pc.binary_length(text)).as_py() or 0) > width:
        text = pc.utf8_slice_codeunits(text, 0, width)
    return pd.Series(text, index=values.index, dtype="str")


def _people(people: pd.DataFrame) -> pd.DataFrame:
    """Salariés as the controls read them, whichever way they were read: text as `str`
    (missing stays missing), the birth date as ISO text, the NIR's first 13 and its number."""
    people = _iso(_text(people.reset_index(drop=True), PEOPLE[1:]), "date_naissance")
    people["nir13"] = _first(people["nir"], 13)
    if "nir_cle" not in people:  # the copy has it (`checks.nir_numbers`, of the first 13)
        people["nir_cle"] = nir_numbers(text_array(people["nir13"]))
    return people


def _rates(rates: pd.DataFrame) -> pd.DataFrame:
    """Communicated rates as the controls read them (text as `str`, dates as ISO text)."""
    return _iso(_text(rates.reset_index(drop=True), ["identifiant_crm", "taux"]),
                "date_disponibilite", "date_effet", "valide_jusqu_au")


def _theirs(query, table, sirets: list[str]):
    return (query.join(salarie, salarie.c.id == table.c.salarie_id)
            .join(employeur, employeur.c.id == salarie.c.employeur_id)
            .where(employeur.c.siret.in_(sirets)))


def _hires(conn: Connection, sirets: list[str]) -> pd.DataFrame:
    """The DPAE of these SIRETs' salariés (the hire date as ISO text), from the tables: the
    copies do not hold them."""
    return _iso(read_frame(conn, _theirs(
        select(*(contrat.c[c] for c in HIRES[:-1]), dpae_batch.c.envoye_at).select_from(contrat)
        .outerjoin(dpae_batch, dpae_batch.c.id == contrat.c.batch_id), contrat, sirets)
        .where(contrat.c.statut != DSN_ONLY), HIRES), "date_embauche")


def load(conn: Connection, sirets: list[str]) -> Registre:
    """The salariés of these SIRETs (every dossier, in id order), the rates their CRMs
    communicated and their DPAE, from the tables: one query each."""
    people = read_frame(conn, select(salarie.c.id, employeur.c.siret, salarie.c.matricule,
                                     salarie.c.nir, salarie.c.nom, salarie.c.date_naissance)
                        .join(employeur, employeur.c.id == salarie.c.employeur_id)
                        .where(employeur.c.siret.in_(sirets)).order_by(salarie.c.id), PEOPLE)
    rates = read_frame(conn, _theirs(select(*(taux_communique.c[c] for c in RATES))
                                     .select_from(taux_communique), taux_communique, sirets),
                       RATES)
    return Registre(_people(people), _rates(rates), _hires(conn, sirets))


def _copies(engine: Engine, cache: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The registry's copies, whole, as the controls read them (normalised row by row: the
    rows of the file's employers are taken from them after)."""
    with engine.connect() as conn:
        identities = snapshot.current(conn, cache).identities[[*PEOPLE, "nir_cle"]]
        return _people(identities), _rates(snapshot.communicated(conn, cache)[RATES])


def _where(frame: pd.DataFrame, kept: pd.Series) -> pd.DataFrame:
    """The rows kept (the frame itself when all are: one employer's registry)."""
    return frame if kept.all() else frame[kept]


def read_with_registry(path: Path, engine: Engine, cache: Path) -> tuple[DsnView, Registre]:
    """The DSN read while the registry's copies are read in a thread (both work mostly outside
    the GIL), then what `load` gives for the file's SIRETs. Not inside a write: the copies
    hold committed rows only."""
    with ThreadPoolExecutor(1) as pool:
        copies = pool.submit(_copies, engine, cache)
        seen = view(dsn_format.read_path(path))
        identities, communicated = copies.result()
    sirets = sorted(set(seen.declarations["siret"]))
    people = _where(identities, identities["siret"].isin(sirets))
    if not people["salarie_id"].is_monotonic_increasing:  # a copy is in id order: no sort
        people = people.sort_values("salarie_id", kind="stable")
    rates = _where(communicated, communicated["salarie_id"].isin(people["salarie_id"]))
    with engine.connect() as conn:
        hires = _hires(conn, sirets)
    return seen, Registre(people.reset_index(drop=True), rates.reset_index(drop=True), hires)
