"""The connection test ("tester l'accès aux serveurs"): one ✓/✗ line per endpoint with the
reason in plain French. An authentication endpoint passes only if the user's credentials are
accepted; the API DSN's returns are listed for a real (empty) window, so a refused date format
shows; the others pass when the server answers (without a token, a refusal is expected).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from gedflow.errors import GedflowError
from gedflow.portal import offline
from gedflow.portal.credentials import CONCENTRATOR, CredentialError, CredentialStore, Identifiants
from gedflow.portal.dsn_api import EDGE, LISTING_REASONS, STAMP, DsnApi, windows
from gedflow.portal.http import Connexion, Portal, PortalError
from gedflow.portal.session import Session
from gedflow.settings import Settings

AUTH, LISTING, REACH = "auth", "listing", "reach"
# (label, settings field, how it is tested)
ENDPOINTS = (
    ("Authentification API DSN", "connexion_dsn_authentification", AUTH),
    ("Dépôt API DSN", "connexion_dsn_depot", REACH),
    ("Retours API DSN", "connexion_dsn_retours", LISTING),
    ("Authentification API DPAE", "connexion_dpae_authentification", AUTH),
    ("Dépôt API DPAE", "connexion_dpae_depot", REACH),
    ("Retours API DPAE", "connexion_dpae_retours", REACH),
)
PROBE = timedelta(minutes=1)  # the listing's window: the minute before the retrieval's edge
REACHABLE = "serveur joignable"


@dataclass(frozen=True)
class Check:
    nom: str
    url: str
    ok: bool
    detail: str


@dataclass
class Diagnostic:
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


def _probe_window(settings: Settings) -> tuple[datetime, datetime]:
    end = datetime.now(UTC) - EDGE
    return end - PROBE, end


def _url(settings: Settings, name: str) -> str:
    [(debut, fin)] = windows(*_probe_window(settings), settings.zone)
    return getattr(settings, name).format(debut=debut.strftime(STAMP), fin=fin.strftime(STAMP))


def _unreached(exc: PortalError) -> bool:
    """No answer from the server itself: network, proxy, overload or server error."""
    return exc.status is None or exc.status in (407, 429) or exc.status >= 500


def _reach(portal: Portal, label: str, url: str, reasons: dict[int, str] | None = None) -> Check:
    """Passes when the server answers; a status `reasons` words (the call's own refusal, such
    as dates refused) fails."""
    try:
        portal.request("GET", url, tries=1, reasons=reasons)
    except PortalError as exc:
        if _unreached(exc) or exc.status in (reasons or {}):
            return Check(label, url, False, exc.reason)
        return Check(label, url, True, f"{REACHABLE} (HTTP {exc.status} sans jeton : normal)")
    return Check(label, url, True, REACHABLE)


def _credentials(settings: Settings, user: str) -> Identifiants | CredentialError:
    """The user's credentials, or why there are none (read once per test)."""
    try:
        return CredentialStore(settings).load(user)
    except CredentialError as exc:
        return exc


def _authenticate(portal: Portal, label: str, url: str, user: str,
                  who: Identifiants | CredentialError) -> Check:
    if isinstance(who, CredentialError):
        reached = _reach(portal, label, url)
        return replace(reached, ok=False, detail=f"{reached.detail} ; {who}")
    try:
        Session(portal, url, who, user).login()
    except PortalError as exc:
        if _unreached(exc):
            return Check(label, url, False, exc.reason)
        return Check(label, url, False, f"{REACHABLE}, mais {exc.reason}")
    return Check(label, url, True, f"identifiants de {user} acceptés")


def _listing(portal: Portal, settings: Settings, label: str, url: str, user: str,
             who: Identifiants | CredentialError) -> Check:
    """The declarant's returns over a real one-minute window: with the user's credentials
    when they are accepted, else without (the server checks the dates first); the
    authentication's own line says why it failed."""
    if isinstance(who, CredentialError) or who.service == CONCENTRATOR:
        return _reach(portal, label, url, LISTING_REASONS)
    session = Session(portal, settings.connexion_dsn_authentification, who, user)
    try:
        session.login()
    except PortalError:
        return _reach(portal, label, url, LISTING_REASONS)
    try:
        found = DsnApi(session, settings.connexion_dsn_retours, settings.zone).list_returns(
            *_probe_window(settings))
    except PortalError as exc:
        return Check(label, url, False, exc.reason if _unreached(exc) else
                     f"{REACHABLE}, mais {exc.reason}")
    return Check(label, url, True, f"liste des retours lue (fenêtre d'une minute : "
                                   f"{len(found)} retour(s))")


def _proxy(settings: Settings) -> Check:
    where = f"{settings.connexion_proxy_hote}:{settings.connexion_proxy_port}"
    try:
        socket.create_connection((settings.connexion_proxy_hote, settings.connexion_proxy_port),
                                 timeout=settings.connexion_delai).close()
    except OSError as exc:
        return Check("Proxy", where, False, f"proxy injoignable ({exc.strerror or exc})")
    return Check("Proxy", where, True, "proxy joignable")


def diagnose(settings: Settings, user: str | None = None) -> Diagnostic:
    """Test every endpoint (no retry: the answer the user would get now)."""
    who = user or settings.connexion_utilisateur
    result = Diagnostic()
    if not settings.connexion_securise:
        result.warnings.append("vérification TLS DÉSACTIVÉE ([connexion] securise = false) : "
                               "n'importe quel serveur peut se faire passer pour Net-Entreprises")
    if offline.status(settings) is not None:
        result.checks = [Check(label, getattr(settings, name), False,
                               f"non testé : {offline.MESSAGE}")
                         for label, name, _kind in ENDPOINTS]
        return result
    if settings.connexion_mode == "proxy":
        result.checks.append(_proxy(settings))
    connexion = replace(Connexion.from_settings(settings), essais=1)
    credentials = _credentials(settings, who)
    with Portal(settings, connexion) as portal:
        for label, name, kind in ENDPOINTS:
            url = _url(settings, name)
            try:
                check = (_authenticate(portal, label, url, who, credentials) if kind == AUTH
                         else _listing(portal, settings, label, url, who, credentials)
                         if kind == LISTING else _reach(portal, label, url))
            except GedflowError as exc:
                check = Check(label, url, False, str(exc))
            result.checks.append(check)
    return result


def test_credentials(settings: Settings, user: str) -> list[Check]:
    """Authenticate `user` against both APIs."""
    connexion = replace(Connexion.from_settings(settings), essais=1)
    credentials = _credentials(settings, user)
    with Portal(settings, connexion) as portal:
        return [_authenticate(portal, label, getattr(settings, name), user, credentials)
                for label, name, kind in ENDPOINTS if kind == AUTH]
