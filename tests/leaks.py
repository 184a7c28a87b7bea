"""The leak scan, run at the end of every test session whatever its order or selection
(`conftest.pytest_sessionfinish`): no test password and no NIR of the test data in any log line
of the session, any Prefect log, artifact, flow or task run name and parameter recorded by the
test harness, or any log file or Prefect database written under the session's temporary folders.
"""

from __future__ import annotations

import re
from pathlib import Path

from .api_server import PASSWORD

TESTS = Path(__file__).resolve().parent
EXAMPLES = TESTS.parent / "examples"
# Every password the suite gives to a double, a proxy or the credential store.
PASSWORDS = (PASSWORD, "proxy:secret/à", "une longue phrase secrète", "Autre-Secret-7",
             "Perime-2022!", "mot-de-passe-renouvelé", "nouveau-mot-de-passe")
NIR15 = re.compile(r"(?<![0-9A-Z])[12][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{6}[0-9]{2}(?![0-9])")


def _nir_key(nir13: str) -> int:
    digits = nir13.replace("2A", "19").replace("2B", "18")
    return 97 - int(digits) % 97


def known_nirs() -> set[str]:
    """The valid NIRs of the examples and test data, with their 13-character form."""
    found: set[str] = set()
    sources = [*EXAMPLES.rglob("*.*"), *TESTS.rglob("*.py"), *(TESTS / "data").rglob("*.*")]
    for path in sources:
        for nir in NIR15.findall(path.read_text(encoding="utf-8", errors="replace")):
            if _nir_key(nir[:13]) == int(nir[13:]):
                found |= {nir, nir[:13]}
    return found


def secrets() -> set[str]:
    return known_nirs() | set(PASSWORDS)


def leaks(text: str, wanted: set[str]) -> list[str]:
    return sorted(s for s in wanted if s in text)


def _every(read) -> list:
    """All the objects of a Prefect read call, 200 at a time (the API's page limit)."""
    found: list = []
    while True:
        page = read(limit=200, offset=len(found))
        found += page
        if len(page) < 200:
            return found


def prefect_texts() -> list[str]:
    """What the Prefect API in use holds: logs, artifacts, flow and task runs."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return [
            *(f"{log.name} {log.message}" for log in _every(client.read_logs)),
            *(f"{a.key} {a.description} {a.data}" for a in _every(client.read_artifacts)),
            *(f"{r.name} {r.parameters} {r.state.message if r.state else ''}"
              for r in _every(client.read_flow_runs)),
            *(r.name for r in _every(client.read_task_runs)),
        ]


def scan(log_lines: list[str], prefect: list[str], base: Path | None) -> dict[str, list[str]]:
    """Where a secret was found, and which: {} when the session leaked nothing."""
    places = {"python logs": "\n".join(log_lines), "prefect (harness)": "\n".join(prefect)}
    if base is not None and base.exists():
        for path in [*base.rglob("*.log"), *base.rglob("prefect.db")]:
            places[str(path.relative_to(base))] = path.read_bytes().decode("utf-8", "replace")
    wanted = secrets()
    found = {where: leaks(text, wanted) for where, text in places.items()}
    return {where: hits for where, hits in found.items() if hits}
