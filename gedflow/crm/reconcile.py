"""Reconciliation of a CRM nominatif with the registry: pandas merges on
integer keys, the rows built column-wise in Arrow (no Python loop per person).

Each (SIRET, person) of the CRM is matched to the registry's salariés of that SIRET on the NIR,
then on the matricule; the `cle` column says which key matched. Outcomes use these `statut` codes:
conforme, modifie, nouveau, futur, sans_taux, inconnu_registre, absent_crm, anomalie, and
`invalide` for each value of the file gedflow cannot use (`Crm.problems`): a person whose rate
is unusable has that row only, and nothing of a declaration whose SIRET is invalid is matched.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gedflow.checks import digit_numbers
from gedflow.formats.arrowtext import text_array
from gedflow.formats.crm import Crm

REPORT_COLUMNS = [
    "siret", "matricule", "nom", "prenoms", "nir_masque", "cle", "taux_registre", "taux_crm",
    "statut", "date_effet", "valide_jusqu_au", "identifiant_crm", "anomalie_code",
    "anomalie_message",
]
# Unusable values first, then differences (the order of the HTML report); conforme last.
STATUTS = ("invalide", "modifie", "nouveau", "futur", "sans_taux", "inconnu_registre", "absent_crm",
           "anomalie", "conforme")
RECORDED = ("modifie", "nouveau", "futur")  # a rate-history row is added
# nir_cle (both sides): `checks.nir_numbers` of the NIR, the integer the NIR match joins on.
REGISTRY_COLUMNS = ["siret", "salarie_id", "taux_id", "matricule", "nir", "nom", "prenoms",
                    "taux_registre", "nir_cle"]
ANOMALY_COLUMNS = ["siret", "matricule", "nom", "prenoms", "nir", "cle", "statut", "anomalie_code",
                   "anomalie_message"]
SANS_TAUX_MESSAGE = ("aucun taux transmis : appliquer le taux de la grille par défaut "
                     "(barème, types 13/23/33)")


def valid_until(available: date) -> date:
    """End of the 2nd month after the rate was made available (13/08 → 31/10)."""
    first = pd.Timestamp(available).to_period("M") + 3
    return (first.to_timestamp() - pd.Timedelta(days=1)).date()


def _nir_keys(siret: pa.ChunkedArray, nir_cle: np.ndarray) -> pd.DataFrame:
    """(SIRET, NIR) as two integers, far cheaper to merge than text; -1 where unusable."""
    return pd.DataFrame({"s": digit_numbers(siret, 14), "n": nir_cle})


def _unused(candidates: np.ndarray, used: pd.Series) -> np.ndarray:
    """Positions where `candidates` is true, but for those `used`."""
    free = candidates.copy()
    free[used.to_numpy()] = False
    return np.flatnonzero(free)


def _match(people: dict[str, pa.Array], registry: dict[str, pa.Array]) -> pd.DataFrame:
    """Pairs (`_row` in the CRM, `_reg` in the registry, `on_nir`): on the NIR, then on the
    matricule for the people and registry rows left."""
    left = _nir_keys(people["siret"], people["nir_cle"]).assign(
        _row=np.arange(len(people["nir"])))
    right = _nir_keys(registry["siret"], registry["nir_cle"]).assign(
        _reg=np.arange(len(registry["nir"])))
    by_nir = left[left["n"] >= 0].merge(right[right["n"] >= 0], on=["s", "n"])
    rows = _unused(pc.not_equal(people["matricule"], "").to_numpy(zero_copy_only=False),
                   by_nir["_row"])
    regs = _unused(np.ones(len(registry["nir"]), dtype=bool), by_nir["_reg"])
    by_matricule = pd.DataFrame({
        "siret": people["siret"].take(rows), "m": people["matricule"].take(rows), "_row": rows,
    }).merge(pd.DataFrame({
        "siret": registry["siret"].take(regs), "m": registry["matricule"].take(regs), "_reg": regs,
    }), on=["siret", "m"])
    return pd.concat([by_nir[["_row", "_reg"]].assign(on_nir=True),
                      by_matricule[["_row", "_reg"]].assign(on_nir=False)], ignore_index=True)


def _blank(count: int) -> pa.Array:
    return pa.repeat(pa.scalar("", pa.large_string()), count)


def _where(mask: pa.Array, value: str) -> pa.Array:
    return pc.if_else(mask, pa.scalar(value, pa.large_string()), pa.scalar("", pa.large_string()))


def _person_rows(people: dict[str, pa.Array], registry: dict[str, pa.Array],
                 pairs: pd.DataFrame, identifiant: str, available: date) -> list[dict]:
    """A row per matched person, and one more per dated future rate."""
    row, reg = pa.array(pairs["_row"].to_numpy()), pa.array(pairs["_reg"].to_numpy())
    crm_taux, reg_taux = people["taux"].take(row), registry["taux_registre"].take(reg)
    statut = pc.if_else(pc.equal(crm_taux, ""), "sans_taux", pc.if_else(
        pc.equal(reg_taux, ""), "nouveau", pc.if_else(
            pc.equal(crm_taux, reg_taux), "conforme", "modifie")))
    changed = pc.is_in(statut, pa.array(["modifie", "nouveau"]))
    dated = pc.or_(changed, pc.equal(statut, "conforme"))
    until = valid_until(available).isoformat()
    matched = {
        **{c: registry[c].take(reg) for c in ("matricule", "nom", "prenoms", "nir",
                                              "salarie_id", "taux_id")},
        "siret": people["siret"].take(row),
        "cle": pc.if_else(pa.array(pairs["on_nir"].to_numpy()), "nir", "matricule"),
        "taux_registre": reg_taux, "taux_crm": crm_taux, "statut": statut,
        "date_effet": _where(changed, available.isoformat()),
        "valide_jusqu_au": _where(dated, until), "identifiant_crm": _where(dated, identifiant),
        "anomalie_message": _where(pc.equal(statut, "sans_taux"), SANS_TAUX_MESSAGE),
    }
    future = pc.not_equal(people["futur_taux"].take(row), "")
    count = pc.sum(future).as_py() or 0
    futur = {c: a.filter(future) for c, a in matched.items()}
    futur.update(
        statut=pa.repeat("futur", count), taux_crm=people["futur_taux"].take(row).filter(future),
        date_effet=people["futur_date_effet"].take(row).filter(future),
        valide_jusqu_au=pa.repeat(until, count), identifiant_crm=pa.repeat(identifiant, count),
        anomalie_message=_blank(count))
    return [matched, futur]


def _unknown_rows(people: dict[str, pa.Array], pairs: pd.DataFrame, rated: np.ndarray) -> dict:
    unknown = pa.array(_unused(rated, pairs["_row"]))
    count = len(unknown)
    return {
        **{c: people[c].take(unknown) for c in ("siret", "matricule", "nir")},
        "taux_crm": people["taux"].take(unknown), "statut": pa.repeat("inconnu_registre", count),
        "anomalie_message": pa.repeat(
            "personne absente du registre : ajoutez-la (fichier salaries….csv)", count),
    }


def _absent_rows(people: dict[str, pa.Array], registry: dict[str, pa.Array],
                 pairs: pd.DataFrame) -> dict:
    in_crm = pc.is_in(registry["siret"], pc.unique(people["siret"])).to_numpy(
        zero_copy_only=False)
    absent = pa.array(_unused(in_crm, pairs["_reg"]))
    count = len(absent)
    return {
        **{c: registry[c].take(absent) for c in ("siret", "matricule", "nom", "prenoms", "nir",
                                                  "taux_registre", "salarie_id", "taux_id")},
        "statut": pa.repeat("absent_crm", count),
        "anomalie_message": pa.repeat("salarié du registre absent du CRM de cet établissement",
                                      count),
    }


def _anomaly_rows(anomalies: pd.DataFrame, registry: pd.DataFrame) -> pd.DataFrame:
    """One row per anomaly, linked to a registry person by NIR, else matricule, when possible."""
    if anomalies.empty:
        return pd.DataFrame(columns=[*ANOMALY_COLUMNS, "salarie_id"], dtype="str")
    base = anomalies.reset_index(drop=True).assign(_a=lambda f: np.arange(len(f)))
    reg = registry[registry["nir_cle"] >= 0]
    by_nir = base[base["nir_cle"] >= 0].merge(
        reg[["siret", "nir_cle", "salarie_id", "matricule", "nom", "prenoms"]],
        on=["siret", "nir_cle"], suffixes=("", "_reg"),
    ).assign(cle="nir")
    rest = base[~base["_a"].isin(by_nir["_a"])]
    by_mat = rest[rest["matricule"] != ""].merge(
        registry[["siret", "matricule", "salarie_id", "nom", "prenoms"]],
        on=["siret", "matricule"], suffixes=("", "_reg"),
    ).assign(cle="matricule")
    unlinked = base[~base["_a"].isin(by_nir["_a"]) & ~base["_a"].isin(by_mat["_a"])].assign(cle="")
    rows = pd.concat([by_nir, by_mat, unlinked], ignore_index=True)
    for col in ("matricule", "nom", "prenoms"):
        if f"{col}_reg" in rows:
            from_registry = rows[f"{col}_reg"].fillna("")
            rows[col] = from_registry.where(from_registry != "", rows[col])
    category = rows["categorie"].where(rows["categorie"] == "", "[" + rows["categorie"] + "] ")
    return rows.assign(statut="anomalie", anomalie_code=rows["code"],
                       anomalie_message=category + rows["message"])


def _columns(frame: pd.DataFrame, texts: list[str]) -> dict[str, pa.Array]:
    """Text columns as Arrow (missing → ""), ids as nullable int64."""
    columns = {c: text_array(frame[c]) for c in texts}
    for c in ("salarie_id", "taux_id"):
        if c in frame:
            columns[c] = pa.array(frame[c].astype("Int64"), pa.int64())
    return columns


def _table(parts: list[dict[str, pa.Array]]) -> pa.Table:
    """The parts stacked; a column a part lacks is "" there (ids: null)."""
    tables = []
    for part in parts:
        count = len(next(iter(part.values())))
        full = {c: part.get(c, _blank(count)) for c in REPORT_COLUMNS if c != "nir_masque"}
        full["nir"] = part.get("nir", _blank(count))
        for c in ("salarie_id", "taux_id"):
            full[c] = part.get(c, pa.nulls(count, pa.int64()))
        tables.append(pa.table({c: a.cast(pa.int64() if c.endswith("_id") else pa.large_string())
                                for c, a in full.items()}))
    return pa.concat_tables(tables)


def _problem_rows(problems: pd.DataFrame) -> dict[str, pa.Array]:
    rows = problems.assign(statut="invalide", anomalie_code=problems["code"],
                           anomalie_message=problems["message"])
    return _columns(rows, ["siret", "matricule", "nir", "taux_crm", "statut", "anomalie_code",
                           "anomalie_message"])


def reconcile(crm: Crm, registry: pd.DataFrame, available: date) -> pd.DataFrame:
    """The report rows (REPORT_COLUMNS) plus `salarie_id`/`taux_id` for integration. The
    salariés (`formats.crm`) and the registry (`rates_in_force`) both carry `nir_cle`."""
    salaries, decls = crm.salaries, crm.declarations
    if not decls["siret_ok"].all():  # nothing of such a declaration is matched
        salaries = salaries[salaries["decl"].isin(decls.loc[decls["siret_ok"], "decl"])]
    people = _columns(salaries, ["siret", "nir", "matricule", "taux", "futur_taux",
                                 "futur_date_effet"])
    reg = _columns(registry, ["siret", "matricule", "nir", "nom", "prenoms", "taux_registre"])
    people["nir_cle"] = salaries["nir_cle"].to_numpy()
    reg["nir_cle"] = registry["nir_cle"].to_numpy()
    pairs = _match(people, reg)
    rated = ~salaries["taux_invalide"].to_numpy(bool)  # the others are reported as invalide
    kept = pairs if rated.all() else pairs[rated[pairs["_row"].to_numpy()]]
    linked = _anomaly_rows(crm.anomalies, registry)[[*ANOMALY_COLUMNS, "salarie_id"]]
    table = _table([
        _problem_rows(crm.problems),
        *_person_rows(people, reg, kept, crm.identifiant, available),
        _unknown_rows(people, pairs, rated),
        _absent_rows(people, reg, pairs),
        _columns(linked, ANOMALY_COLUMNS),
    ])
    nir = table["nir"]
    star, empty = pa.scalar("*", pa.large_string()), pa.scalar("", pa.large_string())
    masked = pc.if_else(pc.equal(nir, ""), nir, pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(nir, 0, 5), star, empty))
    rang = pc.index_in(table["statut"], pa.array(STATUTS, pa.large_string()))
    table = table.drop_columns(["nir"]).append_column("nir_masque", masked).append_column(
        "_rang", rang.cast(pa.int64()))
    order = pc.sort_indices(table, [("siret", "ascending"), ("matricule", "ascending"),
                                    ("_rang", "ascending")])
    if not np.array_equal(order.to_numpy(), np.arange(len(table))):  # often sorted already
        table = table.take(order)
    table = table.select([*REPORT_COLUMNS, "salarie_id", "taux_id", "_rang"])
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
