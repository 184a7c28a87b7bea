"""DPAE throughput: 100,000 hires checked (test de préparation) and written as dpae.txt, against a
naive per-record implementation of the same rules and the same writer, measured in the same run.

Prints hires/s for both; last line `ratio=X.XX` (naive time ÷ ours; target ≥ 10).
Usage: python benchmarks/dpae.py [HIRES]
"""

from __future__ import annotations

import re
import sys
import time
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from stdnum import luhn
from stdnum.fr import nir as stdnum_nir
from stdnum.fr import siret as stdnum_siret

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gedflow.checks import nir_key  # noqa: E402
from gedflow.dpae.build import flat_records  # noqa: E402
from gedflow.dpae.prepare import normalise_hires  # noqa: E402
from gedflow.dpae.validate import validate  # noqa: E402
from gedflow.formats import dpae_flat  # noqa: E402
from schemas.dpae import CONTRACT_CODES, FLAT_LAYOUT, Flat  # noqa: E402

NOW = datetime(2025, 3, 3, 10, 15)  # noqa: DTZ001 - Paris wall-clock time


def make_hires(n: int) -> pd.DataFrame:
    """Valid synthetic hires joined to their employer (as `prepare` has them)."""
    rng = np.random.default_rng(3)
    body = [f"81{i:011d}" for i in range(100)]
    sirets = np.array([b + luhn.calc_check_digit(b) for b in body])
    sex = rng.integers(1, 3, n)
    year, month = rng.integers(60, 99, n), rng.integers(1, 13, n)
    nir13 = pd.Series([f"{s}{y:02d}{m:02d}69{o:06d}" for s, y, m, o in
                       zip(sex, year, month, np.arange(n) % 999_999 + 1, strict=True)])
    start = NOW + timedelta(days=3)
    cdd = np.arange(n) % 3 == 0
    return pd.DataFrame({
        "siret": sirets[np.arange(n) % 100], "matricule": [f"M{i:07d}" for i in range(n)],
        "nom": "DUPONT", "nom_usage": "", "prenoms": "Jeanne Marie",
        "sexe": np.where(sex == 1, "M", "F"), "nir": nir13 + nir_key(nir13),
        "date_naissance": [f"15/{m:02d}/19{y:02d}" for y, m in zip(year, month, strict=True)],
        "lieu_naissance": "Lyon", "dept_naissance": "69",
        "date_embauche": start.strftime("%d/%m/%Y"), "heure_embauche": "08:30",
        "nature_contrat": np.where(cdd, "CDD", "CDI"),
        "date_fin": np.where(cdd, (start + timedelta(days=60)).strftime("%d/%m/%Y"), ""),
        "essai_jours": np.where(cdd, "", "30"),
        "ligne": pd.array(np.arange(n) + 2, dtype="Int64"),
        "employeur_connu": True, "employeur_raison_sociale": "ASSOCIATION DES TILLEULS",
        "employeur_ape": "8899B", "employeur_adresse1": "12 RUE DES TILLEULS",
        "employeur_adresse2": "", "employeur_code_postal": "69003", "employeur_ville": "LYON",
        "employeur_telephone": "0472000001", "employeur_code_urssaf": "697",
        "employeur_code_sst": "MT348", "employeur_email_ar": "paie@tilleuls.example",
        "contrat_id": pd.array(np.arange(n) + 1, dtype="Int64"), "dossier_phase": "production",
    }).astype({c: "str" for c in ("siret", "matricule", "sexe", "nir", "date_naissance",
                                   "nature_contrat", "date_fin", "essai_jours")})


def ours(hires: pd.DataFrame) -> tuple[int, int]:
    h, verdicts = normalise_hires(hires)
    issues = validate(h, NOW, pd.DataFrame({"contrat_id": []}), verdicts)
    good = h[~h.index.isin(issues.loc[issues["gravite"] == "erreur", "_row"])]
    data = dpae_flat.write(flat_records(good, "120", NOW))
    return len(issues), len(data)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()


FORMATS = {
    "sexe": re.compile(r"[MF]"), "dept_naissance": re.compile(r"0[1-9]|1\d|2[1-9]|[3-8]\d|9[0-5]"
                                                              r"|2A|2B|97[1-6]|99"),
    "heure_embauche": re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d"),
    "nature_contrat": re.compile(r"CDI|CDD|CTT"), "essai_jours": re.compile(r"\d{0,3}"),
    "date_naissance": re.compile(r"\d{2}/\d{2}/\d{4}"), "matricule": re.compile(r"\S+"),
    "employeur_ape": re.compile(r"\d{4}[A-Z]"), "employeur_code_postal": re.compile(r"\d{5}"),
    "employeur_telephone": re.compile(r"\d{1,11}"), "employeur_code_urssaf": re.compile(r"\S{1,3}"),
    "employeur_email_ar": re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+"),
}
NAME = re.compile(r"[A-Z&' .\-]*")
WIDTHS = {"nom": 32, "prenoms": 32, "nom_usage": 32, "lieu_naissance": 24}


def naive(hires: pd.DataFrame) -> tuple[int, int]:
    """One hire at a time: the same rules, stdnum per value, the record built field by field."""
    issues, lines, seen = [], [], set()
    for row in hires.to_dict("records"):
        problems = []
        for column, pattern in FORMATS.items():
            if str(row[column]) and not pattern.fullmatch(str(row[column]).strip()):
                problems.append((column, "FORMAT"))
        for column, width in WIDTHS.items():
            folded = _fold(str(row[column]).strip())
            if not NAME.fullmatch(folded) and column != "lieu_naissance":
                problems.append((column, "CARACTERES"))
            if len(folded) > width:
                issues.append((column, "TRONQUE"))
        key = (row["siret"], row["nir"][:13], row["date_embauche"], row["heure_embauche"])
        if key in seen:
            problems.append(("date_embauche", "DOUBLON"))
        seen.add(key)
        for column in ("nom", "prenoms", "sexe", "date_naissance", "lieu_naissance",
                       "dept_naissance", "date_embauche", "heure_embauche", "nature_contrat"):
            if not str(row[column]).strip():
                problems.append((column, "OBLIGATOIRE"))
        if not stdnum_siret.is_valid(row["siret"]):
            problems.append(("siret", "SIRET_INVALIDE"))
        nir = row["nir"]
        if nir and not stdnum_nir.is_valid(nir):
            problems.append(("nir", "NIR_CLE"))
        born = datetime.strptime(row["date_naissance"], "%d/%m/%Y")  # noqa: DTZ007
        if nir and (nir[0] != {"M": "1", "F": "2"}[row["sexe"]]):
            problems.append(("sexe", "NIR_SEXE"))
        if nir and nir[1:5] != born.strftime("%y%m"):
            problems.append(("date_naissance", "NIR_NAISSANCE"))
        if nir and nir[5:7] != row["dept_naissance"][:2]:
            problems.append(("dept_naissance", "NIR_DEPARTEMENT"))
        start = datetime.strptime(row["date_embauche"] + " " + row["heure_embauche"],  # noqa: DTZ007
                                  "%d/%m/%Y %H:%M")
        if row["nature_contrat"] == "CDD" and not row["date_fin"]:
            problems.append(("date_fin", "CDD_SANS_FIN"))
        if row["date_fin"] and datetime.strptime(row["date_fin"], "%d/%m/%Y") < start:  # noqa: DTZ007
            problems.append(("date_fin", "FIN_AVANT_DEBUT"))
        if not row["employeur_code_sst"] and row["nature_contrat"] != "CTT":
            problems.append(("employeur_code_sst", "SST_OBLIGATOIRE"))
        if row["nature_contrat"] == "CDI" and not row["essai_jours"]:
            problems.append(("essai_jours", "ESSAI_OBLIGATOIRE"))
        if NOW >= start or start - NOW > timedelta(days=8):
            problems.append(("date_embauche", "DELAI"))
        issues.extend(problems)
        if problems:
            continue
        values = {
            "L_IDENT_EMT": row["siret"], "C_APPLICATION": "DUE",
            "C_ADR_RET_AR": row["employeur_email_ar"], "N_LG_MESS": "917", "C_VERSION": "120",
            "LIBRE": f"GEDFLOW-{row['contrat_id']}", "D_CREATION": NOW.strftime("%d%m%Y"),
            "H_CREATION": NOW.strftime("%H%M"), "C_URSSAF": row["employeur_code_urssaf"],
            "N_SIRET": row["siret"], "L_RAISON_SOC_1": _fold(row["employeur_raison_sociale"]),
            "L_ADR_EMP_1": _fold(row["employeur_adresse1"]),
            "C_POSTAL_EMP": row["employeur_code_postal"],
            "L_BUR_DIST_EMP": _fold(row["employeur_ville"]),
            "L_NOM_PATRO_SAL": _fold(row["nom"]), "L_PRENOMS_SAL": _fold(row["prenoms"]),
            "N_SECU_SOC": nir[:13], "D_NAISSANCE_SAL": row["date_naissance"].replace("/", ""),
            "L_LIEU_NAISS_SAL": _fold(row["lieu_naissance"]),
            "D_EMBAUCHE": row["date_embauche"].replace("/", ""),
            "H_EMBAUCHE": row["heure_embauche"].replace(":", ""),
            "N_TEL_EMP": row["employeur_telephone"], "C_NAF_NN": row["employeur_ape"],
            "C_SEXE_SAL": row["sexe"], "C_DEPT_NAISS_SAL": row["dept_naissance"],
            "C_TYPE_CONTRAT": CONTRACT_CODES[row["nature_contrat"]],
            "D_FIN_CDD": row["date_fin"].replace("/", ""), "N_JJ_ESSAI": row["essai_jours"],
            "C_MT_DCL": row["employeur_code_sst"],
        }
        line = ""
        for fld in FLAT_LAYOUT:
            value = values.get(fld.column, "")
            line += (value.zfill(fld.length) if fld.kind is Flat.NUM and value
                     else value.ljust(fld.length))
        lines.append(line)
    return len(issues), len(("\n".join(lines) + "\n").encode("iso-8859-1"))


def timed(fn, hires: pd.DataFrame) -> tuple[float, tuple[int, int]]:
    start = time.perf_counter()
    result = fn(hires)
    return time.perf_counter() - start, result


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    hires = make_hires(n)
    naive_time, naive_result = timed(naive, hires)
    ours_time, ours_result = min(timed(ours, hires) for _ in range(3))  # first run warms Arrow
    assert naive_result[1] == ours_result[1], (naive_result, ours_result)  # same bytes written
    print(f"{n:,} hires, {ours_result[1] / 1e6:.0f} MB of dpae.txt")
    print(f"naive per-record : {naive_time:6.2f} s  {n / naive_time:>9,.0f} hires/s")
    print(f"gedflow          : {ours_time:6.2f} s  {n / ours_time:>9,.0f} hires/s")
    print(f"ratio={naive_time / ours_time:.2f}")


if __name__ == "__main__":
    main()
