"""From checked hires to the two outbound forms of the declaration: the flat `dpae.txt` records
(`schemas.dpae.FLAT_LAYOUT`) and the `FR_DUE_Upload` XML (§3). Text for the flat file is ASCII
uppercase; a value longer than its zone is truncated (the test de préparation warned about it).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from lxml import etree

from gedflow.checks import nir_key, parse_dates
from gedflow.dpae.validate import ascii_upper
from gedflow.formats.xmlbuild import put
from gedflow.forms import rewrite
from schemas.dpae import (
    CONTRACT_CODES,
    FLAT,
    FLAT_WIDTHS,
    MESSAGE_LENGTH,
    XML_DUES,
    XML_EMPLOYEE,
    XML_EMPLOYEE_GROUP,
    XML_EMPLOYER,
    XML_EMPLOYER_GROUP,
    XML_NAMESPACES,
    XML_ROOT,
    XML_SEX_CODES,
    XML_TEST,
    XML_TEST_INDICATOR,
)
from schemas.fields import HH_MM, HHMM, JJ_MM_AAAA, JJMMAAAA

RECORD_ID_PREFIX = "GEDFLOW-"


def record_id(contrat_ids: pd.Series) -> pd.Series:
    """Our stable id in the LIBRE zone, so an AR record matches its contrat exactly."""
    return RECORD_ID_PREFIX + contrat_ids.astype("int64").astype(str)


def _fit(values: pd.Series, width: int) -> pd.Series:
    return ascii_upper(values).str.strip().str.slice(0, width).str.rstrip()


def flat_records(hires: pd.DataFrame, version: str, created: datetime) -> pd.DataFrame:
    """One record per (valid, normalised) hire; columns are FLAT_LAYOUT zones."""
    h = hires
    nature = h["nature_contrat"]
    name = ascii_upper(h["employeur_raison_sociale"]).str.strip()
    first = FLAT["L_RAISON_SOC_1"].length  # the rest goes to L_RAISON_SOC_2
    with_end = nature.isin(["CDD", "CTT"])
    return pd.DataFrame({
        "L_IDENT_EMT": h["siret"],
        "C_APPLICATION": "DUE",
        "C_ADR_RET_AR": h["employeur_email_ar"],
        "N_LG_MESS": str(MESSAGE_LENGTH),
        "C_VERSION": version,
        "LIBRE": record_id(h["contrat_id"]),
        "D_CREATION": created.strftime(JJMMAAAA.pattern),
        "H_CREATION": created.strftime(HHMM.pattern),
        "C_URSSAF": h["employeur_code_urssaf"],
        "N_SIRET": h["siret"],
        "L_RAISON_SOC_1": name.str.slice(0, first).str.rstrip(),
        "L_RAISON_SOC_2": name.str.slice(first, first + FLAT["L_RAISON_SOC_2"].length).str.strip(),
        "L_ADR_EMP_1": _fit(h["employeur_adresse1"], FLAT_WIDTHS["employeur_adresse1"]),
        "L_ADR_EMP_2": _fit(h["employeur_adresse2"], FLAT_WIDTHS["employeur_adresse2"]),
        "C_POSTAL_EMP": h["employeur_code_postal"],
        "L_BUR_DIST_EMP": _fit(h["employeur_ville"], FLAT_WIDTHS["employeur_ville"]),
        "L_NOM_PATRO_SAL": _fit(h["nom"], FLAT_WIDTHS["nom"]),
        "L_PRENOMS_SAL": _fit(h["prenoms"], FLAT_WIDTHS["prenoms"]),
        "N_SECU_SOC": h["nir"].fillna("").str.slice(0, 13),
        "D_NAISSANCE_SAL": rewrite(h["date_naissance"], JJ_MM_AAAA, JJMMAAAA),
        "L_LIEU_NAISS_SAL": _fit(h["lieu_naissance"], FLAT_WIDTHS["lieu_naissance"]),
        "D_EMBAUCHE": rewrite(h["date_embauche"], JJ_MM_AAAA, JJMMAAAA),
        "H_EMBAUCHE": rewrite(h["heure_embauche"], HH_MM, HHMM),
        "N_TEL_EMP": h["employeur_telephone"],
        "C_NAF_NN": h["employeur_ape"],
        "L_NOM_EPX_SAL": _fit(h["nom_usage"], FLAT_WIDTHS["nom_usage"]),
        "C_SEXE_SAL": h["sexe"],
        "C_DEPT_NAISS_SAL": h["dept_naissance"].str.slice(0, 2),  # overseas 971… → 97
        "C_TYPE_CONTRAT": nature.map(CONTRACT_CODES),
        "D_FIN_CDD": rewrite(h["date_fin"], JJ_MM_AAAA, JJMMAAAA).where(with_end, ""),
        "N_JJ_ESSAI": h["essai_jours"].fillna(""),
        "C_MT_DCL": h["employeur_code_sst"].fillna(""),
    }, index=h.index)


def _iso_text(values: pd.Series) -> pd.Series:
    return parse_dates(values).fillna("")


def _xml_columns(h: pd.DataFrame) -> pd.DataFrame:
    nir = h["nir"].fillna("").str.slice(0, 13)
    has_nir = nir.str.len() == 13
    return h.assign(
        x_raison_sociale=h["employeur_raison_sociale"].str.strip().str.slice(0, 32),
        x_adresse1=h["employeur_adresse1"].str.slice(0, 32),
        x_adresse2=h["employeur_adresse2"].fillna("").str.slice(0, 32),
        x_ville=h["employeur_ville"].str.slice(0, 32),
        x_nom=_fit(h["nom"], 32), x_nom_usage=_fit(h["nom_usage"], 32),
        x_prenoms=_fit(h["prenoms"], 32), x_lieu=_fit(h["lieu_naissance"], 32),
        x_sexe=h["sexe"].map(XML_SEX_CODES),
        x_nir13=nir.where(has_nir, ""),
        x_nir_cle=nir_key(nir.where(has_nir, "1000000000000")).where(has_nir, ""),
        x_naissance=_iso_text(h["date_naissance"]),
        x_debut=_iso_text(h["date_embauche"]),
        x_heure=h["heure_embauche"] + ":00",
        x_fin=_iso_text(h["date_fin"]).where(h["nature_contrat"] != "CDI", ""),
        x_dept=h["dept_naissance"].str.slice(0, 2),
    )


def _fill(element: etree._Element, paths, row: dict) -> None:
    for path, column, empty in paths:
        value = row.get(column) or ""
        if value or empty == "keep":
            put(element, path, value, XML_NAMESPACES)


def xml_message(hires: pd.DataFrame, version: str) -> bytes:
    """The FR_DUE_Upload message: one FR_DuesGroup per employer, one FR_EmployeeGroup per hire."""
    root = etree.Element(XML_ROOT, nsmap=XML_NAMESPACES)
    etree.SubElement(root, XML_TEST).text = XML_TEST_INDICATOR[version]
    for _siret, group in _xml_columns(hires).groupby("siret", sort=False):
        dues = etree.SubElement(root, XML_DUES)
        _fill(etree.SubElement(dues, XML_EMPLOYER_GROUP), XML_EMPLOYER, group.iloc[0].to_dict())
        for row in group.to_dict("records"):
            _fill(etree.SubElement(dues, XML_EMPLOYEE_GROUP), XML_EMPLOYEE, row)
    return etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1", pretty_print=True)
