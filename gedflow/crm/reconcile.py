"""Reconciliation of a CRM nominatif with the registry (crm_format.md §6–§8), with pandas merges.

Each (SIRET, person) of the CRM is matched to the registry's salariés of that SIRET on the NIR,
then on the matricule; the `cle` column says which key matched. Outcomes use these `statut` codes:
conforme, modifie, nouveau, futur, sans_taux, inconnu_registre, absent_crm, anomalie.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from gedflow.checks import mask_nir

REPORT_COLUMNS = [
    "siret", "matricule", "nom", "prenoms", "nir_masque", "cle", "taux_registre", "taux_crm",
    "statut", "date_effet", "valide_jusqu_au", "identifiant_crm", "anomalie_code",
    "anomalie_message",
]
# Differences first (the order of the HTML report); conforme last.
STATUTS = ("modifie", "nouveau", "futur", "sans_taux", "inconnu_registre", "absent_crm",
           "anomalie", "conforme")
RECORDED = ("modifie", "nouveau", "futur")  # a rate-history row is added
REGISTRY_COLUMNS = ["siret", "salarie_id", "taux_id", "matricule", "nir", "nom", "prenoms",
                    "taux_registre"]
SANS_TAUX_MESSAGE = ("aucun taux transmis : appliquer le taux de la grille par défaut "
                     "(barème, types 13/23/33)")


def valid_until(available: date) -> date:
    """End of the 2nd month after the rate was made available (13/08 → 31/10)."""
    first = pd.Timestamp(available).to_period("M") + 3
    return (first.to_timestamp() - pd.Timedelta(days=1)).date()


def _crm_people(salaries: pd.DataFrame) -> pd.DataFrame:
    people = salaries[["siret", "nir", "ntt", "matricule", "taux", "futur_taux",
                       "futur_date_effet"]].rename(columns={
        "nir": "c_nir", "ntt": "c_ntt", "matricule": "c_matricule", "taux": "taux_crm"})
    return people.reset_index(drop=True).assign(_row=np.arange(len(people)))


def _match(people: pd.DataFrame, registry: pd.DataFrame) -> pd.DataFrame:
    """People matched to registry rows: NIR first, then matricule among the rest."""
    reg = registry.assign(nir13=registry["nir"].fillna("").str[:13])
    by_nir = people[people["c_nir"] != ""].merge(
        reg[reg["nir13"] != ""], left_on=["siret", "c_nir"], right_on=["siret", "nir13"]
    ).assign(cle="nir")
    rest_people = people[~people["_row"].isin(by_nir["_row"])]
    rest_reg = reg[~reg["salarie_id"].isin(by_nir["salarie_id"])]
    by_matricule = rest_people[rest_people["c_matricule"] != ""].merge(
        rest_reg, left_on=["siret", "c_matricule"], right_on=["siret", "matricule"]
    ).assign(cle="matricule")
    return pd.concat([by_nir, by_matricule], ignore_index=True).drop(columns="nir13")


def _person_rows(matched: pd.DataFrame, identifiant: str, available: date) -> pd.DataFrame:
    reg_taux = matched["taux_registre"].fillna("").astype("str")
    crm_taux = matched["taux_crm"]
    # Later masks win: sans_taux over nouveau over conforme over modifie.
    statut = pd.Series("modifie", index=matched.index, dtype="str")
    statut = statut.mask(crm_taux == reg_taux, "conforme").mask(reg_taux == "", "nouveau")
    statut = statut.mask(crm_taux == "", "sans_taux")
    rows = matched.assign(statut=statut, taux_registre=reg_taux)
    blank = pd.Series("", index=matched.index, dtype="str")
    changed = statut.isin(["modifie", "nouveau"])
    dated = changed | (statut == "conforme")
    rows["date_effet"] = blank.mask(changed, available.isoformat())
    rows["valide_jusqu_au"] = blank.mask(dated, valid_until(available).isoformat())
    rows["identifiant_crm"] = blank.mask(dated, identifiant)
    rows["anomalie_message"] = blank.mask(statut == "sans_taux", SANS_TAUX_MESSAGE)
    future = matched.assign(taux_registre=reg_taux)[matched["futur_taux"] != ""].assign(
        statut="futur",
        taux_crm=lambda f: f["futur_taux"],
        date_effet=lambda f: f["futur_date_effet"],
        valide_jusqu_au=valid_until(available).isoformat(),
        identifiant_crm=identifiant,
        anomalie_message="",
    )
    return pd.concat([rows, future], ignore_index=True)


def _unknown_rows(people: pd.DataFrame, matched: pd.DataFrame) -> pd.DataFrame:
    unknown = people[~people["_row"].isin(matched["_row"])]
    return unknown.assign(
        matricule=unknown["c_matricule"], nir=unknown["c_nir"], cle="", statut="inconnu_registre",
        anomalie_message="personne absente du registre : ajoutez-la (fichier salaries….csv)",
    )


def _absent_rows(
    registry: pd.DataFrame, people: pd.DataFrame, matched: pd.DataFrame
) -> pd.DataFrame:
    in_crm = registry["siret"].isin(people["siret"].unique())
    absent = registry[in_crm & ~registry["salarie_id"].isin(matched["salarie_id"])]
    return absent.assign(
        cle="", statut="absent_crm", taux_registre=absent["taux_registre"].fillna(""),
        anomalie_message="salarié du registre absent du CRM de cet établissement",
    )


def _anomaly_rows(anomalies: pd.DataFrame, registry: pd.DataFrame) -> pd.DataFrame:
    """One row per anomaly, linked to a registry person by NIR, else matricule, when possible."""
    base = anomalies.reset_index(drop=True).assign(_a=lambda f: np.arange(len(f)))
    reg = registry.assign(nir13=registry["nir"].fillna("").str[:13])
    by_nir = base[base["nir"] != ""].merge(
        reg[["siret", "nir13", "salarie_id", "matricule", "nom", "prenoms"]],
        left_on=["siret", "nir"], right_on=["siret", "nir13"], suffixes=("", "_reg"),
    ).assign(cle="nir")
    rest = base[~base["_a"].isin(by_nir["_a"])]
    by_mat = rest[rest["matricule"] != ""].merge(
        reg[["siret", "matricule", "salarie_id", "nom", "prenoms"]],
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


def reconcile(
    salaries: pd.DataFrame,
    anomalies: pd.DataFrame,
    registry: pd.DataFrame,
    identifiant: str,
    available: date,
) -> pd.DataFrame:
    """The report rows (REPORT_COLUMNS) plus `salarie_id`/`taux_id` for integration."""
    people = _crm_people(salaries)
    matched = _match(people, registry)
    rows = pd.concat(
        [
            _person_rows(matched, identifiant, available),
            _unknown_rows(people, matched),
            _absent_rows(registry, people, matched),
            _anomaly_rows(anomalies, registry),
        ],
        ignore_index=True,
    )
    rows["nir_masque"] = mask_nir(rows["nir"].fillna(""))
    for col in REPORT_COLUMNS:
        rows[col] = rows[col].fillna("") if col in rows else ""
    rows["_rang"] = rows["statut"].map({s: i for i, s in enumerate(STATUTS)})
    rows = rows.sort_values(["siret", "matricule", "_rang"], kind="stable")
    keep = REPORT_COLUMNS + ["salarie_id", "taux_id", "_rang"]
    return rows[[c for c in keep if c in rows]].reset_index(drop=True)
