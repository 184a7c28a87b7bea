"""The CRM taux sur taux (return nature 95): the DGFiP says a DSN did not apply the rate it had
communicated (TST01, "vous n'avez pas appliqué les taux valides… amende"). Each anomaly is tied
to its salarié by the NIR, with the rate and the PAS the DSN applied, the date of versement
(ISO in this return) and the CRM rate that was in force on that date: the rows of
`<stem>.taux_sur_taux.csv`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from lxml import etree

from gedflow.checks import mask_nir
from gedflow.dsn.controle import rate_in_force
from gedflow.dsn.registre import Registre
from gedflow.formats.crm import Crm
from gedflow.xmlsafe import HARDENED
from schemas.crm import DATE_VERSEMENT, PAS_AMOUNT, TAUX_SUR_TAUX_COLUMNS


def associated(path: Path) -> list[dict[str, str]]:
    """Per `declaration_anomalie`, in the file's order: its associated rubrics (dotted code →
    value)."""
    found = []
    for _event, element in etree.iterparse(str(path), events=("end",), **HARDENED):
        if etree.QName(element).localname != "declaration_anomalie":
            continue
        values = {}
        for rubric in element.iter("{*}rubrique_associee", "rubrique_associee"):
            code = (rubric.findtext("identifiant") or "").strip().replace("_", ".")
            values[code] = (rubric.findtext("valeur") or "").strip()
        found.append(values)
        element.clear()
    return found


def rows(path: Path, crm: Crm, registre: Registre) -> pd.DataFrame:
    """Each anomaly of the return, its salarié found by SIRET and NIR."""
    anomalies = crm.anomalies.reset_index(drop=True)
    extra = associated(path)
    if len(extra) != len(anomalies):  # never seen: the values would not line up
        extra = [{}] * len(anomalies)
    frame = anomalies.assign(
        date_versement=pd.Series([e.get(DATE_VERSEMENT, "") for e in extra], dtype="str"),
        montant_pas=pd.Series([e.get(PAS_AMOUNT, "") for e in extra], dtype="str"),
        taux_applique=anomalies["valeur"], nir13=anomalies["nir"].str.slice(0, 13))
    people = registre.salaries.drop_duplicates(["siret", "nir13"])
    frame = frame.merge(people[["siret", "nir13", "salarie_id", "matricule"]].rename(
        columns={"matricule": "matricule_registre"}), on=["siret", "nir13"], how="left")
    frame["salarie_id"] = frame["salarie_id"].fillna(-1).astype("int64")
    frame["matricule"] = frame["matricule"].where(frame["matricule"] != "",
                                                  frame["matricule_registre"].fillna(""))
    crm_rate = rate_in_force(frame.assign(_row=np.arange(len(frame))), registre.taux)
    frame["taux_crm"] = crm_rate["taux"].fillna("").to_numpy()
    frame["identifiant_crm"] = crm_rate["identifiant_crm"].to_numpy()
    frame["nir_masque"] = mask_nir(frame["nir"])
    return frame.reindex(columns=TAUX_SUR_TAUX_COLUMNS).fillna("")
