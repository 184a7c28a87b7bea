"""The test de préparation report: `preparation.csv` (ligne;siret;matricule;nom;champ;code;
gravite;message) and `preparation.html`, in French, telling the user what to change."""

from __future__ import annotations

import html
from pathlib import Path

from gedflow.dpae.prepare import Preparation, report_csv
from gedflow.dpae.validate import ISSUE_COLUMNS
from gedflow.fsutil import atomic_write
from gedflow.htmlreport import table

STYLE = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#eee}"
         "tr.erreur{background:#fde2e1}tr.avertissement{background:#fff4d6}")


def write_reports(result: Preparation, title: str) -> tuple[Path, Path]:
    csv_path = atomic_write(result.folder / "preparation.csv", report_csv(result.issues))
    files = "".join(f"<li>{html.escape(name)}</li>" for name in result.files)
    page = "\n".join([
        f"<!doctype html><html lang='fr'><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{STYLE}</style><body><h1>{html.escape(title)}</h1>",
        f"<p>{len(result.hires)} embauche(s) · <b>{result.errors} erreur(s)</b> · "
        f"{result.warnings} avertissement(s)</p>",
        f"<p>{html.escape(result.note)}</p>",
        f"<ul>{files}</ul>" if files else "",
        "<p>Corrigez chaque erreur dans le fichier d'embauches (colonne <i>champ</i>) ou dans "
        "le registre (champs <i>employeur_…</i>), puis redéposez le fichier.</p>"
        if result.errors else "",
        table(result.issues, {c: c for c in ISSUE_COLUMNS}, "gravite"),
        "</body></html>",
    ])
    return csv_path, atomic_write(result.folder / "preparation.html", page)
