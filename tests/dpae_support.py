"""Shared DPAE test data: the two hires of the DUE specification's example, a one-call
preparation."""

from datetime import datetime

from sqlalchemy import Engine

from gedflow.dpae.prepare import Options, Preparation, hires_from_csv, prepare
from gedflow.settings import Settings
from schemas.dpae import HIRES

NOW = datetime(2025, 3, 3, 10, 15)  # noqa: DTZ001 - wall-clock time in Paris, as the rule reads it
HIRE_1 = dict(siret="12345678200010", matricule="E001", nom="MARTINEAU", nom_usage="ROCHE",
              prenoms="Claire Anne", sexe="F", nir="290036912304528", date_naissance="15/03/1990",
              lieu_naissance="Lyon 3e", dept_naissance="69", date_embauche="10/03/2025",
              heure_embauche="08:30", nature_contrat="CDI", date_fin="", essai_jours="60")
HIRE_2 = dict(HIRE_1, matricule="E002", nom="BENALI", nom_usage="", prenoms="Karim", sexe="M",
              nir="185119935201279", date_naissance="02/11/1985", lieu_naissance="Algérie",
              dept_naissance="99", heure_embauche="14:00", nature_contrat="CDD",
              date_fin="30/06/2025", essai_jours="")
MANDATORY_HIRE = [f.name for f in HIRES.fields if f.required]
MANDATORY_EMPLOYER = ["raison_sociale", "ape", "adresse1", "code_postal", "ville", "telephone",
                      "code_urssaf", "email_ar", "code_sst"]


def csv_of(*hires: dict) -> bytes:
    lines = [";".join(HIRES.header)] + [";".join(h[c] for c in HIRES.header) for h in hires]
    return ("\n".join(lines) + "\n").encode()


def run(engine: Engine, settings: Settings, *hires: dict, mode: str = "test",
        fmt: str = "both", now: datetime = NOW) -> Preparation:
    rows, bad = hires_from_csv(csv_of(*hires))
    return prepare(engine, rows, now=now, outbox=settings.outbox, root=settings.root,
                   options=Options(mode=mode, format=fmt), bad_lines=bad)
