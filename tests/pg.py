"""A real PostgreSQL cluster in a temporary directory, TLS on: the tests' and the benchmarks'
(no pytest here)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgCluster:
    """A real PostgreSQL cluster in a temporary directory (as user `postgres` when root), which
    a test may stop and start again."""

    def __init__(self) -> None:
        initdb, self.pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
        if not initdb or not self.pg_ctl:
            raise RuntimeError("PostgreSQL binaries not found: run `make test` (it installs them)")
        self.tmp = Path(tempfile.mkdtemp(prefix="gedflow-pg-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.tmp, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data, self.port = self.tmp / "data", free_port()
        subprocess.run(
            [*self.as_user, initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres",
             "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True,
        )
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"
        self.ca = self._certificates()

    def _certificates(self) -> Path:
        """A CA and the server's certificate for 127.0.0.1 / localhost (TLS on, as in
        production): the CA's file, for clients that verify the server."""
        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=self.tmp)

        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                "/CN=gedflow test CA", "-keyout", "ca.key", "-out", "ca.crt")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                "-keyout", "server.key", "-out", "server.csr")
        (self.tmp / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server.crt")
        (self.tmp / "server.key").chmod(0o600)
        if self.as_user:
            for name in ("server.key", "server.crt"):
                shutil.chown(self.tmp / name, "postgres", "postgres")
        return self.tmp / "ca.crt"

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
                   f" -c max_connections=200 -c ssl=on -c ssl_cert_file={self.tmp}/server.crt"
                   f" -c ssl_key_file={self.tmp}/server.key")
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-o", options, "-l",
                        str(self.tmp / "log"), "-w", "start"], check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-m", "immediate",
                        "stop"], capture_output=True)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
