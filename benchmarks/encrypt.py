"""Encryption cost: a 100 MB dpae.txt encrypted through gedflow (python-gnupg) against the `gpg`
command line on the same file, same key, same options, measured in the same run (best of 3).

Last line: `ratio=X.XX` (gedflow ÷ gpg; goal ≤ 1.2).   Usage: python benchmarks/encrypt.py [MB]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import gnupg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import best_of  # noqa: E402
from gedflow.crypto import encrypt_file, import_key  # noqa: E402

RECORD = ("12345678200010DUE ".ljust(72) + "120" + "X" * 913 + "\n").encode("ascii")


def main() -> None:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        source = base / "dpae.txt"
        source.write_bytes(RECORD * (megabytes * 1_000_000 // len(RECORD)))
        (base / "urssaf").mkdir(mode=0o700)
        urssaf = gnupg.GPG(gnupghome=str(base / "urssaf"))
        fingerprint = str(urssaf.gen_key(urssaf.gen_key_input(
            key_type="RSA", key_length=2048, name_email="bench@urssaf.example",
            no_protection=True)))
        home = base / "gedflow"
        import_key(home, urssaf.export_keys(fingerprint).encode())
        ours = best_of(3, lambda: encrypt_file(home, fingerprint, source, base / "ours.gpg"))
        plain = best_of(3, lambda: subprocess.run(
            ["gpg", "--homedir", str(home), "--batch", "--yes", "--trust-model", "always",
             "--recipient", fingerprint, "--output", str(base / "cli.gpg"), "--encrypt",
             str(source)], check=True, capture_output=True))
        for gpg_home in (base / "urssaf", home):
            subprocess.run(["gpgconf", "--homedir", str(gpg_home), "--kill", "gpg-agent"],
                           capture_output=True, check=False)
    print(f"dpae.txt {megabytes} MB")
    print(f"gpg command line : {plain:6.2f} s  {megabytes / plain:6.1f} MB/s")
    print(f"gedflow          : {ours:6.2f} s  {megabytes / ours:6.1f} MB/s")
    print(f"ratio={ours / plain:.2f}")


if __name__ == "__main__":
    main()
