"""The `gedflow` command line: one module per sub-app. Each command imports what it uses when
it runs, so that `gedflow --help` imports neither pandas, SQLAlchemy nor Prefect; Prefect is
imported only by commands that run flows, after `prefect_env.configure` has set its environment
(home under `.gedflow/`, local server or ephemeral mode).
"""

from __future__ import annotations

import sys

import typer

from flows.cli import base, crm, dpae, dsn, keys, mail, portal, registry, service
from flows.cli.common import create_folders

app = typer.Typer(help="gedflow : la paperasse de la paie, automatisée.", no_args_is_help=True)
app.command()(base.init)
app.command()(base.run)
app.command(name="transfer")(base.transfer_cmd)
for command in (service.serve, service.watch, service.status, portal.doctor):
    app.command()(command)
app.add_typer(registry.app, name="registry")
app.add_typer(crm.app, name="crm")
app.add_typer(dpae.app, name="dpae")
app.add_typer(keys.app, name="keys")
app.add_typer(mail.app, name="mail")
app.add_typer(service.server_app, name="server")
app.add_typer(portal.credentials_app, name="credentials")
app.add_typer(dsn.dsn_app, name="dsn")
app.add_typer(portal.offline_app, name="offline")

__all__ = ["app", "create_folders", "main"]


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
