"""CRM reports: `<stem>.rapprochement.csv` (fixed columns), `<stem>.rapprochement.html` (for the
payroll manager: counts first, differences first, registry rate beside the CRM rate) and, for a
CRM financier, `<stem>.anomalies.csv`. All files are created owner-only (personal data).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from gedflow.crm.integrate import Decision
from gedflow.crm.reconcile import REPORT_COLUMNS, STATUTS
from gedflow.formats.crm import Crm
from gedflow.formats.csv_table import to_csv_text, write_csv_to
from gedflow.fsutil import atomic_write, atomic_write_with
from gedflow.htmlreport import render, table

HTML_CONFORME_ROWS = 2000
ANOMALY_COLUMNS = ["siret", "periode", "identifiant_crm", "code", "categorie", "message"]
LABELS = {
    "invalide": "valeur inutilisable dans le fichier (voir le code)",
    "modifie": "taux modifié (nouveau taux enregistré)",
    "nouveau": "premier taux (enregistré)",
    "futur": "taux futur daté (enregistré)",
    "sans_taux": "aucun taux transmis (grille par défaut)",
    "inconnu_registre": "personne absente du registre",
    "absent_crm": "salarié absent du CRM",
    "anomalie": "anomalie signalée par la DGFiP",
    "conforme": "taux identique",
}


def counts(rows: pd.DataFrame) -> dict[str, int]:
    found = rows["statut"].value_counts()
    return {s: int(found.get(s, 0)) for s in STATUTS}


def write_csv(rows: pd.DataFrame, path: Path) -> Path:
    return atomic_write_with(path, lambda handle: write_csv_to(rows[REPORT_COLUMNS], handle))


def write_anomalies(crm: Crm, path: Path) -> Path:
    periods = crm.declarations.set_index("decl")["periode"]
    table = crm.anomalies.assign(periode=crm.anomalies["decl"].map(periods),
                                 identifiant_crm=crm.identifiant)
    return atomic_write(path, to_csv_text(table[ANOMALY_COLUMNS]))


PROBLEM_HEADINGS = {"anomalie_code": "code", "siret": "SIRET", "matricule": "matricule",
                    "nir_masque": "NIR", "taux_crm": "valeur",
                    "anomalie_message": "où, et ce qui est fait"}


def write_html(
    rows: pd.DataFrame, crm: Crm, decisions: list[Decision], title: str, notes: list[str],
    path: Path,
) -> Path:
    """Unusable values, then every difference, then conforme rows up to HTML_CONFORME_ROWS (the
    CSV has them all)."""
    # `rows` come sorted by SIRET and matricule: a stable sort on the rank keeps that order.
    rang = rows["_rang"].to_numpy()
    conforme = np.flatnonzero(rang == STATUTS.index("conforme"))
    differences = np.flatnonzero(rang != STATUTS.index("conforme"))
    differences = differences[np.argsort(rang[differences], kind="stable")]
    ordered = rows.iloc[np.concatenate([differences, conforme[:HTML_CONFORME_ROWS]])]
    hidden = max(0, len(conforme) - HTML_CONFORME_ROWS)
    if hidden:
        notes = [*notes, f"{hidden} ligne(s) conforme(s) de plus figurent dans le fichier CSV."]
    tally = counts(rows)
    summary = pd.DataFrame(
        [{"statut": s, "libelle": LABELS[s], "nombre": n} for s, n in tally.items()]
    )
    integration = pd.DataFrame([d.__dict__ for d in decisions])
    problems = rows.iloc[differences[rang[differences] == STATUTS.index("invalide")]]
    page = render(
        "crm_rapprochement.html", title=title, identifiant=crm.identifiant,
        declarations=len(crm.declarations), personnes=len(crm.salaries), notes=notes,
        problems=table(problems, PROBLEM_HEADINGS, "statut") if len(problems) else "",
        summary=table(summary, {"statut": "statut", "libelle": "signification",
                                "nombre": "nombre"}, "statut"),
        integration=table(integration, {"siret": "SIRET", "periode": "période",
                                        "statut": "statut", "raison": "détail",
                                        "personnes": "personnes", "sans_taux": "sans taux"},
                          "statut"),
        detail=table(ordered, {
            "siret": "SIRET", "matricule": "matricule", "nom": "nom", "prenoms": "prénoms",
            "nir_masque": "NIR", "taux_registre": "taux registre", "taux_crm": "taux CRM",
            "statut": "statut", "date_effet": "date d'effet", "valide_jusqu_au": "valide jusqu'au",
            "anomalie_code": "code", "anomalie_message": "à faire / message",
        }, "statut"),
    )
    return atomic_write(path, page)


def write_reports(rows: pd.DataFrame, crm: Crm, decisions: list[Decision], title: str,
                  notes: list[str], folder: Path, stem: str) -> Path:
    """`<stem>.rapprochement.csv` and `.html`, written side by side (both mostly in Arrow,
    outside the GIL); the CSV's path."""
    with ThreadPoolExecutor(2) as pool:
        csv = pool.submit(write_csv, rows, folder / f"{stem}.rapprochement.csv")
        page = pool.submit(write_html, rows, crm, decisions, title, notes,
                           folder / f"{stem}.rapprochement.html")
        page.result()
        return csv.result()


def markdown_summary(title: str, rows: pd.DataFrame, decisions: list[Decision],
                     notes: list[str]) -> str:
    lines = [f"# {title}", ""]
    lines += [f"- {s} : {n}" for s, n in counts(rows).items() if n]
    lines += ["", "| SIRET | période | intégration | détail |", "|---|---|---|---|"]
    lines += [f"| {d.siret} | {d.periode} | {d.statut} | {d.raison} |" for d in decisions]
    lines += ["", *notes]
    return "\n".join(lines)
