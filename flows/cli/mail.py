"""`gedflow mail import-mapibox`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import RootOption, console, fail, settings_or_exit

app = typer.Typer(help="Envoi des déclarations par e-mail.")


@app.command("import-mapibox")
def mail_import_mapibox(
    file: Annotated[Path, typer.Argument(help="Le fichier mapibox.cfg du poste.")],
    root: RootOption = None,
) -> None:
    """Reprend profil, destinataire, sujet et note d'un mapibox.cfg dans gedflow.toml [mail]."""
    from gedflow.errors import GedflowError
    from gedflow.mail import read_mapibox, write_mail_section

    settings = settings_or_exit(root)
    try:
        values = read_mapibox(file.read_bytes())
    except (GedflowError, OSError) as exc:
        raise fail(exc) from exc
    write_mail_section(settings.root / "gedflow.toml", values)
    for key, value in values.items():
        console.print(f"✓ {key} = {value}")
