"""CRM nominatif throughput: a CRM of 1,000,000 salariés (10 declarations) against a registry of the
same size, parsed + reconciled + reported by gedflow, against two baselines measured in the same
run: a plain `lxml.etree.parse` of the file (the floor) and a naive per-salarié Python loop doing
the same reconciliation. Each measurement runs in its own process, which also gives its peak RSS;
the plain parse and gedflow take the fastest of five runs (all five are printed).

Last line printed: `ratio=X.XX` (gedflow end to end ÷ plain parse; target ≤ 3, peak < 2 GiB).
Usage: python benchmarks/crm.py [SALARIES]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from stdnum import luhn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gedflow.checks import nir_key  # noqa: E402
from gedflow.crm.handler import read_with_registry  # noqa: E402
from gedflow.crm.integrate import load_registry, rates_in_force  # noqa: E402
from gedflow.crm.reconcile import reconcile  # noqa: E402
from gedflow.crm.report import write_reports  # noqa: E402
from gedflow.db.engine import migrate  # noqa: E402
from gedflow.registry.importer import import_csv  # noqa: E402
from schemas.registre import EMPLOYEURS  # noqa: E402

DECLARATIONS = 10
AVAILABLE = date(2022, 8, 13)


def _sirets(n: int) -> list[str]:
    return [(body := f"81{i:011d}") + luhn.calc_check_digit(body) for i in range(n)]


def _people(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    serial = pd.Series(np.arange(n) + 1_000_000)
    tail = (serial % 1_000_000).astype(str).str.zfill(6)
    nir13 = "1" + (80 + serial % 19).astype(str) + "0175" + tail
    sirets = np.array(_sirets(DECLARATIONS))
    return pd.DataFrame({
        "siret": sirets[np.arange(n) % DECLARATIONS],
        "matricule": "M" + serial.astype(str),
        "nir13": nir13,
        "taux": pd.Series(rng.integers(0, 3000, n)).map(lambda c: f"{c // 100}.{c % 100:02d}"),
        "taux_registre": pd.Series(rng.integers(0, 3000, n)).map(
            lambda c: f"{c // 100}.{c % 100:02d}"),
    })


def make_inputs(n: int, folder: Path) -> tuple[Path, str]:
    """The CRM file (built column-wise) and a registry holding the same people."""
    people = _people(n)
    same = np.arange(n) % 10 != 0  # a usual month: 90 % unchanged, 8 % changed, 2 % no rate
    people.loc[same, "taux_registre"] = people.loc[same, "taux"]
    people.loc[np.arange(n) % 50 == 0, "taux"] = ""
    lines = ["<?xml version='1.0' encoding='UTF-8'?>",
             '<ns2:rapport xmlns:ns2="http://www.gip-mds.fr/" type="CRM nominatif" '
             'identifiant="900000000000000417">']
    for siret, group in people.groupby("siret", sort=False):
        lines.append(f"<declaration><declaration_identification><mois>01072022</mois><SIREN>"
                     f"{siret[:9]}</SIREN><nic_affectation>{siret[9:]}</nic_affectation>"
                     "</declaration_identification><declaration_bilan><etat>OK</etat>")
        lines.extend(("<salarie><NIR>" + group["nir13"] + "</NIR><matricule>" + group["matricule"]
                      + "</matricule><taux_imposition_PAS>" + group["taux"]
                      + "</taux_imposition_PAS></salarie>").tolist())
        lines.append("</declaration_bilan></declaration>")
    lines.append("</ns2:rapport>")
    crm_path = folder / "crm.xml"
    crm_path.write_text("\n".join(lines), encoding="utf-8")
    url = f"sqlite:///{folder / 'registry.sqlite'}"
    engine = migrate(url)
    employers = pd.DataFrame({c: "" for c in EMPLOYEURS.header}, index=range(DECLARATIONS))
    employers["dossier"], employers["siret"] = "BENCH", _sirets(DECLARATIONS)
    employers["raison_sociale"] = "EMPLOYEUR"
    import_csv(engine, employers.to_csv(sep=";", index=False).encode(), "employeurs.csv")
    registry = pd.DataFrame({
        "dossier": "BENCH", "siret": people["siret"], "matricule": people["matricule"],
        "nir": people["nir13"] + nir_key(people["nir13"]), "nom": "NOM", "nom_usage": "",
        "prenoms": "PRENOM", "sexe": "", "date_naissance": "", "lieu_naissance": "",
        "dept_naissance": "", "taux_pas": people["taux_registre"], "type_taux": "01"})
    import_csv(engine, registry.to_csv(sep=";", index=False).encode(), "salaries.csv")
    engine.dispose()
    return crm_path, url


def plain(crm_path: Path, _url: str, _out: Path) -> int:
    from lxml import etree

    return len(etree.parse(str(crm_path)).getroot())


def ours(crm_path: Path, url: str, out: Path) -> int:
    crm, copy = read_with_registry(crm_path, migrate(url), out / "cache")
    registry = rates_in_force(copy, crm.declarations["siret"].tolist(), AVAILABLE)
    rows = reconcile(crm, registry, AVAILABLE)
    write_reports(rows, crm, [], "bench", [], out, "crm")
    return len(rows)


def naive(crm_path: Path, url: str, out: Path) -> int:
    """Per-salarié Python: the same matching and statuts, one dict lookup at a time."""
    from lxml import etree

    engine = migrate(url)
    with engine.connect() as conn:
        registry = load_registry(conn, _sirets(DECLARATIONS), AVAILABLE, out / "cache-naive")
    by_nir = {(r["siret"], r["nir"][:13]): r for r in registry.to_dict("records")}
    by_matricule = {(r["siret"], r["matricule"]): r for r in registry.to_dict("records")}
    root = etree.parse(str(crm_path)).getroot()
    rows = []
    for declaration in root.iter("declaration"):
        siret = declaration.findtext("declaration_identification/SIREN") + declaration.findtext(
            "declaration_identification/nic_affectation")
        for person in declaration.iter("salarie"):
            nir = (person.findtext("NIR") or "").strip()
            matricule = (person.findtext("matricule") or "").strip()
            rate = (person.findtext("taux_imposition_PAS") or "").strip()
            found = by_nir.get((siret, nir)) or by_matricule.get((siret, matricule))
            if found is None:
                statut = "inconnu_registre"
            elif not rate:
                statut = "sans_taux"
            elif not found["taux_registre"]:
                statut = "nouveau"
            else:
                statut = "conforme" if rate == found["taux_registre"] else "modifie"
            rows.append((siret, matricule, nir[:5] + "*", rate, statut))
    with (out / "naive.csv").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(";".join(row) + "\n")
    return len(rows)


def child(name: str, crm_path: str, url: str, out: str) -> None:
    start = time.perf_counter()
    count = {"plain": plain, "ours": ours, "naive": naive}[name](Path(crm_path), url, Path(out))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib(), "rows": count}))


def peak_mib() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(name: str, crm_path: Path, url: str, out: Path, repeats: int = 1) -> dict:
    """The fastest of `repeats` runs (each in a fresh process), with the highest peak."""
    runs = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, __file__, "--child", name, str(crm_path), url, str(out)],
            check=True, capture_output=True, text=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {**min(runs, key=lambda r: r["seconds"]), "peak_mib": max(r["peak_mib"] for r in runs),
            "runs": [r["seconds"] for r in runs]}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        crm_path, url = make_inputs(n, folder)
        size = crm_path.stat().st_size / 1e6
        print(f"CRM: {n:,} salariés in {DECLARATIONS} declarations, {size:.0f} MB; registry {n:,}")
        # The first gedflow run builds the registry's columnar copy (as the first CRM after a
        # registry import does); the second reads it, as every later CRM does.
        results = {name: measure(name.removesuffix("_cold"), crm_path, url, folder, repeats)
                   for name, repeats in (("plain", 5), ("naive", 1), ("ours_cold", 1),
                                         ("ours", 5))}
    labels = {"plain": "plain lxml.etree.parse", "naive": "naive per-salarié loop",
              "ours_cold": "gedflow, registry copy built", "ours": "gedflow parse+reconcile+report"}
    for name, label in labels.items():
        r = results[name]
        runs = " ".join(f"{s:.2f}" for s in r["runs"]) if len(r["runs"]) > 1 else ""
        print(f"{label:32s} {r['seconds']:7.2f} s  {n / r['seconds']:>10,.0f} salariés/s  "
              f"peak {r['peak_mib']:,.0f} MiB  {runs}")
    print(f"naive ÷ gedflow: {results['naive']['seconds'] / results['ours']['seconds']:.2f}×")
    plain = results["plain"]["seconds"]
    print(f"ratio with the registry copy built={results['ours_cold']['seconds'] / plain:.2f}")
    print(f"ratio={results['ours']['seconds'] / plain:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
    else:
        main()
