"""`gedflow serve`, `gedflow watch`, `gedflow status`, `gedflow server stop`.

Prefect is imported only inside the commands, once `configure` has set its environment and the
server to use is known (the local one, started here if needed, or a remote PREFECT_API_URL).
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from flows.cli.common import RootOption, console, create_folders, settings_or_exit
from gedflow.errors import GedflowError
from gedflow.settings import PARIS

if TYPE_CHECKING:
    from gedflow.settings import Settings

server_app = typer.Typer(help="Le serveur Prefect local (interface, planification).")


@contextmanager
def _prefect_for_service(settings: Settings) -> Iterator[str]:
    """The API the service runs against: a remote PREFECT_API_URL as given, else the local
    server (reused, or started as a child and stopped at the end)."""
    from flows.prefect_env import configure
    from flows.server import local_server
    from gedflow.db.engine import migrate

    create_folders(settings)
    migrate(settings.registry_url)
    configure(settings)
    url = os.environ.get("PREFECT_API_URL", "")
    if url and url != settings.api_url:
        yield url
        return
    with local_server(settings, dict(os.environ), supervise=True) as local:
        os.environ["PREFECT_API_URL"] = local
        yield local


def _signals_interrupt() -> None:
    """SIGTERM and SIGINT (even when the launching shell ignored it) stop the service cleanly."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def serve(root: RootOption = None) -> None:
    """Le service : serveur Prefect local, déploiements planifiés, watcher (Ctrl-C arrête tout)."""
    import httpx

    from flows.server import server_log
    settings = settings_or_exit(root)
    _signals_interrupt()
    try:
        with _prefect_for_service(settings) as url:
            from flows.alerts import alert_log
            from flows.service import serve_all

            console.print(f"✓ Prefect : {url.removesuffix('/api')} (interface web)")
            console.print(f"✓ watcher sur {settings.inbox}")
            for name, cron in settings.schedules.items():
                console.print(f"✓ déploiement {name} : « {cron} » ({settings.planif_fuseau})")
            console.print("✓ alertes (exécution en échec, quarantaine) : "
                          + (settings.service_notification
                             or f"journal {alert_log(settings)}"))
            serve_all(settings)
    except KeyboardInterrupt:
        pass
    except (GedflowError, OSError, httpx.HTTPError) as exc:  # said plainly, never a traceback
        console.print(f"[red]✗ service arrêté : {exc}[/]")
        console.print(f"  journal du serveur Prefect : {server_log(settings)}")
        raise typer.Exit(2) from exc
    console.print("service arrêté")


def watch(root: RootOption = None) -> None:
    """Surveille l'inbox et traite chaque fichier complet (sans les tâches planifiées)."""
    import httpx

    settings = settings_or_exit(root)
    _signals_interrupt()
    try:
        with _prefect_for_service(settings):
            from flows.service import watch_only

            console.print(f"✓ watcher sur {settings.inbox} (Ctrl-C pour arrêter)")
            watch_only(settings)
    except KeyboardInterrupt:
        pass
    except (GedflowError, OSError, httpx.HTTPError) as exc:
        console.print(f"[red]✗ watcher arrêté : {exc}[/]")
        raise typer.Exit(2) from exc
    console.print("watcher arrêté")


def _age(iso: str) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds()


def _watcher_lines(settings: Settings) -> list[str]:
    from gedflow.heartbeat import read_heartbeat
    from gedflow.procs import pid_alive

    beat = read_heartbeat(settings)
    if beat is None or not beat.beat_at:
        return ["✗ watcher : jamais démarré (gedflow serve ou gedflow watch)"]
    age = _age(beat.beat_at)
    alive = age <= 2 * beat.period_seconds + 10 and (
        beat.host != socket.gethostname() or pid_alive(beat.pid))
    mark = "✓" if alive else "✗"
    state = "actif" if alive else "arrêté"
    lines = [f"{mark} watcher : {state}, dernier signe de vie il y a {age:.0f} s "
             f"(pid {beat.pid}, observateur {beat.observer}, {beat.sweeps} balayages, "
             f"{beat.files} fichiers)"]
    if beat.errors:
        lines.append(f"  ⚠ {beat.errors} balayage(s) en erreur ; dernier : {beat.last_error}")
    if beat.observer_restarts:
        lines.append(f"  ⚠ observateur redémarré {beat.observer_restarts} fois")
    return lines


def _health_lines(settings: Settings) -> list[str]:
    """What is degraded, and since when (incidents said without Prefect)."""
    from flows import pending
    from gedflow.health import INCIDENTS, open_incidents

    lines = [f"✗ dégradé ({name}) depuis {found['depuis']} : {INCIDENTS[name]} — "
             f"{found['detail']}" for name, found in sorted(open_incidents(settings).items())]
    waiting = len(pending.waiting(settings))
    if waiting:
        lines.append(f"  ⚠ {waiting} lot(s) de résultats traités sans Prefect, publiés à son "
                     "retour")
    return lines


def _inbox_lines(settings: Settings) -> list[str]:
    from gedflow.inbox import scan

    pending = scan(settings)
    by_kind: dict[str, int] = {}
    for p in pending:
        by_kind[p.kind] = by_kind.get(p.kind, 0) + 1
    settling = sum(not p.complete for p in pending)
    claimed = sum(len(files) for _d, _s, files in os.walk(settings.processing))
    detail = ", ".join(f"{kind} {n}" for kind, n in sorted(by_kind.items())) or "vide"
    return [f"• inbox : {len(pending)} fichier(s) en attente ({detail}), "
            f"{settling} en cours d'écriture, {claimed} en traitement"]


def _ledger_lines(settings: Settings, conn: Any) -> list[str]:
    from gedflow.crm.taux import expiring
    from gedflow.dpae.suivi import overdue, undeclared
    from gedflow.inbox import outcome_counts

    counts = outcome_counts(conn)
    line = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "aucun fichier"
    lines = [f"• fichiers traités : {line}"]
    if counts.get("quarantined"):
        lines.append(f"  ⚠ voir {settings.quarantine} (raison dans <fichier>.reason.txt)")
    today = datetime.now(PARIS).date()
    late, pending, rates = overdue(conn, today), undeclared(conn, today), expiring(conn, today)
    lines.append(f"• DPAE : {len(late)} sans AR après 5 jours ouvrés, "
                 f"{len(pending)} embauche(s) à déclarer "
                 f"({sum(row['en_retard'] for row in pending)} en retard)")
    lines.append(f"• taux PAS : {len(rates)} expiré(s) ou expirant dans 15 jours")
    return lines


def _connexion_lines(settings: Settings, conn: Any) -> list[str]:
    from gedflow.crm.retrieved import retrieved_until
    from gedflow.portal import offline
    from gedflow.portal.credentials import CredentialStore

    state = offline.status(settings)
    lines = [f"⚠ mode assistance actif depuis {state['depuis']} : rien ne sort de la machine"
             if state else "• Net-Entreprises : en ligne (gedflow doctor teste l'accès)"]
    users = CredentialStore(settings).users()
    last = retrieved_until(conn)
    if not users:
        lines.append("  aucun identifiant Net-Entreprises : gedflow credentials set")
    for user in users:
        when = last.get(user)
        lines.append(f"  {user} : CRM récupérés jusqu'au {when:%d/%m/%Y %H:%M} UTC" if when
                     else f"  {user} : aucune récupération de CRM")
    return lines


def status(root: RootOption = None) -> None:
    """L'état de tout : serveur Prefect, processus de fond, watcher, inbox, fichiers traités,
    suivis."""
    from flows import runner
    from flows.server import open_to_network, server_answers, server_log
    from gedflow.db.reading import hide_password, reading
    from gedflow.errors import RegistryUnreachable

    settings = settings_or_exit(root)
    create_folders(settings)
    console.print(f"• racine : {settings.root}")
    console.print(f"• registre : {hide_password(settings.registry_url)}")
    if server_answers(settings.api_url):
        console.print(f"✓ Prefect : {settings.api_url.removesuffix('/api')} (interface web)")
    remote = os.environ.get("PREFECT_API_URL", "")
    if remote and remote != settings.api_url:
        exposed = open_to_network(remote)
        console.print(f"✗ Prefect : {exposed}" if exposed else f"✓ Prefect distant : {remote}")
    elif not server_answers(settings.api_url):
        console.print(f"✗ Prefect : aucun serveur sur {settings.api_url} "
                      f"(gedflow serve le démarre ; journal : {server_log(settings)})")
    background = runner.running(settings)
    if background is not None:
        console.print(f"• processus de fond de gedflow run : actif (pid {background} ; "
                      f"journal : {settings.state_dir / 'logs' / 'runner.log'} ; "
                      "arrêt : gedflow server stop)")
    lines = [*_watcher_lines(settings), *_health_lines(settings), *_inbox_lines(settings)]
    try:
        with reading(settings.registry_url) as conn:
            lines += [*_ledger_lines(settings, conn), *_connexion_lines(settings, conn)]
    except RegistryUnreachable as exc:  # the rest is still worth showing
        lines.append(f"✗ {exc}")
    for line in lines:
        console.print(line)


@server_app.command("stop")
def server_stop(root: RootOption = None) -> None:
    """Arrête le serveur Prefect local et le processus de fond laissés par `gedflow run`."""
    from flows import runner
    from flows.server import stop_background_server

    settings = settings_or_exit(root)
    if runner.stop(settings):
        console.print("✓ processus de fond de gedflow run arrêté")
    if stop_background_server(settings):
        console.print(f"✓ serveur Prefect arrêté ({settings.api_url})")
    else:
        console.print("aucun serveur Prefect en arrière-plan pour cette racine")
