"""AR throughput: an AR of 1,000,000 records (the URSSAF's answer to batches gedflow built),
parsed and reconciled into the compte rendu (its files written), against the reading floor
measured in the same run: the file's bytes read and every record's zones cut with numpy (no
matching). Each measurement runs in a fresh process; its time and peak memory are printed.

Last line `ratio=X.XX` = gedflow ÷ floor (goal ≤ 10; peak < 2 GiB).
Usage: python benchmarks/ar.py [RECORDS]
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import fastest_child, in_child  # noqa: E402

SIRET = "81234567600017"
RUNS = 3  # the fastest of each


def make_registry(url: str, n: int):  # noqa: ANN201 - the people frame
    """A registry whose n contrats were all built in one batch (the AR answers them)."""
    import json as _json

    import numpy as np
    import pandas as pd

    from gedflow.checks import nir_key
    from gedflow.db.bulk import bulk_insert, db_timestamp
    from gedflow.db.engine import migrate
    from gedflow.db.tables import contrat, dossier, dpae_batch, employeur, salarie

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
            "path": ["x"], "contrats": [_json.dumps(people["id"].tolist())],
            "created_at": [now], "envoi": ["envoye"]}))
    engine.dispose()
    return people


def make_ar(people) -> bytes:  # noqa: ANN001 - the people frame
    import numpy as np
    import pandas as pd

    from gedflow.formats import dpae_flat

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


def _child(what: str, folder: str) -> None:
    """One measurement in this fresh process (imports first): seconds and peak RSS."""
    base = Path(folder)
    ar_path, url = base / "dpae.txt", f"sqlite:///{base}/registry.sqlite"
    if what.startswith("make:"):
        ar_path.write_bytes(make_ar(make_registry(url, int(what[5:]))))
        print(json.dumps({"bytes": ar_path.stat().st_size}))
        return
    import numpy as np

    if what == "floor":
        from schemas.dpae import FLAT_LAYOUT, RECORD_LENGTH

        start = time.perf_counter()
        raw = ar_path.read_bytes()
        grid = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD_LENGTH + 1)
        zones = [np.ascontiguousarray(grid[:, f.start - 1:f.end]) for f in FLAT_LAYOUT]
        count = len(zones[0])
    else:
        from gedflow.db.engine import migrate
        from gedflow.dpae.ar import compte_rendu, read_ar, write_compte_rendu

        engine = migrate(url)
        start = time.perf_counter()
        with engine.connect() as conn:
            report = compte_rendu(conn, read_ar(ar_path))
        write_compte_rendu(report, base / "compte_rendu", "dpae.txt")
        count = len(report.rows)
        assert (report.rows["statut"] == "erreur").sum() == count // 20
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "records": count}))


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        size = in_child(__file__, f"make:{n}", Path(tmp))["bytes"]
        print(f"AR: {n:,} records, {size / 1e6:.0f} MB")
        floor = fastest_child(RUNS, __file__, "floor", Path(tmp))
        ours = fastest_child(RUNS, __file__, "ours", Path(tmp))
    print(f"floor  bytes read, every zone cut with numpy : {floor['seconds']:6.2f} s, "
          f"peak {floor['peak_mib']:,.0f} MiB")
    print(f"gedflow parse + reconcile + compte rendu     : {ours['seconds']:6.2f} s "
          f"({n / ours['seconds']:,.0f} records/s), peak {ours['peak_mib']:,.0f} MiB")
    print(f"ratio={ours['seconds'] / floor['seconds']:.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], sys.argv[3])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
