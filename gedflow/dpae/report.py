"""The test de préparation report: `preparation.csv` (ligne;siret;matricule;nom;champ;code;
gravite;message) and `preparation.html`, in French, telling the user what to change."""

from __future__ import annotations

from pathlib import Path

from gedflow.dpae.prepare import Preparation, report_csv
from gedflow.dpae.validate import ISSUE_COLUMNS
from gedflow.fsutil import atomic_write
from gedflow.htmlreport import render, table


def write_reports(result: Preparation, title: str) -> tuple[Path, Path]:
    csv_path = atomic_write(result.folder / "preparation.csv", report_csv(result.issues))
    page = render("dpae_preparation.html", title=title, hires=len(result.hires),
                  errors=result.errors, warnings=result.warnings, note=result.note,
                  files=list(result.files),
                  issues=table(result.issues, {c: c for c in ISSUE_COLUMNS}, "gravite"))
    return csv_path, atomic_write(result.folder / "preparation.html", page)
