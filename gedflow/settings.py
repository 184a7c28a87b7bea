"""One typed settings object: defaults, then `gedflow.toml` at the root, then `GEDFLOW_*` env vars.

The root defaults to the checkout (the folder holding `pyproject.toml` above this package) and can
be moved with `GEDFLOW_ROOT` or the command line's `--root`.
"""

from __future__ import annotations

import grp
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gedflow.errors import ConfigError
from gedflow.fsutil import set_group
from gedflow.kinds import INBOX_KINDS

PARIS = ZoneInfo("Europe/Paris")  # the payroll's time zone: dates of hire, of availability

CHECKOUT = Path(__file__).resolve().parent.parent
STATE_DIR = ".gedflow"

# Inbox folders mirror the GED layout; each is watched and dispatched to the flow of its kind
# (gedflow/kinds.py declares them).
INBOX_FOLDERS = tuple(k.folder for k in INBOX_KINDS)
OUTBOX_FOLDERS = (*(k.outbox for k in INBOX_KINDS if k.outbox), "archive", "quarantine")
# Sections of gedflow.toml → the prefix of their keys in `Settings`.
SECTIONS = {"gedflow": "", "mail": "mail_", "service": "service_", "planification": "planif_",
            "connexion": "connexion_"}


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know; build it with `load_settings`."""

    root: Path
    database_url: str = ""
    settle_seconds: float = 2.0
    max_wait_seconds: float = 120.0
    user: str = field(default_factory=lambda: os.environ.get("USER", "administrateur"))
    # The payroll team's group when it shares the GED folder: what gedflow writes is then
    # readable by that group (0640 / 0750); empty: owner-only (0600 / 0700).
    groupe: str = ""
    # A dropped file larger than this is quarantined before any parsing (no input may take
    # memory or disk beyond a bound).
    taille_max_mo: int = 4096
    # CRM: availability date (AAAA-MM-JJ) when not the file's date; hold threshold (0–1).
    crm_disponibilite: str = ""
    crm_seuil_sans_taux: float = 0.5
    # DPAE: mode test (nothing sent) or reel; flat | xml | both; the flat file's charset and
    # line ends (lf | crlf); the reference time of the 8-day rule (AAAA-MM-JJTHH:MM, else now).
    dpae_mode: str = "test"
    dpae_format: str = "flat"
    dpae_encodage: str = "iso-8859-1"
    dpae_fin_de_ligne: str = "lf"
    dpae_maintenant: str = ""
    # E-mail sending (section [mail] of gedflow.toml, e.g. from `gedflow mail import-mapibox`):
    # the seed's mapibox.cfg keys, then SMTP. The password never goes here: it comes from the
    # environment (GEDFLOW_SMTP_MOT_DE_PASSE) or the credential store.
    mail_profil: str = ""
    mail_a: str = ""
    mail_sujet: str = "DPAE"
    mail_note: str = ""
    mail_expediteur: str = ""
    mail_smtp_hote: str = ""
    mail_smtp_port: int = 25
    mail_smtp_starttls: bool = False
    mail_smtp_utilisateur: str = ""
    # API DPAE (dpae_canal = "api"): the declarant's credentials come from the credential store
    # (`gedflow credentials set`); the bilan is polled `api_essais` times every `api_intervalle` s.
    dpae_canal: str = "email"
    api_essais: int = 60
    api_intervalle: float = 10.0
    # Net-Entreprises access (section [connexion]): direct | proxy | systeme (the environment's
    # proxies); the proxy (its password from GEDFLOW_PROXY_MOT_DE_PASSE, never from here); TLS
    # verification (off only for a test bench, with a loud warning); timeout, tries for 429/5xx;
    # whose credentials the service uses; the endpoints, official defaults.
    connexion_mode: str = "direct"
    connexion_proxy_hote: str = ""
    connexion_proxy_port: int = 3128
    connexion_proxy_utilisateur: str = ""
    connexion_securise: bool = True
    connexion_delai: float = 30.0
    connexion_essais: int = 3
    connexion_attente: float = 2.0
    connexion_utilisateur: str = "administrateur"
    connexion_dsn_authentification: str = "https://services.net-entreprises.fr/authentifier/1.0/"
    connexion_dsn_depot: str = "https://depot.dsnrg.net-entreprises.fr/deposer-dsn/1.0/"
    # The returns of the declarant over one window (at most 60 min, 10 for a concentrator):
    # {debut} and {fin} are replaced by AAAAMMJJHHMMSS in the `fuseau` time zone below.
    connexion_dsn_retours: str = ("https://consultation.dsnrg.net-entreprises.fr/"
                                  "lister-retours-declarant/2.0/{debut}/{fin}")
    connexion_dpae_authentification: str = "https://mon.urssaf.fr/authentifier_dpae"
    connexion_dpae_depot: str = "https://depot.dpae-edi.urssaf.fr/deposer-dsn/1.0/"
    connexion_dpae_retours: str = ("https://consultation.dpae-edi.urssaf.fr/"
                                   "lister-retours-flux/2.0/")
    # First CRM retrieval: how many days back; later ones start where the last one ended.
    connexion_depuis_jours: int = 31
    # The servers' clock: window dates and publication stamps are local times of this zone
    # (the official mock uses its server's local time; no source settles the real servers').
    connexion_fuseau: str = "Europe/Paris"
    # The running service (section [service]): the local Prefect server's port, the watcher's
    # observer (inotify | polling: network shares have no inotify) and full-sweep period, how
    # many scheduled runs may run at once.
    service_port: int = 4200
    service_observateur: str = "inotify"
    service_balayage_secondes: float = 30.0
    service_limite: int = 4
    # The notification block of the alerts (failed runs, quarantined files): `<type>/<nom>` of
    # a block saved in Prefect (e.g. `slack-webhook/paie`); empty: log-only (alertes.log).
    service_notification: str = ""
    # Incidents of the service (Prefect, the registry database or the disk away, sweeps failing
    # `echecs_balayage` times in a row) also go to this address, with the [mail] SMTP settings.
    service_alerte_email: str = ""
    service_echecs_balayage: int = 3
    # Where the CRM files of a run are parsed: "threads" (in the flow's process, one after the
    # other) or "dask" (spread over the Dask cluster at `dask_adresse`, tcp://hote:8786; one
    # period after the other, the files of a period in parallel; use a PostgreSQL registry).
    service_executeur: str = "threads"
    service_dask_adresse: str = ""
    # A one-off `gedflow run` hands its run to a background process that keeps the imports
    # warm (flows/runner.py), started by the first run; false: every run on its own.
    service_processus_de_fond: bool = True
    # Schedules (section [planification]): cron expressions in `planif_fuseau`.
    planif_fuseau: str = "Europe/Paris"
    planif_balayage_inbox: str = "*/5 * * * *"
    planif_suivi_dpae: str = "0 8 * * 1-5"
    planif_expiration_taux: str = "30 7 * * *"
    planif_recuperation_crm: str = "0 * * * 1-5"

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def processing(self) -> Path:
        """Claimed files live here while a flow works on them (same file system as the inbox)."""
        return self.state_dir / "processing"

    @property
    def archive(self) -> Path:
        return self.outbox / "archive"

    @property
    def quarantine(self) -> Path:
        return self.outbox / "quarantine"

    @property
    def cache(self) -> Path:
        """Columnar copies of the registry (`gedflow.registry.snapshot`)."""
        return self.state_dir / "cache"

    @property
    def prefect_home(self) -> Path:
        return self.state_dir / "prefect"

    @property
    def schedules(self) -> dict[str, str]:
        """Served deployment → its cron expression (in `planif_fuseau`)."""
        return {
            "balayage-inbox": self.planif_balayage_inbox,
            "suivi-dpae": self.planif_suivi_dpae,
            "expiration-taux": self.planif_expiration_taux,
            "recuperation-crm": self.planif_recuperation_crm,
        }

    @property
    def api_url(self) -> str:
        """The local Prefect server's API (started by `gedflow serve` / `gedflow run`)."""
        return f"http://127.0.0.1:{self.service_port}/api"

    @property
    def gnupg_home(self) -> Path:
        return self.state_dir / "gnupg"

    @property
    def zone(self) -> ZoneInfo:
        """The Net-Entreprises servers' time zone (`[connexion] fuseau`)."""
        return ZoneInfo(self.connexion_fuseau)

    @property
    def registry_url(self) -> str:
        """The registry's SQLAlchemy URL: PostgreSQL when configured, else the embedded SQLite."""
        return self.database_url or f"sqlite:///{self.state_dir / 'registry.sqlite'}"


def _coerce(name: str, raw: object, kind: type) -> object:
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() not in ("1", "0", "true", "false", "oui", "non"):
                raise ValueError(raw)
            return str(raw).lower() in ("1", "true", "oui")
        if kind in (float, int):
            return kind(raw)  # type: ignore[call-arg]
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r}: {raw!r} is not a valid {kind.__name__}") from exc


# Settings with a fixed set of values: a typo is an error, not a silent default.
CHOICES = {
    "dpae_mode": ("test", "reel"),
    "dpae_format": ("flat", "xml", "both"),
    "dpae_fin_de_ligne": ("lf", "crlf"),
    "dpae_canal": ("email", "api"),
    "service_observateur": ("inotify", "polling"),
    "service_executeur": ("threads", "dask"),
    "connexion_mode": ("direct", "proxy", "systeme"),
}


def load_settings(root: Path | str | None = None) -> Settings:
    """Settings for `root` (else `GEDFLOW_ROOT`, else the checkout)."""
    base = Path(root or os.environ.get("GEDFLOW_ROOT") or CHECKOUT).resolve()
    values: dict[str, object] = {}
    toml_path = base / "gedflow.toml"
    if toml_path.exists():
        try:
            data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{toml_path}: {exc}") from exc
        for section, prefix in SECTIONS.items():
            values.update({f"{prefix}{key}": value for key, value in data.get(section, {}).items()})
    types = {"float": float, "int": int, "bool": bool}
    kinds = {f.name: types.get(str(f.type), str) for f in fields(Settings)}
    for name in kinds:
        env = os.environ.get(f"GEDFLOW_{name.upper()}")
        if env is not None:
            values[name] = env
    unknown = sorted(set(values) - set(kinds) - {"root"})
    if unknown:
        raise ConfigError(f"{toml_path}: unknown setting(s): {', '.join(unknown)}")
    values.pop("root", None)
    kinds.pop("root", None)
    typed = {name: _coerce(name, raw, kinds[name]) for name, raw in values.items()}
    for name, allowed in CHOICES.items():
        if name in typed and typed[name] not in allowed:
            raise ConfigError(f"setting {name!r}: {typed[name]!r} is not one of "
                              + ", ".join(allowed))
    settings = replace(Settings(root=base), **typed)
    if settings.groupe:
        try:
            grp.getgrnam(settings.groupe)
        except KeyError as exc:
            raise ConfigError(f"setting 'groupe': no group {settings.groupe!r} here") from exc
    set_group(settings.groupe)
    try:
        ZoneInfo(settings.connexion_fuseau)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise ConfigError(f"setting 'connexion_fuseau': {settings.connexion_fuseau!r} is not a "
                          "time zone (e.g. Europe/Paris, UTC)") from exc
    return settings
