"""The DPAE "test de préparation": every rule of the URSSAF's DUE specification, each with a
stable code, evaluated on whole columns and collected lazily (never stopping at the first problem).

Input: one row per hire with the hire's columns (`schemas.dpae.HIRES`), the employer's registry
columns (`employeur_*`), `ligne` (input line, or <NA> for registry data) and `contrat_id`.
Output: the issues table `ligne;siret;matricule;nom;champ;code;gravite;message`.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from gedflow.checks import check_field, parse_day
from schemas.dpae import FLAT_WIDTHS, HIRES
from schemas.fields import Field, Kind

ISSUE_COLUMNS = ["ligne", "siret", "matricule", "nom", "champ", "code", "gravite", "message"]
ERREUR, AVERTISSEMENT = "erreur", "avertissement"
DELAI_MAX = timedelta(days=8)

# Employer fields the DPAE needs (R1221-1 and S8's check), with their own format rules.
EMPLOYEUR_FIELDS = (
    Field("raison_sociale", Kind.TEXT, required=True, max_len=64),
    Field("ape", Kind.APE, required=True),
    Field("adresse1", Kind.TEXT, required=True),
    Field("code_postal", Kind.CODE_POSTAL, required=True),
    Field("ville", Kind.TEXT, required=True),
    Field("telephone", Kind.TELEPHONE, required=True, max_len=11),
    Field("code_urssaf", Kind.CODE, required=True, max_len=3),
    Field("email_ar", Kind.EMAIL, required=True, max_len=30),
)
NAME_CHARS = r"[A-Z&' .\-]*"
TODO = {
    "OBLIGATOIRE": "renseignez ce champ",
    "FORMAT": "corrigez la valeur",
    "SIRET_INVALIDE": "vérifiez le SIRET (14 chiffres, clé de contrôle)",
    "NIR_CLE": "vérifiez le numéro de sécurité sociale sur la carte Vitale",
}


def ascii_upper(values: pd.Series) -> pd.Series:
    """Text for the flat file: accents removed, uppercased (É→E, œ→OE)."""
    def fold(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text.replace("œ", "oe").replace("Œ", "OE"))
        return decomposed.encode("ascii", "ignore").decode("ascii").upper()

    codes, uniques = pd.factorize(values.fillna("").astype(str))
    folded = np.array([fold(text) for text in uniques] or [""], dtype=object)
    return pd.Series(folded[codes], index=values.index, dtype="str")


class Issues:
    """Collects issue rows for masks over the hires table."""

    def __init__(self, hires: pd.DataFrame) -> None:
        self.hires = hires
        self.parts: list[pd.DataFrame] = []

    def add(self, mask: pd.Series, champ: str, code: str, gravite: str, message: str) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        rows = self.hires[mask]
        self.parts.append(pd.DataFrame({
            "ligne": rows["ligne"], "siret": rows["siret"], "matricule": rows["matricule"],
            "nom": rows["nom"], "champ": champ, "code": code, "gravite": gravite,
            "message": message, "_row": rows.index,
        }))

    def table(self) -> pd.DataFrame:
        """Issues, plus `_row`: the position of the hire they are about."""
        if not self.parts:
            return pd.DataFrame(columns=[*ISSUE_COLUMNS, "_row"])
        return pd.concat(self.parts, ignore_index=True)[[*ISSUE_COLUMNS, "_row"]]


def _field_checks(issues: Issues, hires: pd.DataFrame, fields, prefix: str, active,
                  known: pd.DataFrame | None = None) -> dict:
    """Required/format checks; returns which values are usable (filled and valid).
    `known` holds verdicts already computed (column → error message per row)."""
    usable = {}
    for fld in fields:
        column = prefix + fld.name
        if known is not None and column in known:
            error = known[column]
        else:
            _values, error = check_field(hires[column].fillna("").astype(str), fld)
        missing = (error == "obligatoire") & active
        wrong = (error != "") & (error != "obligatoire") & active
        issues.add(missing, column, "OBLIGATOIRE", ERREUR,
                   f"{column} manquant : {TODO['OBLIGATOIRE']}")
        code = {Kind.SIRET: "SIRET_INVALIDE", Kind.NIR: "NIR_CLE"}.get(fld.kind, "FORMAT")
        for message in error[wrong].unique():
            issues.add(wrong & (error == message), column, code, ERREUR,
                       f"{column} : {message} ; {TODO.get(code, TODO['FORMAT'])}")
        usable[fld.name] = (error == "") & (hires[column].fillna("").str.strip() != "")
    return usable


def _nir_cross_checks(issues: Issues, h: pd.DataFrame, ok: dict) -> None:
    nir = h["nir"].fillna("").str.upper()
    has_nir = ok["nir"]
    issues.add(nir == "", "nir", "NIR_ABSENT", AVERTISSEMENT,
               "NIR absent : la déclaration part sans NIR (salarié pas encore immatriculé) ; "
               "ajoutez-le dès qu'il est connu")
    sex_digit = nir.str[0]
    expected_sex = sex_digit.map({"1": "M", "2": "F"})
    issues.add(has_nir & ok["sexe"] & expected_sex.notna() & (expected_sex != h["sexe"]),
               "sexe", "NIR_SEXE", ERREUR,
               "le sexe ne correspond pas au 1er chiffre du NIR (1 homme, 2 femme) : vérifiez l'un "
               "ou l'autre")
    born = h["_date_naissance"]
    nir_month = pd.to_numeric(nir.str[3:5], errors="coerce")
    year_ok = pd.to_numeric(nir.str[1:3], errors="coerce") == born.dt.year % 100
    month_ok = (nir_month > 12) | (nir_month == born.dt.month)  # 20+ : month unknown
    issues.add(has_nir & ok["date_naissance"] & ~(year_ok & month_ok), "date_naissance",
               "NIR_NAISSANCE", ERREUR,
               "l'année/le mois de naissance ne correspondent pas aux chiffres 2 à 5 du NIR")
    dept = h["dept_naissance"].fillna("").str.upper()
    nir_dept = nir.str[5:7]
    same = (nir_dept == dept.str[:2]) | (dept.isin(["2A", "2B"]) & (nir_dept == "20"))
    same |= dept.str.startswith("97") & nir_dept.isin(["97", "98"])
    issues.add(has_nir & ok["dept_naissance"] & ~same, "dept_naissance", "NIR_DEPARTEMENT",
               ERREUR, "le département de naissance ne correspond pas aux chiffres 6-7 du NIR "
               "(99 : né à l'étranger)")


def _contract_checks(issues: Issues, h: pd.DataFrame, ok: dict) -> None:
    nature = h["nature_contrat"].fillna("").str.upper()
    has_end = h["date_fin"].fillna("").str.strip() != ""
    issues.add(ok["nature_contrat"] & (nature == "CDD") & ~has_end, "date_fin", "CDD_SANS_FIN",
               ERREUR, "CDD sans date de fin : indiquez la date de fin du contrat")
    issues.add(ok["nature_contrat"] & (nature == "CDI") & has_end, "date_fin", "CDI_AVEC_FIN",
               ERREUR, "un CDI n'a pas de date de fin : videz date_fin ou corrigez la nature")
    issues.add(ok["nature_contrat"] & (nature == "CTT") & ~has_end, "date_fin", "CTT_SANS_FIN",
               AVERTISSEMENT, "contrat de travail temporaire sans date de fin : indiquez-la si "
               "elle est connue")
    start, end = h["_date_embauche"], h["_date_fin"]
    issues.add(ok["date_embauche"] & ok["date_fin"] & (end < start), "date_fin",
               "FIN_AVANT_DEBUT", ERREUR, "la date de fin précède la date d'embauche")
    sst_missing = (h["employeur_code_sst"].fillna("").str.strip() == "") & (nature != "CTT")
    issues.add(h["employeur_connu"] & ok["nature_contrat"] & sst_missing, "employeur_code_sst",
               "SST_OBLIGATOIRE", ERREUR,
               "code du service de santé au travail manquant (obligatoire sauf intérim) : "
               "renseignez code_sst de l'employeur (MT999 pour un service autonome)")
    long_cdd = (nature == "CDD") & ok["date_fin"] & ok["date_embauche"] & (
        end > start + pd.DateOffset(months=6))
    needs_trial = ok["nature_contrat"] & ((nature == "CDI") | long_cdd)
    issues.add(needs_trial & (h["essai_jours"].fillna("").str.strip() == ""), "essai_jours",
               "ESSAI_OBLIGATOIRE", ERREUR,
               "durée de la période d'essai (en jours) obligatoire pour un CDI ou un CDD de plus "
               "de 6 mois")


def _text_checks(issues: Issues, h: pd.DataFrame) -> None:
    for column in ("nom", "nom_usage", "prenoms"):
        folded = ascii_upper(h[column])
        issues.add(~folded.str.fullmatch(NAME_CHARS), column, "CARACTERES", ERREUR,
                   f"{column} : seules les lettres, espaces, apostrophes, points, tirets et & "
                   "sont admis")
    for column, width in FLAT_WIDTHS.items():
        too_long = ascii_upper(h[column]).str.strip().str.len() > width
        issues.add(too_long, column, "TRONQUE", AVERTISSEMENT,
                   f"{column} dépasse {width} caractères : il sera tronqué dans dpae.txt")


def _timing_checks(issues: Issues, h: pd.DataFrame, ok: dict, now: datetime) -> None:
    codes, uniques = pd.factorize(h["heure_embauche"].fillna(""))
    offset = pd.to_timedelta(pd.Series(uniques, dtype="str") + ":00", errors="coerce")
    when = h["_date_embauche"] + pd.Series(offset.to_numpy()[codes], index=h.index)
    both = ok["date_embauche"] & ok["heure_embauche"]
    moment = pd.Timestamp(now.replace(tzinfo=None))
    issues.add(both & (moment >= when), "date_embauche", "DELAI_DEPASSE", ERREUR,
               f"embauche déjà commencée au {moment:%d/%m/%Y %H:%M} : la DPAE doit partir avant "
               "la prise de poste (régularisez sans attendre)")
    issues.add(both & (when - moment > DELAI_MAX), "date_embauche", "DELAI_TROP_TOT", ERREUR,
               "plus de 8 jours avant l'embauche : la DPAE ne peut pas encore être envoyée")


def _duplicate_checks(issues: Issues, h: pd.DataFrame, declared: pd.DataFrame) -> None:
    person = h["nir"].fillna("").str[:13].where(
        h["nir"].fillna("") != "", h["nom"].fillna("").str.upper() + "|" + h["date_naissance"])
    key = h["siret"] + "|" + person + "|" + h["date_embauche"] + "|" + h["heure_embauche"]
    issues.add(key.duplicated(keep="first"), "date_embauche", "DOUBLON", ERREUR,
               "embauche en double dans le fichier (même salarié, même date et heure)")
    if len(declared):
        issues.add(h["contrat_id"].isin(declared["contrat_id"]), "date_embauche", "DOUBLON",
                   ERREUR, "embauche déjà déclarée (même SIRET, salarié, date et heure) : "
                   "ne la renvoyez pas")


def validate(hires: pd.DataFrame, now: datetime, declared: pd.DataFrame,
             verdicts: pd.DataFrame | None = None) -> pd.DataFrame:
    """All issues of all hires; `declared` lists the contrat ids already declared; `verdicts`
    the per-column errors `normalise_hires` already found (same row order)."""
    h = hires.reset_index(drop=True)
    dates = ("date_naissance", "date_embauche", "date_fin")
    h = h.assign(**{f"_{column}": parse_day(h[column]) for column in dates})
    issues = Issues(h)
    known = None if verdicts is None else verdicts.reset_index(drop=True)
    ok = _field_checks(issues, h, HIRES.fields, "", pd.Series(True, index=h.index), known)
    issues.add(ok["siret"] & ~h["employeur_connu"], "siret", "EMPLOYEUR_INCONNU", ERREUR,
               "employeur absent du registre : importez-le (inbox/registre/employeurs….csv)")
    _field_checks(issues, h, EMPLOYEUR_FIELDS, "employeur_", h["employeur_connu"])
    _nir_cross_checks(issues, h, ok)  # ok["nir"]: filled and valid (key checked)
    _contract_checks(issues, h, ok)
    _text_checks(issues, h)
    _timing_checks(issues, h, ok, now)
    _duplicate_checks(issues, h, declared)
    table = issues.table()
    order = np.lexsort((table["champ"].to_numpy(), table["ligne"].fillna(0).to_numpy()))
    return table.iloc[order].reset_index(drop=True)
