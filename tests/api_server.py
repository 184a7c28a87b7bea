"""A local stand-in for Net-Entreprises / URSSAF on loopback, for tests only: the API DSN and
API DPAE authentication (token per login, optional expiry), the declarant's returns over windows
and their download, the API DPAE deposits and bilans. Switches force the documented errors (401,
403, 422, 429, 500), slow answers, expired tokens, returns listed twice and downloads cut
halfway; `tls` serves HTTPS with a self-signed certificate.

Where the GIP-MDS's own mock of the API DSN (`ArchitectureDSN/dsn-api`) settles a behaviour,
this double copies it, not our client: window dates `yyyyMMddHHmmss` in the server's local time
(422 otherwise), windows of 60 minutes at most (10 for a concentrator; 429 beyond), listing and
download refused (406) to a client whose `Accept-Encoding` lacks gzip, downloads served gzip,
`publication` stamps `yyyyMMddHHmmss`, the flux id as the `id` of every return of a deposit
(shared by natures), returns without `url`, 401 with realms, concentrators calling with
`DSNLogin concentrateur=…,declarant=<base64(siret;nom;prenom)>`. `singletons` sends a one-item
`flux`/`retour` as an object, as other clients report the real servers do.
"""

from __future__ import annotations

import base64
import gzip
import json
import ssl
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

from lxml import etree

SIRET = "12345678200010"
NOM, PRENOM = "DUPRE", "Jean"
PASSWORD = "Bon-Mot2Passe!"
STAMP = "%Y%m%d%H%M%S"  # the mock's DateUtils
CONCENTRATOR = ("18751249600022", "CTR2000", "concentrateur", "Azerty-98")
REJECTION = (b'<?xml version="1.0" encoding="UTF-8"?><gipmds:rapport type="ARE" profil="DPAE" '
             b'xmlns:gipmds="http://www.gip-mds.fr/"><envoi><envoi_bilan><envoi_etat>KO'
             b"</envoi_etat></envoi_bilan><envoi_anomalie><description><code>B1-105-15</code>"
             b"<message>Le format du fichier n'est pas reconnu.</message></description>"
             b"</envoi_anomalie></envoi></gipmds:rapport>")
REALM_TOKEN = 'DSNLogin realm="Jeton manquant ou invalide"'
REALM_UNREGISTERED = 'DSNLogin realm="Utilisateur non-inscrit au service"'


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime(STAMP)


class FakeNetEntreprises:
    def __init__(self, certificate: tuple[Path, Path] | None = None) -> None:
        self.mode = ""  # "" | "401" | "403" | "422" | "429" | "500" | "slow": every request
        self.fail_next: list[int] = []  # statuses answered to the next requests, then normal
        self.accounts = {SIRET: (NOM, PRENOM, PASSWORD)}
        self.concentrators = {CONCENTRATOR[0]: CONCENTRATOR[1:]}
        self.declarants = {f"{SIRET};{NOM};{PRENOM}"}  # whom a concentrator may act for
        self.unregistered: set[str] = set()  # SIRETs whose calls answer 401 "non-inscrit"
        self.zone = ZoneInfo("Europe/Paris")  # the server's local time
        self.singletons = False
        self.locked: set[str] = set()
        self.token_life: int | None = None  # authorised calls per token, then 401
        self.tokens: dict[str, int] = {}
        self.token_siret: dict[str, str] = {}
        self.concentrator_tokens: set[str] = set()
        self.user_agents: list[str] = []
        self.logins = 0
        self.returns: list[dict] = []  # {id, flux, nature, publication, body, url}
        self.listed_twice = False
        self.cut: set[str] = set()
        self.windows: list[tuple[str, str]] = []
        self.downloads: list[str] = []
        self.deposits: list[bytes] = []
        # Take the deposit, then "drop" the connection unanswered, or answer too "slow"ly.
        self.deposit_fault = ""
        self.rejected_names = {"BENALI"}  # their DPAE bilan is KO
        self.not_yet = 0  # listings of a DPAE flux answered 404 (no return yet) before the bilan
        self.requests: list[tuple[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.scheme = "http"
        if certificate:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*map(str, certificate))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def urls(self) -> dict[str, str]:
        """The `[connexion]` endpoint settings pointing here."""
        return {
            "dsn_authentification": f"{self.base}/authentifier/1.0/",
            "dsn_depot": f"{self.base}/deposer-dsn/1.0/",
            "dsn_retours": f"{self.base}/lister-retours-declarant/2.0/{{debut}}/{{fin}}",
            "dpae_authentification": f"{self.base}/authentifier_dpae",
            "dpae_depot": f"{self.base}/deposer-dsn/1.0/",
            "dpae_retours": f"{self.base}/lister-retours-flux/2.0/",
        }

    def add_return(self, retour_id: str, nature: str, publication: datetime, body: bytes,
                   flux: str | None = None, url: bool = True) -> None:
        """A return of the flux `flux` (default: `retour_id`); without `url`, listed with no
        document yet."""
        self.returns.append({"id": retour_id, "flux": flux or retour_id, "nature": nature,
                             "publication": publication, "body": body, "url": url})

    def __enter__(self) -> FakeNetEntreprises:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _login(self, body: bytes) -> tuple[int, bytes]:
        try:
            who = etree.fromstring(body)
        except etree.XMLSyntaxError:
            return 422, b"identifiants mal formes"
        siret = who.findtext("siret") or ""
        service = who.findtext("service")
        if len(siret) != 14 or service not in ("25", "26", "98"):
            return 422, b"identifiants mal formes"
        if siret in self.locked:
            return 403, b"compte bloque"
        given = (who.findtext("nom"), who.findtext("prenom"), who.findtext("motdepasse"))
        accounts = self.concentrators if service == "98" else self.accounts
        if accounts.get(siret) != given:
            return 401, b"identifiants invalides"
        self.logins += 1
        token = f"JETON-{self.logins:04d}"
        self.tokens[token] = self.token_life if self.token_life is not None else 10**9
        self.token_siret[token] = siret
        if service == "98":
            self.concentrator_tokens.add(token)
        return 200, token.encode()

    def _one_or_many(self, items: list) -> list | dict:
        return items[0] if self.singletons and len(items) == 1 else items

    def _listing(self, start: datetime, end: datetime) -> bytes:
        by_flux: dict[str, list[dict]] = {}
        for r in self.returns:
            published = r["publication"].astimezone(self.zone).replace(tzinfo=None)
            if start <= published < end:
                item = {"publication": _local(r["publication"], self.zone),
                        "production": _local(r["publication"], self.zone),
                        "nature": r["nature"], "statut": "OK", "id": r["flux"]}
                if r["url"]:
                    item["url"] = f"{self.base}/telecharger-retour/1.0/{r['flux']}/{r['id']}"
                by_flux.setdefault(r["flux"], []).append(item)
        flux = [{"id": key, "retour": self._one_or_many(items * (2 if self.listed_twice else 1))}
                for key, items in by_flux.items()]
        return json.dumps({"retours": {"flux": self._one_or_many(flux)}}).encode()

    def _bilan(self, idflux: str) -> bytes:
        number = int(idflux.rsplit("FLUX", 1)[1])
        message = etree.fromstring(self.deposits[number - 1])
        name = message.findtext(".//{*}FR_PersonIdentity.Surname.Text")
        if name in self.rejected_names:
            return (b'<bilan profil="DPAE"><etat_conformite>KO</etat_conformite>'
                    b"<message>lieu de naissance non reconnu</message></bilan>")
        return ('<bilan profil="DPAE"><etat_conformite>OK</etat_conformite>'
                f"<certificat_conformite>CERT-{number:08d}-{'X' * 40}"
                "</certificat_conformite></bilan>").encode()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:  # quiet
                pass

            def _answer(self, status: int, body: bytes, kind: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _forced(self) -> bool:
                fake.requests.append((self.command, self.path))
                if fake.fail_next:
                    self._answer(fake.fail_next.pop(0), b"erreur")
                    return True
                if fake.mode == "slow":
                    time.sleep(2)
                elif fake.mode.isdigit():
                    self._answer(int(fake.mode), b"erreur")
                    return True
                return False

            def _refuse(self, realm: str) -> bool:
                self.send_response(401)
                self.send_header("WWW-Authenticate", realm)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False

            def _credentials(self) -> dict[str, str]:
                """The mock's SecurityUtils.parseAuthorizationHeader."""
                header = (self.headers.get("Authorization") or "").replace("DSNLogin", "")
                pairs = [part.strip().split("=", 1) for part in header.split(",")]
                return {k: v for k, v in (p for p in pairs if len(p) == 2) if k and v}

            def _authorised(self, concentrator_window: list | None = None) -> bool:
                given = self._credentials()
                token = given.get("jeton") or given.get("concentrateur", "")
                if fake.tokens.get(token, 0) <= 0:
                    return self._refuse(REALM_TOKEN)
                if (token in fake.concentrator_tokens) != ("concentrateur" in given):
                    return self._refuse(REALM_TOKEN)
                if "concentrateur" in given:
                    try:
                        declarant = base64.b64decode(given.get("declarant", ""),
                                                     validate=True).decode()
                    except ValueError:
                        return self._refuse(REALM_TOKEN)
                    if declarant not in fake.declarants:
                        return self._refuse(REALM_UNREGISTERED)
                    if concentrator_window is not None:
                        concentrator_window.append(True)
                if fake.token_siret.get(token) in fake.unregistered:
                    return self._refuse(REALM_UNREGISTERED)
                fake.tokens[token] -= 1
                return True

            def _accepts_gzip(self) -> bool:
                """406 to a client whose Accept-Encoding lacks gzip (absent is accepted)."""
                accepted = self.headers.get("Accept-Encoding")
                if accepted is not None and "gzip" not in accepted:
                    self._answer(406, b"")
                    return False
                return True

            def do_POST(self) -> None:  # noqa: N802
                fake.user_agents.append(self.headers.get("User-Agent", ""))
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self._forced():
                    return
                if self.path in ("/authentifier/1.0/", "/authentifier_dpae"):
                    self._answer(*fake._login(body))
                elif self.path.startswith("/deposer-dsn/1.0/") and self._authorised():
                    if self.headers.get("Content-Encoding") != "gzip":
                        self._answer(415, b"")
                        return
                    if b"FR_DUE_Upload" not in gzip.decompress(body):  # the mock's avis de rejet
                        self._answer(422, REJECTION, "application/xml")
                        return
                    fake.deposits.append(gzip.decompress(body))
                    if fake.deposit_fault == "drop":
                        self.close_connection = True
                        return
                    if fake.deposit_fault == "slow":
                        time.sleep(2)
                    idflux = f"FLUX{len(fake.deposits):019d}"
                    self._answer(200, f"<depot><idflux>{idflux}</idflux><envoi_etat>OK"
                                      "</envoi_etat></depot>".encode(), "application/xml")

            def do_GET(self) -> None:  # noqa: N802
                fake.user_agents.append(self.headers.get("User-Agent", ""))
                if self._forced():
                    return
                parts = self.path.strip("/").split("/")
                if self.path.startswith("/lister-retours-declarant/2.0/"):
                    self._list(parts[-2], parts[-1])
                    return
                if self.path.startswith("/telecharger-retour/1.0/"):
                    if self._accepts_gzip() and self._authorised():
                        self._download(parts[-1])
                    return
                if not self._authorised():
                    return
                if self.path.startswith("/lister-retours-flux/2.0/") and fake.not_yet > 0:
                    fake.not_yet -= 1
                    self._answer(404, b"")
                elif self.path.startswith("/lister-retours-flux/2.0/"):
                    idflux = parts[-1]
                    listing = {"retours": {"flux": [{"retour": [
                        {"id": "1", "nature": "AEE", "url": f"{fake.base}/aee/{idflux}"},
                        {"id": "2", "nature": "DPAE", "url": f"{fake.base}/bilan/{idflux}"}]}]}}
                    self._answer(200, json.dumps(listing).encode(), "application/json")
                elif self.path.startswith("/aee/"):
                    self._answer(200, b'<rapport profil="AEE"/>', "application/xml")
                elif self.path.startswith("/bilan/"):
                    self._answer(200, fake._bilan(parts[-1]), "application/xml")
                else:
                    self._answer(404, b"inconnu")

            def _list(self, debut: str, fin: str) -> None:
                """The mock's order: dates (422), encoding (406), authorisation (401), range
                (429), then the listing."""
                try:
                    if not (len(debut) == len(fin) == 14 and (debut + fin).isdigit()):
                        raise ValueError(debut)
                    # the server's wall clock, naive as Java's SimpleDateFormat reads it
                    start, end = (datetime.strptime(t, STAMP)  # noqa: DTZ007
                                  for t in (debut, fin))
                except ValueError:
                    self._answer(422, b"")
                    return
                concentrator: list = []
                if not self._accepts_gzip() or not self._authorised(concentrator):
                    return
                fake.windows.append((debut, fin))
                limit = timedelta(minutes=10 if concentrator else 60)
                if end > start + limit:
                    self._answer(429, b"")
                    return
                self._answer(200, fake._listing(start, end), "application/json")

            def _download(self, retour_id: str) -> None:
                body = next(r["body"] for r in fake.returns if r["id"] == retour_id)
                packed = gzip.compress(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(packed)))
                self.end_headers()
                if retour_id in fake.cut:
                    self.wfile.write(packed[: len(packed) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                fake.downloads.append(retour_id)
                self.wfile.write(packed)

        return Handler
