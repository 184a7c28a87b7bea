"""AR throughput: an AR of 1,000,000 records (the URSSAF's answer to batches gedflow built)
parsed and reconciled into the compte rendu, against a plain read of the same file measured in
the same run: `pandas.read_fwf` with the layout's column specs (the ordinary way to read a
fixed-width file; the raw bytes read is printed too, for scale).

Last line: `ratio=X.XX` (ours ÷ plain read; goal ≤ 3).   Usage: python benchmarks/ar.py [RECORDS]
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gedflow.checks import nir_key  # noqa: E402
from gedflow.db.bulk import bulk_insert, db_timestamp  # noqa: E402
from gedflow.db.engine import migrate  # noqa: E402
from gedflow.db.tables import contrat, dossier, dpae_batch, employeur, salarie  # noqa: E402
from gedflow.dpae.ar import compte_rendu, read_ar  # noqa: E402
from gedflow.formats import dpae_flat  # noqa: E402
from schemas.dpae import FLAT_LAYOUT  # noqa: E402

SIRET = "81234567600017"


def make_registry(url: str, n: int) -> pd.DataFrame:
    """n contrats in one built batch; returns the people (for the AR records)."""
    engine = migrate(url)
    now = db_timestamp(datetime.now(UTC))
    serial = pd.Series(np.arange(n))
    nir13 = "1" + (80 + serial % 19).astype(str) + "0175" + (serial % 999_999 + 1).astype(
        str).str.zfill(6)
    people = pd.DataFrame({
        "id": serial + 1, "employeur_id": 1, "matricule": "M" + serial.astype(str),
        "nir": nir13 + nir_key(nir13), "nom": "NOM" + serial.astype(str), "prenoms": "PRENOM",
        "date_naissance": "1985-06-15"})
    with engine.begin() as conn:
        bulk_insert(conn, dossier, pd.DataFrame({"id": [1], "code": ["BENCH"],
                                                 "created_at": [now]}))
        bulk_insert(conn, employeur, pd.DataFrame({"id": [1], "dossier_id": [1], "siret": [SIRET],
                                                   "raison_sociale": ["BENCH"]}))
        bulk_insert(conn, salarie, people)
        bulk_insert(conn, contrat, pd.DataFrame({
            "id": people["id"], "salarie_id": people["id"], "date_embauche": "2025-03-10",
            "heure_embauche": "08:30", "nature": "CDI", "statut": "envoye",
            "batch_id": "B1", "created_at": now}))
        bulk_insert(conn, dpae_batch, pd.DataFrame({
            "id": ["B1"], "mode": ["reel"], "format": ["flat"], "records": [n], "sha256": [""],
            "path": ["x"], "contrats": [json.dumps(people["id"].tolist())],
            "created_at": [now], "envoi": ["envoye"]}))
    engine.dispose()
    return people


def make_ar(people: pd.DataFrame) -> bytes:
    n = len(people)
    accepted = np.arange(n) % 20 != 0
    return dpae_flat.write(pd.DataFrame({
        "L_IDENT_EMT": SIRET, "C_APPLICATION": "DUE", "C_ADR_RET_AR": "ar@x.example",
        "N_LG_MESS": "917", "C_VERSION": "120", "C_RET_AR_LOT": "00",
        "LIBRE": "GEDFLOW-" + people["id"].astype(str), "D_CREATION": "03032025",
        "H_CREATION": "1015", "C_URSSAF": "117", "N_SIRET": SIRET, "L_RAISON_SOC_1": "BENCH",
        "L_ADR_EMP_1": "1 RUE", "C_POSTAL_EMP": "69001", "L_BUR_DIST_EMP": "LYON",
        "L_NOM_PATRO_SAL": people["nom"], "L_PRENOMS_SAL": "PRENOM",
        "N_SECU_SOC": people["nir"].str[:13], "D_NAISSANCE_SAL": "15061985",
        "L_LIEU_NAISS_SAL": "LYON", "D_EMBAUCHE": "10032025", "H_EMBAUCHE": "0830",
        "R_DOSSIER": np.where(accepted, "K7Q2M", ""), "C_RETOUR_AR": np.where(accepted, "00",
                                                                                "21"),
        "C_NAF_NN": "8899B", "C_SEXE_SAL": "M", "C_DEPT_NAISS_SAL": "75",
        "C_TYPE_CONTRAT": "2", "N_JJ_ESSAI": "030", "C_MT_DCL": "MT348"}))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/registry.sqlite"
        ar_path = Path(tmp) / "dpae.txt"
        ar_path.write_bytes(make_ar(make_registry(url, n)))
        engine = migrate(url)

        start = time.perf_counter()
        raw = ar_path.read_bytes()
        raw_read = time.perf_counter() - start

        start = time.perf_counter()
        pd.read_fwf(io.BytesIO(raw), colspecs=[(f.start - 1, f.end) for f in FLAT_LAYOUT],
                    header=None, dtype=str, encoding="iso-8859-1")
        plain = time.perf_counter() - start

        start = time.perf_counter()
        with engine.connect() as conn:
            report = compte_rendu(conn, read_ar(ar_path.read_bytes()))
        ours = time.perf_counter() - start
        assert len(report.rows) == n and (report.rows["statut"] == "erreur").sum() == n // 20
        engine.dispose()
    print(f"AR: {n:,} records, {len(raw) / 1e6:.0f} MB")
    print(f"raw bytes read            : {raw_read:6.2f} s")
    print(f"plain pandas.read_fwf     : {plain:6.2f} s  {n / plain:>10,.0f} records/s")
    print(f"gedflow parse + reconcile : {ours:6.2f} s  {n / ours:>10,.0f} records/s")
    print(f"ratio={ours / plain:.2f}")


if __name__ == "__main__":
    main()
