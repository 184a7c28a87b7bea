"""The reports of a DSN's controls: `<stem>.controle_pas.csv` and `<stem>.embauches.csv`
(every row, NIR masked) and `<stem>.controle.html` (counts first, erreurs first, the CRM's
rate beside the DSN's); the Prefect table artifact per SIRET and month; the alerts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gedflow.formats.arrowtext import text_array
from gedflow.formats.csv_table import write_csv_to
from gedflow.fsutil import atomic_write, atomic_write_with
from gedflow.handler import CONTROL_EVENT, MISSING_DPAE_EVENT, Alert, Artifact, artifact_key
from gedflow.htmlreport import render, table
from schemas.dsn import CONTROLE_PAS_COLUMNS, EMBAUCHE_COLUMNS, ERREUR, GRAVITES, INFO

ARTIFACT_ROWS = 1000  # the UI gets the erreurs first; the files have every row
HTML_INFO_ROWS = 2000  # the page shows every erreur and avertissement, infos up to this
PAS_HEADINGS = {
    "siret": "SIRET", "matricule": "matricule", "nom": "nom", "prenoms": "prénoms",
    "date_versement": "versement", "taux_dsn": "taux DSN", "taux_crm": "taux CRM",
    "type_taux": "type", "identifiant_dsn": "identifiant DSN", "identifiant_crm": "identifiant CRM",
    "valide_jusqu_au": "CRM valable jusqu'au", "montant_soumis": "montant soumis",
    "montant_pas": "PAS", "montant_attendu": "PAS attendu", "code": "code", "gravite": "gravité",
    "message": "message"}
HIRE_HEADINGS = {
    "siret": "SIRET", "matricule": "matricule", "nom": "nom", "prenoms": "prénoms",
    "date_debut": "début", "nature_contrat": "nature", "numero_contrat": "contrat",
    "dpae_statut": "statut DPAE", "code": "code", "gravite": "gravité", "message": "message"}


def counts(pas: pd.DataFrame, hires: pd.DataFrame) -> pd.DataFrame:
    """Rows per gravité and code, erreurs first then by code (each column dictionary-encoded
    in Arrow, each pair counted by numpy)."""
    encoded = [pc.dictionary_encode(pa.chunked_array(
        [*text_array(pas[c]).chunks, *text_array(hires[c]).chunks], pa.large_string())
        .combine_chunks()) for c in ("gravite", "code")]
    (gravites, g), (codes, c) = ((e.dictionary.to_pylist(), e.indices.to_numpy()) for e in encoded)
    found = np.bincount(g.astype(np.int64) * len(codes) + c, minlength=len(gravites) * len(codes))
    pairs = np.flatnonzero(found)
    rank = {v: i for i, v in enumerate(GRAVITES)}
    rows = sorted((rank.get(gravites[p // len(codes)], len(rank)), gravites[p // len(codes)],
                   codes[p % len(codes)], str(found[p])) for p in pairs)
    return pd.DataFrame([r[1:] for r in rows], columns=["gravite", "code", "lignes"], dtype="str")


def _shown(rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The page's rows: every erreur and avertissement, then infos up to HTML_INFO_ROWS (the
    CSV has them all); and how many infos are left out."""
    info = (rows["gravite"] == INFO).to_numpy()
    kept = np.flatnonzero(~info | (np.cumsum(info) <= HTML_INFO_ROWS))
    return rows.iloc[kept], len(rows) - len(kept)


def write(pas: pd.DataFrame, hires: pd.DataFrame, folder: Path, stem: str, title: str) -> Path:
    """The three files, the page last (the CSVs written by a thread while the page is made:
    Arrow's writer and fsync leave the GIL); returns the page."""
    with ThreadPoolExecutor(1) as pool:
        written = [pool.submit(atomic_write_with, folder / f"{stem}.{name}.csv",
                               lambda handle, frame=rows[columns]: write_csv_to(frame, handle))
                   for name, rows, columns in (("controle_pas", pas, CONTROLE_PAS_COLUMNS),
                                               ("embauches", hires, EMBAUCHE_COLUMNS))]
        page = _page(pas, hires, stem, title)
        for csv in written:
            csv.result()
    return atomic_write(folder / f"{stem}.controle.html", page)


def _page(pas: pd.DataFrame, hires: pd.DataFrame, stem: str, title: str) -> str:
    (pas_rows, pas_hidden), (hire_rows, hires_hidden) = _shown(pas), _shown(hires)
    return render(
        "controle.html", title=title,
        counts=table(counts(pas, hires), {"gravite": "gravité", "code": "code",
                                          "lignes": "lignes"}, "gravite"),
        pas_count=len(pas), pas=table(pas_rows, PAS_HEADINGS, "gravite"),
        pas_hidden=pas_hidden, hires_count=len(hires),
        hires=table(hire_rows, HIRE_HEADINGS, "gravite"), hires_hidden=hires_hidden,
        csv=f"{stem}.controle_pas.csv", hires_csv=f"{stem}.embauches.csv")


def artifacts(pas: pd.DataFrame, hires: pd.DataFrame, month: str) -> list[Artifact]:
    """One table per SIRET and month (`dsn-controle-<siret>-<yyyy>-<mm>`), erreurs first."""
    both = pd.concat([pas.assign(controle="pas"), hires.assign(controle="embauche")],
                     ignore_index=True).fillna("")
    rank = both["gravite"].map({g: i for i, g in enumerate(GRAVITES)})
    both = both.iloc[rank.argsort(kind="stable")]
    shown = ["controle", "matricule", "nom", "date_versement", "taux_dsn", "taux_crm",
             "date_debut", "dpae_statut", "code", "gravite", "message"]
    return [Artifact(key=artifact_key("dsn-controle", siret, month), kind="table",
                     data=rows[shown].head(ARTIFACT_ROWS).to_dict("records"),
                     description=f"Contrôle DSN {month}, SIRET {siret}")
            for siret, rows in both.groupby("siret", sort=True) if siret]


def alerts(pas: pd.DataFrame, hires: pd.DataFrame, name: str) -> list[Alert]:
    """A control with an erreur; hires without DPAE (no NIR in either)."""
    found = []
    errors = pd.concat([pas, hires], ignore_index=True)
    errors = errors[errors["gravite"] == ERREUR]
    if len(errors):
        found.append(Alert(CONTROL_EVENT, {
            "fichier": name, "erreurs": len(errors),
            "codes": ", ".join(sorted(errors["code"].unique()))}))
    missing = hires[hires["code"] == "DPAE_MANQUANTE"]
    if len(missing):
        found.append(Alert(MISSING_DPAE_EVENT, {
            "fichier": name, "nombre": len(missing),
            "matricules": ", ".join(missing["matricule"].head(20))}))
    return found
