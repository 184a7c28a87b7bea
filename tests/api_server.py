"""A local stand-in for Net-Entreprises / URSSAF on loopback, for tests only
(net_entreprises_api.md "A local double"): the API DSN and API DPAE authentication (token per
login, optional expiry), the declarant's returns over windows and their download, the API DPAE
deposits and bilans. Switches force the documented errors (401, 403, 422, 429, 500), slow
answers, expired tokens, returns listed twice and downloads cut halfway; `tls` serves HTTPS
with a self-signed certificate.
"""

from __future__ import annotations

import gzip
import json
import ssl
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from lxml import etree

SIRET = "12345678200010"
NOM, PRENOM = "DUPRE", "Jean"
PASSWORD = "Bon-Mot2Passe!"
STAMP = "%Y-%m-%dT%H:%M:%S"


class FakeNetEntreprises:
    def __init__(self, certificate: tuple[Path, Path] | None = None) -> None:
        self.mode = ""  # "" | "401" | "403" | "422" | "429" | "500" | "slow": every request
        self.fail_next: list[int] = []  # statuses answered to the next requests, then normal
        self.accounts = {SIRET: (NOM, PRENOM, PASSWORD)}
        self.locked: set[str] = set()
        self.token_life: int | None = None  # authorised calls per token, then 401
        self.tokens: dict[str, int] = {}
        self.logins = 0
        self.returns: list[dict] = []  # {id, nature, publication (datetime), body}
        self.listed_twice = False
        self.cut: set[str] = set()
        self.windows: list[tuple[str, str]] = []
        self.downloads: list[str] = []
        self.deposits: list[bytes] = []
        # Take the deposit, then "drop" the connection unanswered, or answer too "slow"ly.
        self.deposit_fault = ""
        self.rejected_names = {"BENALI"}  # their DPAE bilan is KO
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

    def add_return(self, retour_id: str, nature: str, publication: datetime,
                   body: bytes) -> None:
        self.returns.append({"id": retour_id, "nature": nature, "publication": publication,
                             "body": body})

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
        if len(siret) != 14 or who.findtext("service") not in ("25", "26", "98"):
            return 422, b"identifiants mal formes"
        if siret in self.locked:
            return 403, b"compte bloque"
        given = (who.findtext("nom"), who.findtext("prenom"), who.findtext("motdepasse"))
        if self.accounts.get(siret) != given:
            return 401, b"identifiants invalides"
        self.logins += 1
        token = f"JETON-{self.logins:04d}"
        self.tokens[token] = self.token_life if self.token_life is not None else 10**9
        return 200, token.encode()

    def _listing(self, debut: str, fin: str) -> bytes:
        self.windows.append((debut, fin))
        start, end = (datetime.strptime(t, STAMP).replace(tzinfo=UTC) for t in (debut, fin))
        items = [{"id": r["id"], "nature": r["nature"], "statut": "OK",
                  "publication": r["publication"].isoformat(),
                  "production": r["publication"].isoformat(),
                  "url": f"{self.base}/retour/{r['id']}"}
                 for r in self.returns
                 if start <= r["publication"] < end]
        if self.listed_twice:
            items = items + items
        return json.dumps({"retours": {"flux": [{"retour": items}]}}).encode()

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

            def _authorised(self) -> bool:
                token = (self.headers.get("Authorization") or "").removeprefix(
                    "DSNLogin jeton=")
                if fake.tokens.get(token, 0) <= 0:
                    self._answer(401, b"jeton invalide ou expire")
                    return False
                fake.tokens[token] -= 1
                return True

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self._forced():
                    return
                if self.path in ("/authentifier/1.0/", "/authentifier_dpae"):
                    self._answer(*fake._login(body))
                elif self.path.startswith("/deposer-dsn/1.0/") and self._authorised():
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
                if self._forced() or not self._authorised():
                    return
                parts = self.path.strip("/").split("/")
                if self.path.startswith("/lister-retours-declarant/2.0/"):
                    self._answer(200, fake._listing(parts[-2], parts[-1]), "application/json")
                elif self.path.startswith("/retour/"):
                    self._download(parts[-1])
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

            def _download(self, retour_id: str) -> None:
                body = next(r["body"] for r in fake.returns if r["id"] == retour_id)
                if retour_id in fake.cut:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                fake.downloads.append(retour_id)
                self._answer(200, body, "application/xml")

        return Handler
