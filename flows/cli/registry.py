"""`gedflow registry show`: the dossiers, their employers and salariés (NIR masked)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from flows.cli.common import RootOption, console, registry_or_exit, settings_or_exit

app = typer.Typer(help="Le registre des dossiers, employeurs et salariés.")


@app.command("show")
def registry_show(
    dossier_code: Annotated[str | None, typer.Option("--dossier", help="Un dossier.")] = None,
    root: RootOption = None,
) -> None:
    """Affiche les dossiers, leurs employeurs et leurs salariés (NIR masqués)."""

    settings = settings_or_exit(root)
    with registry_or_exit(settings) as conn:
        if dossier_code is None:
            _show_dossiers(conn)
        else:
            _show_dossier(conn, dossier_code)


def _show_dossiers(conn: Any) -> None:
    from rich.table import Table

    from gedflow.registry.show import dossiers

    table = Table(title="Dossiers")
    for col in ("dossier", "phase", "employeurs", "salariés"):
        table.add_column(col)
    rows = dossiers(conn)
    for row in rows:
        table.add_row(*(str(v) for v in row))
    console.print(table)


def _show_dossier(conn: Any, code: str) -> None:
    from rich.table import Table

    from gedflow.errors import GedflowError
    from gedflow.masking import masked
    from gedflow.registry.show import dossier_rows

    try:
        rows = dossier_rows(conn, code)
    except GedflowError as exc:
        console.print(f"[red]✗ {exc}[/red]")
        raise typer.Exit(2) from exc
    table = Table(title=f"Dossier {code}")
    for col in ("siret", "raison sociale", "matricule", "nom", "prénoms", "nir", "taux", "type",
                "dernier taux appliqué (DSN)"):
        table.add_column(col)
    for r in rows:
        applied_text = (f"{r.applique} ({r.type_dsn}) le {r.date_versement:%d/%m/%Y}"
                        if r.applique is not None and r.date_versement else r.applique or "")
        table.add_row(r.siret, r.raison_sociale, r.matricule or "", r.nom or "", r.prenoms or "",
                      masked(r.nir or ""), r.taux_pas or "", r.type_taux or "", applied_text)
    console.print(table)
