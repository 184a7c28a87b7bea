"""`gedflow dsn lire FICHIER`: read a DSN and say what it holds and what could not be read,
changing nothing (the check a payroll manager runs before dropping or depositing it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from flows.cli.common import RootOption, console, fail, settings_or_exit

dsn_app = typer.Typer(help="DSN mensuelle : lecture et contrôle (sans rien modifier).")


@dsn_app.command("lire")
def dsn_lire(file: Annotated[Path, typer.Argument(help="Le fichier DSN.")]) -> None:
    """Lit la DSN : déclarations, effectifs, problèmes de lecture (NIR masqués) ; ne modifie
    rien. Code de sortie 1 s'il y a des problèmes de lecture."""
    from gedflow.dsn.read import view
    from gedflow.errors import GedflowError
    from gedflow.formats import dsn as dsn_format

    try:
        read = dsn_format.read_path(file)
    except (GedflowError, OSError) as exc:
        raise fail(exc) from exc
    seen = view(read)
    table = Table(title=f"DSN {file.name} ({read.lines} lignes, {read.encoding})")
    for col in ("SIRET", "mois", "nature", "type", "essai/réel", "individus"):
        table.add_column(col)
    for d in seen.declarations.to_dict("records"):
        table.add_row(d["siret"], d["mois"], d["nature"], d["type"],
                      "réel" if d["reel"] else "test", str(d["individus"]))
    console.print(table)
    console.print(f"• {len(seen.contrats)} contrat(s), {len(seen.versements)} versement(s)")
    for note in read.warnings:
        console.print(f"[yellow]⚠ {note}[/]")
    if read.problems.empty:
        console.print("✓ aucun problème de lecture")
        return
    for p in read.problems.head(50).to_dict("records"):
        console.print(f"✗ ligne {p['ligne']} {p['rubrique']} « {p['valeur']} » : {p['code']} — "
                      f"{p['message']}", highlight=False)
    if len(read.problems) > 50:
        console.print(f"… et {len(read.problems) - 50} autre(s)")
    raise typer.Exit(1)


@dsn_app.command("controle")
def dsn_controle(
    file: Annotated[Path, typer.Argument(help="Le fichier DSN.")],
    sortie: Annotated[Path | None, typer.Option(
        "--sortie", help="Dossier où écrire controle_pas.csv, embauches.csv et "
                         "controle.html.")] = None,
    root: RootOption = None,
) -> None:
    """Contrôle la DSN contre les CRM et les DPAE du registre, sans l'importer (avant de la
    déposer) : taux PAS, identifiants, montants, versement DGFiP, embauches sans DPAE.
    Code de sortie 1 s'il y a une erreur."""
    import pandas as pd

    from gedflow.db.engine import migrate
    from gedflow.dsn import controle, report
    from gedflow.dsn.registre import read_with_registry
    from gedflow.errors import GedflowError

    settings = settings_or_exit(root)
    engine = migrate(settings.registry_url)
    try:
        seen, registre = read_with_registry(file, engine, settings.cache)
    except (GedflowError, OSError) as exc:
        raise fail(exc) from exc
    pas, hires = controle.controls(seen, registre)
    table = Table(title=f"Contrôle DSN {file.name}")
    for col in ("gravité", "code", "lignes"):
        table.add_column(col)
    for row in report.counts(pas, hires).to_dict("records"):
        table.add_row(row["gravite"], row["code"], row["lignes"])
    console.print(table)
    found = pd.concat([pas.assign(quoi=pas["date_versement"]),
                       hires.assign(quoi=hires["date_debut"])], ignore_index=True)
    shown = found[found["gravite"] != "info"]
    for r in shown.head(50).to_dict("records"):
        mark = "✗" if r["gravite"] == "erreur" else "⚠"
        console.print(f"{mark} {r['siret']} {r['matricule']} {r['nom']} {r['quoi']} : "
                      f"{r['code']} — {r['message']}", highlight=False)
    if len(shown) > 50:
        console.print(f"… et {len(shown) - 50} autre(s)")
    if sortie is not None:
        page = report.write(pas, hires, sortie, file.stem, f"Contrôle DSN — {file.stem}")
        console.print(f"• rapports : {page.parent}")
    if (found["gravite"] == "erreur").any():
        raise typer.Exit(1)
    console.print("✓ aucune erreur")
