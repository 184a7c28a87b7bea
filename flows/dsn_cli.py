"""`gedflow dsn lire FICHIER`: read a DSN and say what it holds and what could not be read,
changing nothing (the check a payroll manager runs before dropping or depositing it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from flows.cli_common import console, fail

dsn_app = typer.Typer(help="DSN mensuelle : lecture (sans rien modifier).")


@dsn_app.command("lire")
def dsn_lire(file: Annotated[Path, typer.Argument(help="Le fichier DSN.")]) -> None:
    """Lit la DSN : déclarations, effectifs, problèmes de lecture (NIR masqués) ; ne modifie
    rien. Code de sortie 1 s'il y a des problèmes de lecture."""
    from gedflow.dsn.read import view
    from gedflow.errors import GedflowError
    from gedflow.formats import dsn as dsn_format

    try:
        read = dsn_format.read(file.read_bytes())
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
