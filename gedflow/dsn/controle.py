"""What the DGFiP and the URSSAF would flag in a DSN, found before they do: each versement's
PAS against the rate the CRMs communicated for that salarié (in force on the date of
versement), each declaration's payment to the DGFiP against its PAS, and each hire of the
declared month against the DPAE the registry holds. Plain functions over frames (the registry
loaded once: `gedflow.dsn.registre`); codes, gravités and columns in `schemas.dsn`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gedflow.checks import mask_nir, mask_nirs
from gedflow.dsn.feed import matricule_key
from gedflow.dsn.read import DsnView, rows_among
from gedflow.dsn.registre import Registre
from gedflow.formats.arrowtext import taken, text_array
from gedflow.settings import PARIS
from schemas.dsn import (
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
        _nir_keys(known["siret"], known["nir_cle"].to_numpy(dtype=np.int64), order))]
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


def _text(values: pd.Series | pa.ChunkedArray) -> pa.ChunkedArray:
    return values if isinstance(values, pa.ChunkedArray) else text_array(values)


def _numbers(values: pd.Series | pa.ChunkedArray, scale: int) -> np.ndarray:
    """Decimal text × scale as integers (NaN where not a number): cents, basis points."""
    text = _text(values)
    usable = pc.match_substring_regex(text, r"^-?[0-9]+(\.[0-9]+)?$")
    number = pc.cast(pc.if_else(usable, text, pa.scalar(None, text.type)), pa.float64())
    return np.round(number.to_numpy() * scale)


def _money(cents: np.ndarray) -> pa.ChunkedArray:
    """Cents as 1234.56 ("" where none): the integers read as decimals of scale 2."""
    whole = pa.array(np.nan_to_num(cents).astype(np.int64), mask=np.isnan(cents)).cast(
        pa.decimal128(19, 0))
    scaled = pa.Array.from_buffers(pa.decimal128(19, 2), len(whole), whole.buffers(),
                                   null_count=whole.null_count)
    return pa.chunked_array([pc.fill_null(scaled.cast(pa.large_string()), "")])


def _is(values: pa.ChunkedArray, *among: str) -> np.ndarray:
    """Per value, whether it is one of `among` (as numpy booleans)."""
    found = (pc.equal(values, among[0]) if len(among) == 1
             else pc.is_in(values, value_set=pa.array(among, values.type)))
    return found.to_numpy()


def _expected_cents(soumis: np.ndarray, rate: np.ndarray) -> np.ndarray:
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


NO_DATE = np.iinfo(np.int32).min


def _days(values: pd.Series | pa.ChunkedArray) -> np.ndarray:
    """AAAA-MM-JJ text (its first ten characters) as days since 1970, `NO_DATE` where there
    is none or it is not a date."""
    text = _text(values)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)
    try:
        days = pc.cast(text, pa.date32())  # the usual: every value is AAAA-MM-JJ
    except pa.ArrowInvalid:
        days = pc.cast(pc.strptime(pc.utf8_slice_codeunits(text, 0, 10), format="%Y-%m-%d",
                                   unit="s", error_is_null=True), pa.date32())
    return pc.fill_null(pc.cast(days, pa.int32()), NO_DATE).to_numpy()


def _latest_rates(person: np.ndarray, on: np.ndarray, rates: pd.DataFrame) -> np.ndarray:
    """Per versement (its salarié, its date): the row of `rates` in force, -1 where none. The
    salarié's rates are taken in order of availability, then effect (the date d'effet, else the
    availability), then id; the last one available on that date and in effect by then wins."""
    available = _days(rates["date_disponibilite"])
    effet = _days(rates["date_effet"])
    owner = rates["salarie_id"].to_numpy(dtype=np.int64)
    order = np.lexsort((rates["id"].to_numpy(dtype=np.int64),
                        np.where(effet == NO_DATE, available, effet), available, owner))
    start = np.searchsorted(owner[order], person, "left")
    count = np.searchsorted(owner[order], person, "right") - start
    count[on == NO_DATE] = 0
    row = np.repeat(np.arange(len(person)), count)  # each (versement, rate of its salarié)
    rate = order[start[row] + np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)]
    usable = (available[rate] <= on[row]) & ((effet[rate] == NO_DATE) | (effet[rate] <= on[row]))
    row, rate = row[usable], rate[usable]
    last = np.ones(len(row), dtype=bool)  # a versement's last usable rate
    last[:-1] = row[1:] != row[:-1]
    chosen = np.full(len(person), -1, dtype=np.int64)
    chosen[row[last]] = rate[last]
    return chosen


def rate_in_force(versements: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """Per versement (`_row`): the latest CRM rate communicated on or before its date (and in
    effect by then); `known` when there is one ("" in the other columns when none)."""
    chosen = _latest_rates(versements["salarie_id"].to_numpy(dtype=np.int64),
                           _days(versements["date_versement"]), rates)
    found = pd.DataFrame({c: pd.Series(taken(rates[c], chosen), dtype="str")
                          for c in ("identifiant_crm", "taux", "valide_jusqu_au")})
    found["known"] = chosen >= 0
    return found.set_axis(versements["_row"].to_numpy())


def _text_table(frame: pd.DataFrame, columns: list[str],
                given: dict[str, pa.ChunkedArray] | None = None) -> pa.Table:
    """The frame's `columns` as Arrow text ("" where it has none or a value is missing), those
    `given` as they are."""
    def text(column: str) -> pa.ChunkedArray:
        if given and column in given:
            return given[column]
        if column in frame:
            return text_array(frame[column])
        return pa.chunked_array([pa.repeat(pa.scalar("", pa.large_string()), len(frame))])

    return pa.table({c: text(c) for c in columns})


LABELS = ["code", "gravite", "message"]


def _flagged(frame: pd.DataFrame, flags: dict[str, np.ndarray], columns: list[str],
             given: dict[str, pa.ChunkedArray] | None = None, by_row: bool = False,
             montant_erreur: np.ndarray | None = None) -> pa.Table:
    """One row per raised flag (code → boolean per row of `frame`) as the text `columns` (of
    the frame, or `given` per row), with the code, its gravité (MONTANT_PAS: an erreur where
    `montant_erreur`) and its message from `schemas.dsn.CONTROLS`: flag after flag, or
    (`by_row`) a row's flags together."""
    codes = list(flags)
    hits = [np.flatnonzero(raised) for raised in flags.values()]
    at = np.concatenate(hits) if hits else np.zeros(0, dtype=np.int64)
    which = pa.array(np.repeat(np.arange(len(codes)), [len(h) for h in hits]))
    if by_row:
        order = np.argsort(at, kind="stable")
        at, which = at[order], which.take(pa.array(order))
    rows = _text_table(frame, [c for c in columns if c not in LABELS], given)
    if len(at) != len(frame) or (at != np.arange(len(at))).any():  # else: each row once, in order
        rows = rows.take(pa.array(at))
    gravite = pa.array([CONTROLS[c][0] for c in codes], pa.large_string()).take(which)
    if montant_erreur is not None and "MONTANT_PAS" in codes:
        worse = pc.equal(which, codes.index("MONTANT_PAS")).to_numpy(zero_copy_only=False)
        gravite = pc.if_else(pa.array(worse & montant_erreur[at]), _scalar(ERREUR), gravite)
    labels = {"code": pa.array(codes, pa.large_string()).take(which), "gravite": gravite,
              "message": pa.array([CONTROLS[c][1] for c in codes], pa.large_string()).take(which)}
    return pa.table({c: labels[c] if c in labels else rows[c] for c in columns})


def _declaration_rows(view: DsnView, decl: np.ndarray, cents: np.ndarray) -> pd.DataFrame:
    """VERSEMENT_DGFIP / VERSEMENT_DGFIP_ABSENT per declaration (a handful per file), from
    each versement's declaration and PAS in cents (summed by numpy, the few DGFIP payments
    then looked at in plain Python)."""
    ids = view.declarations["_id"].to_numpy(dtype=np.int64)
    pas = np.bincount(rows_among(decl, ids) + 1, weights=np.nan_to_num(cents),
                      minlength=len(ids) + 1)[1:]
    paid = view.organismes
    dgfip = pc.equal(pc.utf8_upper(pc.utf8_trim_whitespace(text_array(paid["organisme"]))),
                     DGFIP).to_numpy(zero_copy_only=False)
    own: dict[int, list[float]] = {}  # declaration → its DGFIP payments, by whom
    elsewhere: dict[int, list[float]] = {}
    payments = np.nan_to_num(_numbers(text_array(paid["montant"]).filter(dgfip), 100))
    for at, mode, amount in zip(paid["_decl"].to_numpy()[dgfip], paid["mode"].to_numpy()[dgfip],
                                payments, strict=True):
        (elsewhere if mode == PAYE_PAR_UN_AUTRE else own).setdefault(int(at), []).append(amount)
    found: dict[str, list[str]] = {c: [] for c in ("siret", "montant_pas", "montant_attendu",
                                                   "code", "detail")}

    def add(siret: str, code: str, montant_pas: str, attendu: str, detail: str = "") -> None:
        for column, value in zip(found, (siret, montant_pas, attendu, code, detail), strict=True):
            found[column].append(value)

    for at, siret, total in zip(ids.tolist(), view.declarations["siret"], pas.tolist(),
                                strict=True):
        euros = np.sign(total) * np.floor((abs(total) + 50) / 100) * 100  # half-up
        attendu = f"{euros / 100:.2f}"
        if at not in own and at not in elsewhere:
            if total:
                add(siret, "VERSEMENT_DGFIP_ABSENT", "", attendu)
            continue
        if any(elsewhere.get(at, [])):
            add(siret, "VERSEMENT_DGFIP", f"{sum(elsewhere[at]) / 100:.2f}", "0.00",
                " (mode 06, payé par un autre SIRET : 0.00 attendu)")
        if at in own and sum(own[at]) != euros:
            add(siret, "VERSEMENT_DGFIP", f"{sum(own[at]) / 100:.2f}", attendu)
    rows = pd.DataFrame(found, dtype="str")
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
    rates = registre.taux
    on = _days(v["date_versement"])
    chosen = _latest_rates(v["salarie_id"].to_numpy(dtype=np.int64), on, rates)
    crm = {c: taken(rates[c], chosen) for c in ("identifiant_crm", "taux", "valide_jusqu_au")}
    known = chosen >= 0
    valid = known & (_days(crm["valide_jusqu_au"]) >= on)
    crm_rate = _numbers(crm["taux"], 100)
    text = {c: text_array(v[c]) for c in ("taux", "type_taux", "identifiant_taux")}
    rate = _numbers(text["taux"], 100)
    soumis, pas = _numbers(v["montant_soumis"], 100), _numbers(v["montant_pas"], 100)
    expected = _expected_cents(soumis, rate)
    t01, ident = _is(text["type_taux"], TAUX_CRM), text["identifiant_taux"]
    no_ident = _is(ident, "")
    short = v["_parent"].isin(_short_cdd(view)).to_numpy()
    ident_ok = pc.equal(ident, crm["identifiant_crm"]).to_numpy() | (
        _is(ident, IDENTIFIANT_CDD_COURT) & short)
    gap = np.abs(pas - expected)
    flags = {
        "TAUX_DIFFERENT": t01 & valid & (rate != crm_rate),
        "IDENTIFIANT_DIFFERENT": t01 & valid & ~no_ident & ~ident_ok,
        "IDENTIFIANT_MANQUANT": t01 & no_ident,
        "IDENTIFIANT_INTERDIT": ~t01 & ~no_ident,
        "TAUX_EXPIRE": t01 & known & ~valid,
        "BAREME_AU_LIEU_DU_TAUX": _is(text["type_taux"], *BAREMES) & valid & ~np.isnan(crm_rate),
        "TAUX_SANS_CRM": t01 & ~known,
        "MONTANT_PAS": gap > 1,
    }
    flags["CONFORME"] = ~np.logical_or.reduce(list(flags.values()))
    shown = {"taux_dsn": text["taux"], "identifiant_dsn": ident, "taux_crm": crm["taux"],
             "identifiant_crm": crm["identifiant_crm"],
             "valide_jusqu_au": crm["valide_jusqu_au"], "montant_attendu": _money(expected),
             "nir_masque": mask_nirs(text_array(v["nir"]))}
    return _ordered(pa.concat_tables([
        _text_table(_declaration_rows(view, v["_decl"].to_numpy(), pas), CONTROLE_PAS_COLUMNS),
        _flagged(v, flags, CONTROLE_PAS_COLUMNS, shown, montant_erreur=gap > MONTANT_ERREUR)]))


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
    if c.empty:  # no hire this month (the usual)
        return _ordered(_text_table(c, EMBAUCHE_COLUMNS))
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
                 numero_contrat=c["numero"])
    flags = {name: code == name for name in _RANK} | {"DPAE_APRES_EMBAUCHE": late}
    return _ordered(_flagged(c, flags, EMBAUCHE_COLUMNS, by_row=True))


def _ordered(rows: pa.Table) -> pd.DataFrame:
    """Erreurs first, then avertissements, then infos (stable)."""
    rank = pc.index_in(rows["gravite"], value_set=pa.array(GRAVITES, pa.large_string())
                       ).to_numpy(zero_copy_only=False)
    if (np.diff(rank) < 0).any():  # else already in order (the usual: all conforme)
        rows = rows.take(pa.array(np.argsort(rank, kind="stable")))
    return rows.to_pandas()


def controls(view: DsnView, registre: Registre) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both reports' rows (`controle_pas`, `controle_embauches`), the individuals matched
    once."""
    people = _people(view, registre)
    return controle_pas(view, registre, people), controle_embauches(view, registre, people)
