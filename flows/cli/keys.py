"""`gedflow keys import|list`: the recipients' OpenPGP keys."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import RootOption, console, fail, settings_or_exit
from gedflow.settings import PARIS

app = typer.Typer(help="Clés OpenPGP des destinataires (chiffrement des DPAE).")


@app.command("import")
def keys_import(
    file: Annotated[Path, typer.Argument(help="Clé publique OpenPGP (.asc ou binaire).")],
    dossier_code: Annotated[str | None, typer.Option("--dossier", help="Dossier qui l'utilise.")]
    = None,
    definitive: Annotated[bool, typer.Option("--definitive", help="Clé définitive.")] = False,
    root: RootOption = None,
) -> None:
    """Importe une clé publique dans le trousseau du projet (et l'attribue à un dossier)."""
    from gedflow.crypto import import_key
    from gedflow.db.engine import migrate
    from gedflow.db.tables import dossier
    from gedflow.dpae.phases import phase_of
    from gedflow.errors import GedflowError

    settings = settings_or_exit(root)
    try:
        fingerprints = import_key(settings.gnupg_home, file.read_bytes())
        if dossier_code:
            with migrate(settings.registry_url).begin() as conn:
                phase_of(conn, dossier_code)
                column = "cle_definitive" if definitive else "cle_test"
                conn.execute(dossier.update().where(dossier.c.code == dossier_code)
                             .values(**{column: fingerprints[0]}))
    except (GedflowError, OSError) as exc:
        raise fail(exc) from exc
    for fingerprint in fingerprints:
        console.print(f"✓ clé {fingerprint} importée")
    if dossier_code:
        kind = "définitive" if definitive else "de test"
        console.print(f"  clé {kind} du dossier {dossier_code}")


@app.command("list")
def keys_list(root: RootOption = None) -> None:
    """Les clés du trousseau, leur validité et les dossiers qui les utilisent."""
    from rich.table import Table
    from sqlalchemy import select

    from gedflow.crypto import list_keys
    from gedflow.db.engine import migrate
    from gedflow.db.tables import dossier

    settings = settings_or_exit(root)
    with migrate(settings.registry_url).connect() as conn:
        uses = conn.execute(select(dossier.c.code, dossier.c.cle_test,
                                   dossier.c.cle_definitive)).all()
    table = Table(title="Clés OpenPGP")
    for column in ("empreinte", "identité", "expire", "état", "dossiers"):
        table.add_column(column, overflow="fold")
    now = datetime.now(PARIS)
    for key in list_keys(settings.gnupg_home):
        users = [f"{u.code} ({'test' if u.cle_test == key.fingerprint else 'définitive'})"
                 for u in uses if key.fingerprint in (u.cle_test, u.cle_definitive)]
        state = ("[red]révoquée[/]" if key.revoked else "[red]expirée[/]"
                 if key.expires and key.expires <= now else "[green]valide[/]")
        table.add_row(key.fingerprint, ", ".join(key.uids),
                      f"{key.expires:%d/%m/%Y}" if key.expires else "jamais", state,
                      ", ".join(users))
    console.print(table)
