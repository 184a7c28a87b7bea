"""What the DGFiP and the URSSAF would flag in a DSN, found before they do: each versement's
PAS against the rate the CRMs communicated for that salarié (in force on the date of
versement), each declaration's payment to the DGFiP against its PAS, and each hire of the
declared month against the DPAE the registry holds. Plain functions over frames (the registry
loaded once by `load`); codes, gravités and columns in `schemas.dsn`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, select

from gedflow.checks import mask_nir, nir_numbers
from gedflow.db.bulk import read_frame
from gedflow.db.tables import contrat, dpae_batch, employeur, salarie, taux_communique
from gedflow.dpae.suivi import DSN_ONLY
from gedflow.dsn.feed import matricule_key
from gedflow.dsn.read import DsnView, rows_among
from gedflow.formats.arrowtext import text_array
from gedflow.settings import PARIS
from schemas.dsn import (
    AVERTISSEMENT,
    BAREMES,
    CDD,
    CONTROLE_PAS_COLUMNS,
    CONTROLS,
    DGFIP,
    EMBAUCHE_COLUMNS,
    ERREUR,
    GRAVITES,
    IDENTIFIANT_CDD_COURT,
    MONTANT_ERREUR,
    PAYE_PAR_UN_AUTRE,
    STAGE,
    TAUX_CRM,
)

# Contrat statuts of the DPAE side (gedflow.dpae) → what they say of the hire's DPAE.
CONFIRMED = ("enregistree", "enregistree_a_verifier")
SENT = ("envoye", "depot_en_cours", "incertain")
REJECTED = ("erreur",)


@dataclass
class Registre:
    """What the controls read of the registry for some SIRETs (dates as ISO text)."""

    salaries: pd.DataFrame  # salarie_id, siret, matricule, nir13, nom, date_naissance
    taux: pd.DataFrame  # salarie_id, identifiant_crm, taux, date_disponibilite, date_effet, …
    dpae: pd.DataFrame  # salarie_id, date_embauche, heure_embauche, statut, code_retour, …


def _iso(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Dates as AAAA-MM-JJ text, "" where none (SQLite gives the text, PostgreSQL dates)."""
    for column in columns:
        frame[column] = pd.Series(frame[column], dtype="str").fillna("").str.slice(0, 10)
    return frame


def load(conn: Connection, sirets: list[str]) -> Registre:
    """The salariés of these SIRETs (every dossier), the rates their CRMs communicated and
    their DPAE: one query each."""
    def theirs(query, table):
        return (query.join(salarie, salarie.c.id == table.c.salarie_id)
                .join(employeur, employeur.c.id == salarie.c.employeur_id)
                .where(employeur.c.siret.in_(sirets)))

    people = read_frame(conn, select(salarie.c.id, employeur.c.siret, salarie.c.matricule,
                                     salarie.c.nir, salarie.c.nom, salarie.c.date_naissance)
                        .join(employeur, employeur.c.id == salarie.c.employeur_id)
                        .where(employeur.c.siret.in_(sirets)).order_by(salarie.c.id),
                        ["salarie_id", "siret", "matricule", "nir", "nom", "date_naissance"])
    people = _iso(people, "date_naissance")
    people["nir13"] = people["nir"].fillna("").str[:13]
    rate_columns = ["id", "salarie_id", "identifiant_crm", "taux", "date_disponibilite",
                    "date_effet", "valide_jusqu_au"]
    rates = read_frame(conn, theirs(select(*(taux_communique.c[c] for c in rate_columns))
                                    .select_from(taux_communique), taux_communique),
                       rate_columns)
    hires = read_frame(conn, theirs(select(
        contrat.c.salarie_id, contrat.c.date_embauche, contrat.c.heure_embauche,
        contrat.c.statut, contrat.c.code_retour, contrat.c.certificat, dpae_batch.c.envoye_at)
        .select_from(contrat).outerjoin(dpae_batch, dpae_batch.c.id == contrat.c.batch_id),
        contrat).where(contrat.c.statut != DSN_ONLY),
        ["salarie_id", "date_embauche", "heure_embauche", "statut", "code_retour", "certificat",
         "envoye_at"])
    return Registre(people, _iso(rates, "date_disponibilite", "date_effet", "valide_jusqu_au"),
                    _iso(hires, "date_embauche"))


def _scalar(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _first_rows(keys: np.ndarray, among: np.ndarray) -> np.ndarray:
    """For each key, the first row of `among` holding it, -1 where none (keys below 0 never
    match)."""
    rows = np.flatnonzero(among >= 0)
    distinct, first = np.unique(among[rows], return_index=True)  # first: lowest row per key
    return np.append(rows[first], -1)[rows_among(keys, distinct)]


def _nir_keys(sirets: pd.Series, nirs: np.ndarray, order: pa.Array) -> np.ndarray:
    """SIRET (its place in `order`) and NIR number (`checks.nir_numbers`) as one int64, -1
    where either is missing."""
    rank = pc.index_in(text_array(sirets), value_set=order)
    rank = pc.fill_null(rank, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.where((rank >= 0) & (nirs >= 0), (rank << 47) + nirs, -1)  # NIR numbers < 2**46


def _people(view: DsnView, registre: Registre) -> pd.DataFrame:
    """Each DSN individual (by `_id`) with its SIRET and registry salarie_id (NIR, then the
    matricule key; -1: not in the registry). Each key's first salarié in the registry."""
    siret = view.declarations.set_index("_id")["siret"]
    people = view.individus.assign(siret=view.individus["_decl"].map(siret).fillna(""))
    people["_key"] = matricule_key(people).str.slice(0, 30)  # as the feed records it
    known = registre.salaries
    ids = np.append(known["salarie_id"].to_numpy(dtype=np.int64), -1)  # row -1: not found
    order = pc.unique(text_array(people["siret"]))  # the DSN's few SIRETs
    found = ids[_first_rows(
        _nir_keys(people["siret"], people["nir_cle"].to_numpy(), order),
        _nir_keys(known["siret"], nir_numbers(text_array(known["nir13"])), order))]
    if (found < 0).any():  # then by matricule, for those the NIR did not find
        lost = np.flatnonzero(found < 0)
        mine = pd.MultiIndex.from_arrays([people["siret"].iloc[lost], people["_key"].iloc[lost]])
        theirs = known.drop_duplicates(["siret", "matricule"])
        at = pd.MultiIndex.from_frame(theirs[["siret", "matricule"]]).get_indexer(mine)
        found[lost] = np.append(theirs["salarie_id"].to_numpy(dtype=np.int64), -1)[at]
    people["salarie_id"] = found
    return people.set_index("_id")


def _with_person(frame: pd.DataFrame, people: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`frame`'s rows (children of individuals: `_parent`) with their individual's columns;
    every block instance in a DSN table has its parent (the reader attached it)."""
    at = people.index.get_indexer(frame["_parent"])
    assert (at >= 0).all(), "a row without its individual"
    return frame.assign(**{c: people[c].take(at).set_axis(frame.index) for c in columns})


def _numbers(values: pd.Series, scale: int) -> pd.Series:
    """Decimal text × scale as integers (NaN where not a number): cents, basis points."""
    text = pa.array(values.astype("str").array).cast(pa.large_string())
    usable = pc.match_substring_regex(text, r"^-?[0-9]+(\.[0-9]+)?$")
    number = pc.cast(pc.if_else(usable, text, pa.scalar(None, text.type)), pa.float64())
    return pd.Series(np.round(number.to_numpy(zero_copy_only=False) * scale), index=values.index)


def _money(cents: pd.Series) -> pd.Series:
    """Cents as 1234.56 ("" where none)."""
    whole = cents.abs().fillna(0).to_numpy(dtype=np.int64)
    text = pc.binary_join_element_wise(
        pa.array(whole // 100).cast(pa.large_string()),
        pc.utf8_lpad(pa.array(whole % 100).cast(pa.large_string()), 2, "0"), _scalar("."))
    text = pc.if_else(pa.array((cents < 0).to_numpy()),
                      pc.binary_join_element_wise(_scalar("-"), text, _scalar("")), text)
    text = pc.if_else(pa.array(cents.notna().to_numpy()), text, _scalar(""))
    return pd.Series(text, index=cents.index, dtype="str")


def _expected_cents(soumis: pd.Series, rate: pd.Series) -> pd.Series:
    """`.013` × `.006` / 100 rounded half-up to the cent, in cents (CGI ann. III 39 C)."""
    product = soumis * rate  # cents × basis points: 10,000 × the cents wanted
    return np.sign(product) * np.floor((np.abs(product) + 5_000) / 10_000)


def _short_cdd(view: DsnView) -> pd.Index:
    """Individuals with a CDD whose initial term is at most two months (`-1` allowed)."""
    c = view.contrats
    c = c[c["nature"].isin(CDD) & (c["fin_prevue"] != "")]  # dates: AAAA-MM-JJ or ""
    start = pd.to_datetime(c["date_debut"], format="%Y-%m-%d", errors="coerce")
    end = pd.to_datetime(c["fin_prevue"], format="%Y-%m-%d", errors="coerce")
    short = end.notna() & (end <= start + pd.DateOffset(months=2))
    return pd.Index(c.loc[short.to_numpy(), "_parent"].unique())


def rate_in_force(versements: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """Per versement (`_row`): the latest CRM rate communicated on or before its date (and in
    effect by then); `known` when there is one."""
    pairs = versements[["_row", "salarie_id", "date_versement"]].merge(
        rates, on="salarie_id")
    on = pairs["date_versement"].astype("str")
    pairs = pairs[(on != "") & (pairs["date_disponibilite"] <= on)
                  & ((pairs["date_effet"] == "") | (pairs["date_effet"] <= on))]
    pairs = pairs.assign(_effect=pairs["date_effet"].where(pairs["date_effet"] != "",
                                                           pairs["date_disponibilite"]))
    latest = pairs.sort_values(["_row", "date_disponibilite", "_effect", "id"]).drop_duplicates(
        "_row", keep="last").set_index("_row")
    found = pd.DataFrame(index=versements["_row"])
    for column in ("identifiant_crm", "taux", "valide_jusqu_au"):
        found[column] = latest[column].reindex(found.index)
    found["known"] = found.index.isin(latest.index)
    return found.fillna({"identifiant_crm": "", "valide_jusqu_au": ""})


def _rows(frame: pd.DataFrame, flags: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per raised flag (code → boolean per row of `frame`), with the code's gravité
    (MONTANT_PAS: the frame's `_gravite_montant`) and message from `schemas.dsn.CONTROLS`."""
    parts = []
    for code, raised in flags.items():
        gravite, message = CONTROLS[code]
        hit = (frame if raised.all() else frame[raised]).assign(code=code, message=message)
        hit["gravite"] = hit["_gravite_montant"] if code == "MONTANT_PAS" else gravite
        parts.append(hit)
    return pd.concat(parts, ignore_index=True) if parts else frame.iloc[:0]


def _declaration_rows(view: DsnView, versements: pd.DataFrame) -> pd.DataFrame:
    """VERSEMENT_DGFIP / VERSEMENT_DGFIP_ABSENT per declaration (a handful per file)."""
    pas = versements.groupby("_decl")["_pas"].sum()
    paid = view.organismes.assign(_cents=_numbers(view.organismes["montant"], 100).fillna(0))
    paid = paid[paid["organisme"].str.strip().str.upper() == DGFIP]
    found = []
    for decl in view.declarations.to_dict("records"):
        total = float(pas.get(decl["_id"], 0.0))
        euros = np.sign(total) * np.floor((abs(total) + 50) / 100) * 100  # half-up
        mine = paid[paid["_decl"] == decl["_id"]]
        row = {"siret": decl["siret"], "montant_pas": "", "montant_attendu": f"{euros / 100:.2f}",
               "detail": ""}
        if mine.empty:
            if total:
                found.append({**row, "code": "VERSEMENT_DGFIP_ABSENT"})
            continue
        elsewhere = mine[mine["mode"] == PAYE_PAR_UN_AUTRE]
        own = mine[mine["mode"] != PAYE_PAR_UN_AUTRE]
        if (elsewhere["_cents"] != 0).any():
            found.append({**row, "montant_attendu": "0.00", "code": "VERSEMENT_DGFIP",
                          "montant_pas": f"{elsewhere['_cents'].sum() / 100:.2f}",
                          "detail": " (mode 06, payé par un autre SIRET : 0.00 attendu)"})
        if len(own) and own["_cents"].sum() != euros:
            found.append({**row, "code": "VERSEMENT_DGFIP",
                          "montant_pas": f"{own['_cents'].sum() / 100:.2f}"})
    rows = pd.DataFrame(found, columns=["siret", "montant_pas", "montant_attendu", "code",
                                        "detail"])
    rows["gravite"] = ERREUR
    rows["message"] = rows["code"].map({c: m for c, (_g, m) in CONTROLS.items()}) + rows["detail"]
    return rows


def controle_pas(view: DsnView, registre: Registre,
                 people: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every versement's codes (CONFORME when none) and every declaration's, erreurs first:
    the rows of `<stem>.controle_pas.csv`."""
    people = _people(view, registre) if people is None else people
    v = _with_person(view.versements.reset_index(drop=True), people,
                     ["salarie_id", "siret", "matricule", "nom", "prenoms", "nir"])
    v["_row"] = np.arange(len(v))
    crm = rate_in_force(v, registre.taux)
    crm_rate = _numbers(crm["taux"].fillna(""), 100).to_numpy()
    rate = _numbers(v["taux"], 100)
    soumis, pas = _numbers(v["montant_soumis"], 100), _numbers(v["montant_pas"], 100)
    v["_pas"] = pas.fillna(0)
    expected = _expected_cents(soumis, rate)
    on = v["date_versement"].to_numpy()
    until = crm["valide_jusqu_au"].to_numpy()
    known = crm["known"].to_numpy()
    valid = known & (until >= on)
    t01, ident = (v["type_taux"] == TAUX_CRM).to_numpy(), v["identifiant_taux"].to_numpy()
    short = v["_parent"].isin(_short_cdd(view)).to_numpy()
    ident_ok = (ident == crm["identifiant_crm"].to_numpy()) | (
        (ident == IDENTIFIANT_CDD_COURT) & short)
    gap = (pas - expected).abs().to_numpy()
    flags = {
        "TAUX_DIFFERENT": t01 & valid & (rate.to_numpy() != crm_rate),
        "IDENTIFIANT_DIFFERENT": t01 & valid & (ident != "") & ~ident_ok,
        "IDENTIFIANT_MANQUANT": t01 & (ident == ""),
        "IDENTIFIANT_INTERDIT": ~t01 & (ident != ""),
        "TAUX_EXPIRE": t01 & known & ~valid,
        "BAREME_AU_LIEU_DU_TAUX": (v["type_taux"].isin(BAREMES).to_numpy() & valid
                                   & ~np.isnan(crm_rate)),
        "TAUX_SANS_CRM": t01 & ~known,
        "MONTANT_PAS": gap > 1,
    }
    flags["CONFORME"] = ~np.logical_or.reduce(list(flags.values()))
    v = v.assign(
        taux_dsn=v["taux"], identifiant_dsn=v["identifiant_taux"],
        taux_crm=crm["taux"].fillna("").astype("str").set_axis(v.index),
        identifiant_crm=crm["identifiant_crm"].astype("str").set_axis(v.index),
        valide_jusqu_au=crm["valide_jusqu_au"].astype("str").set_axis(v.index),
        montant_attendu=_money(expected),
        nir_masque=mask_nir(v["nir"]),
        _gravite_montant=np.where(gap > MONTANT_ERREUR, ERREUR, AVERTISSEMENT))
    shown = [c for c in CONTROLE_PAS_COLUMNS if c in v.columns]
    return _ordered(_stacked([_declaration_rows(view, v),
                              _rows(v[[*shown, "_gravite_montant"]], flags)],
                             CONTROLE_PAS_COLUMNS))


def _stacked(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The frames one after the other as text columns ("" where a frame has none or a value
    is missing), joined in Arrow (no copy of the large one)."""
    def text(frame: pd.DataFrame, column: str) -> pa.ChunkedArray:
        if column in frame:
            return text_array(frame[column])
        return pa.chunked_array([pa.repeat(pa.scalar("", pa.large_string()), len(frame))])

    return pa.concat_tables([pa.table({c: text(f, c) for c in columns})
                             for f in frames]).to_pandas()


def _dpae_code(found: pd.DataFrame) -> pd.Series:
    """The code a hire gets from the statut of the DPAE found for it ("": none)."""
    statut = found["statut"].fillna("")
    confirmed = (statut.isin(CONFIRMED) | (found["code_retour"].fillna("") == "00")
                 | (found["certificat"].fillna("") != ""))
    return pd.Series(np.select(
        [statut.isin(REJECTED), confirmed, statut.isin(SENT)],
        ["DPAE_REJETEE", "DPAE_CONFIRMEE", "DPAE_SANS_AR"], "DPAE_MANQUANTE"), index=found.index)


def _sent_late(found: pd.DataFrame) -> np.ndarray:
    """Sent after the hire: on a later day, or after the hire's time on its day (Paris)."""
    sent = pd.to_datetime(found["envoye_at"], utc=True, errors="coerce").dt.tz_convert(PARIS)
    day = sent.dt.strftime("%Y-%m-%d")
    hour = found["heure_embauche"].fillna("")
    same_day_late = (day == found["date_embauche"]) & (hour != "") & (sent.dt.strftime(
        "%H:%M") > hour)
    return (sent.notna() & ((day > found["date_embauche"]) | same_day_late)).to_numpy()


# Which DPAE speaks for a hire when several match: the furthest along.
_RANK = {"DPAE_CONFIRMEE": 0, "DPAE_SANS_AR": 1, "DPAE_REJETEE": 2, "DPAE_MANQUANTE": 3}


def controle_embauches(view: DsnView, registre: Registre,
                       people: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every contrat starting in its declaration's month (stages excepted) against the DPAE
    of the same SIRET, NIR (or name and birth date for an NTT) and hire date: the rows of
    `<stem>.embauches.csv`, erreurs first."""
    people = _people(view, registre) if people is None else people
    month = view.declarations.set_index("_id")["mois"].str.slice(0, 7)
    c = view.contrats.reset_index(drop=True)
    c = c[(c["date_debut"].str.slice(0, 7) == c["_decl"].map(month).fillna("-"))
          & (c["nature"] != STAGE)].reset_index(drop=True)
    c = _with_person(c, people, ["siret", "matricule", "nom", "prenoms", "nir",
                                 "date_naissance"])
    c["_row"] = np.arange(len(c))
    dpae = registre.dpae.merge(registre.salaries, on="salarie_id")
    dpae = dpae.assign(_nom=dpae["nom"].str.upper())
    by_nir = c[c["nir"] != ""].merge(dpae[dpae["nir13"] != ""].drop(columns=["nom"]),
                                     left_on=["siret", "nir", "date_debut"],
                                     right_on=["siret", "nir13", "date_embauche"],
                                     suffixes=("", "_r"))
    ntt = c[c["nir"] == ""].assign(_nom=lambda f: f["nom"].str.upper())
    by_name = ntt.merge(dpae.drop(columns=["nom"]), left_on=["siret", "_nom", "date_naissance",
                                                             "date_debut"],
                        right_on=["siret", "_nom", "date_naissance", "date_embauche"],
                        suffixes=("", "_r"))
    found = pd.concat([by_nir, by_name], ignore_index=True)
    found = found.assign(code=_dpae_code(found), late=_sent_late(found))
    found = found.assign(_rank=found["code"].map(_RANK)).sort_values(["_row", "_rank"])
    best = found.drop_duplicates("_row").set_index("_row")
    c["dpae_statut"] = best["statut"].reindex(c["_row"]).fillna("").to_numpy()
    code = best["code"].reindex(c["_row"]).fillna("DPAE_MANQUANTE").to_numpy()
    late = best["late"].reindex(c["_row"]).fillna(False).astype(bool).to_numpy()
    c = c.assign(nir_masque=mask_nir(c["nir"]), nature_contrat=c["nature"],
                 numero_contrat=c["numero"], _gravite_montant="")
    flags = {name: code == name for name in _RANK} | {"DPAE_APRES_EMBAUCHE": late}
    rows = _rows(c, flags).sort_values("_row", kind="stable")
    return _ordered(rows.reindex(columns=EMBAUCHE_COLUMNS).fillna(""))


def _ordered(rows: pd.DataFrame) -> pd.DataFrame:
    """Erreurs first, then avertissements, then infos (stable)."""
    rank = pc.index_in(text_array(rows["gravite"]), value_set=pa.array(GRAVITES)).to_numpy(
        zero_copy_only=False)
    if (np.diff(rank) >= 0).all():  # already in order (the usual: all conforme)
        return rows.reset_index(drop=True)
    return rows.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)


def controls(view: DsnView, registre: Registre) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both reports' rows (`controle_pas`, `controle_embauches`), the individuals matched
    once."""
    people = _people(view, registre)
    return controle_pas(view, registre, people), controle_embauches(view, registre, people)
