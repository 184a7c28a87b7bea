"""`gedflow keys import|list`: the recipients' OpenPGP keys."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import RootOption, console, fail, registry_or_exit, settings_or_exit
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
    from gedflow.dpae.phases import assign_key
    from gedflow.errors import GedflowError

    settings = settings_or_exit(root)
    try:
        fingerprints = import_key(settings.gnupg_home, file.read_bytes())
        if dossier_code:
            with migrate(settings.registry_url).begin() as conn:
                assign_key(conn, dossier_code, fingerprints[0], definitive)
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

    from gedflow.crypto import list_keys
    from gedflow.dpae.phases import key_uses

    settings = settings_or_exit(root)
    with registry_or_exit(settings) as conn:
        uses = key_uses(conn)
    table = Table(title="Clés OpenPGP")
    for column in ("empreinte", "identité", "expire", "état", "dossiers"):
        table.add_column(column, overflow="fold")
    now = datetime.now(PARIS)
    for key in list_keys(settings.gnupg_home):
        users = [f"{code} ({'test' if test == key.fingerprint else 'définitive'})"
                 for code, test, final in uses if key.fingerprint in (test, final)]
        state = ("[red]révoquée[/]" if key.revoked else "[red]expirée[/]"
                 if key.expires and key.expires <= now else "[green]valide[/]")
        table.add_row(key.fingerprint, ", ".join(key.uids),
                      f"{key.expires:%d/%m/%Y}" if key.expires else "jamais", state,
                      ", ".join(users))
    console.print(table)
