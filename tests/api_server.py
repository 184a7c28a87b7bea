"""A local stand-in for the API DPAE (dpae_format.md §4) on loopback, for tests only: token
authentication, gzip deposits, the returns listing and the `profil="DPAE"` bilans. `mode`
forces the documented error answers (401, 403, 422, 429, 500) or a slow answer."""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lxml import etree

TOKEN = "JETON-DE-TEST"
PASSWORD = "Bon-Mot2Passe!"


class FakeUrssaf:
    def __init__(self) -> None:
        self.mode = ""  # "" | "401" | "422" | "500" | "slow" ...
        self.deposits: list[bytes] = []
        self.rejected_names = {"BENALI"}  # their bilan is KO
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeUrssaf:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:  # quiet
                pass

            def _answer(self, status: int, body: bytes, kind: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _forced(self) -> bool:
                if fake.mode == "slow":
                    time.sleep(2)
                elif fake.mode.isdigit():
                    self._answer(int(fake.mode), b"erreur")
                    return True
                return False

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") != f"DSNLogin jeton={TOKEN}":
                    self._answer(401, b"jeton invalide")
                    return False
                return True

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self._forced():
                    return
                if self.path.startswith("/authentifier_dpae"):
                    who = etree.fromstring(body)
                    if who.findtext("motdepasse") != PASSWORD:
                        self._answer(401, b"identifiants invalides")
                    else:
                        self._answer(200, TOKEN.encode())
                elif self.path.startswith("/deposer-dsn/1.0/") and self._authorised():
                    fake.deposits.append(gzip.decompress(body))
                    idflux = f"FLUX{len(fake.deposits):019d}"
                    self._answer(200, f"<depot><idflux>{idflux}</idflux><envoi_etat>OK"
                                      "</envoi_etat></depot>".encode(), "application/xml")

            def do_GET(self) -> None:  # noqa: N802
                if self._forced() or not self._authorised():
                    return
                if self.path.startswith("/lister-retours-flux/2.0/"):
                    idflux = self.path.rsplit("/", 1)[1]
                    listing = {"retours": {"flux": [{"retour": [
                        {"id": "1", "nature": "AEE", "url": f"{fake.base}/aee/{idflux}"},
                        {"id": "2", "nature": "DPAE", "url": f"{fake.base}/bilan/{idflux}"}]}]}}
                    self._answer(200, json.dumps(listing).encode(), "application/json")
                elif self.path.startswith("/aee/"):
                    self._answer(200, b'<rapport profil="AEE"/>', "application/xml")
                elif self.path.startswith("/bilan/"):
                    number = int(self.path.rsplit("FLUX", 1)[1])
                    message = etree.fromstring(fake.deposits[number - 1])
                    name = message.findtext(".//{*}FR_PersonIdentity.Surname.Text")
                    if name in fake.rejected_names:
                        xml = ('<bilan profil="DPAE"><etat_conformite>KO</etat_conformite>'
                               "<message>lieu de naissance non reconnu</message></bilan>")
                    else:
                        xml = ('<bilan profil="DPAE"><etat_conformite>OK</etat_conformite>'
                               f"<certificat_conformite>CERT-{number:08d}-{'X' * 40}"
                               "</certificat_conformite></bilan>")
                    self._answer(200, xml.encode(), "application/xml")

        return Handler
