"""A separate process for the concurrency tests: `claim ROOT` claims every complete inbox file
and exits (leaving dead claims, as a killed run does); `recover ROOT` takes over the abandoned
claims and processes them, printing the ledger ids it processed (JSON)."""

from __future__ import annotations

import json
import sys

from gedflow.crm.handler import handle_crm
from gedflow.db.engine import migrate
from gedflow.inbox import scan
from gedflow.intake import claim, process, recover
from gedflow.settings import load_settings


def main(action: str, root: str) -> None:
    settings = load_settings(root)
    engine = migrate(settings.registry_url)
    if action == "claim":
        claimed = [c.id for p in scan(settings) if p.complete and (c := claim(settings, engine, p))]
        print(json.dumps(claimed))
        return
    done = [process(settings, engine, c, handle_crm).claim_id for c in recover(settings, engine)]
    print(json.dumps(done))


if __name__ == "__main__":
    main(*sys.argv[1:3])
