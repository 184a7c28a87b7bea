"""What every `gedflow` command shares: the console, the --root option, settings and folders."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from gedflow.errors import GedflowError, RegistryUnreachable
from gedflow.fsutil import make_dirs, protect
from gedflow.settings import INBOX_FOLDERS, OUTBOX_FOLDERS, PARIS, Settings, load_settings

T = TypeVar("T")

# Off a terminal (pipes, logs, CI), print wide tables rather than folding every cell.
console = Console(width=None if sys.stdout.isatty() else 160)

RootOption = Annotated[
    Path | None,
    typer.Option("--root", help="Racine de gedflow (défaut : GEDFLOW_ROOT ou le dépôt)."),
]


def fail(exc: GedflowError) -> typer.Exit:
    """Print the error and give the exit to raise (code 2: the command could not be done)."""
    console.print(f"[red]✗ {exc}[/red]")
    return typer.Exit(2)


@contextmanager
def registry_or_exit(settings: Settings) -> Iterator[Any]:
    """A read-only command's registry connection (`gedflow.db.reading`); a registry that does
    not answer is said plainly, exit code 2."""
    from gedflow.db.reading import reading

    try:
        with reading(settings.registry_url) as conn:
            yield conn
    except RegistryUnreachable as exc:
        raise fail(exc) from exc


def settings_or_exit(root: Path | None) -> Settings:
    try:
        return load_settings(root)
    except GedflowError as exc:
        raise fail(exc) from exc


def create_folders(settings: Settings) -> None:
    """The GED folders (protected as the policy says: owner-only, or the team's group) and
    the private state (always owner-only)."""
    for rel in INBOX_FOLDERS:
        make_dirs(settings.inbox / rel)
    for rel in OUTBOX_FOLDERS:
        make_dirs(settings.outbox / rel)
    for path in [settings.inbox, settings.outbox, *settings.inbox.rglob("*"),
                 *settings.outbox.rglob("*")]:
        protect(path)  # what an earlier version, or a copy, left wider
    for private in (settings.state_dir, settings.gnupg_home):
        private.mkdir(parents=True, exist_ok=True)
        private.chmod(0o700)


def parse_day(text: str) -> date:
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=PARIS).date()
        except ValueError:
            continue
    raise typer.BadParameter(f"{text!r} : date JJ/MM/AAAA attendue")


def as_flow(settings: Settings, call: Callable[[], T]) -> T:
    """`call()` (a flow) against the Prefect API (the local server, started when needed), so
    that the UI shows what the command changed."""
    from contextlib import ExitStack

    from flows.prefect_env import LazyApi, configure

    create_folders(settings)
    configure(settings)
    with ExitStack() as stack:
        LazyApi(stack, settings).ensure()
        return call()
