"""A read DSN as the registry sees it: one frame of declarations (with their SIRET and
whether they are réel), individuals, contracts (with their end) and versements, each row
carrying its declaration `_decl` (schemas.dsn; spec of the format in gedflow/formats/dsn.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from gedflow.checks import nir_checked
from gedflow.formats.crm import parse_dates
from gedflow.formats.dsn import Dsn
from schemas.dsn import (
    CONTRAT,
    DECLARATION,
    ENTREPRISE,
    ENVOI,
    ETABLISSEMENT,
    FIN_CONTRAT,
    INDIVIDU,
    MENSUELLE,
    REEL,
    SANS_INDIVIDU_TYPES,
    VERSEMENT,
)


@dataclass
class DsnView:
    declarations: pd.DataFrame  # _id, siret, nature, type, mois (ISO), reel, a_integrer, …
    individus: pd.DataFrame  # _id, _decl, nir (13, "" if unusable), nir_cle, ntt, …
    contrats: pd.DataFrame  # _id, _parent (individu), _decl, date_debut (ISO), …
    versements: pd.DataFrame  # _parent (individu), _decl, date_versement (ISO), …


def _iso(values: pd.Series) -> pd.Series:
    return parse_dates(values).fillna("")


def _lookup(keys: pd.Series, values: pd.Series) -> pd.Series:
    """`values[key]` for each key, "" where there is none (text)."""
    if values.empty:
        return pd.Series("", index=keys.index, dtype="str")
    return keys.map(values.astype(object)).astype(object).where(lambda s: s.notna(), "").astype(
        "str")


def view(dsn: Dsn) -> DsnView:
    decls = dsn[DECLARATION].copy()
    firms = dsn[ENTREPRISE][["_id", "_parent", "siren", "apen"]]
    sites = dsn[ETABLISSEMENT].merge(firms, left_on="_parent", right_on="_id",
                                     suffixes=("", "_e"))
    sites = sites.drop_duplicates("_decl", keep="first")  # one establishment per declaration
    decls = decls.merge(sites[["_decl", "siren", "nic", "apet", "apen", "adresse",
                               "code_postal", "ville"]], left_on="_id", right_on="_decl",
                        how="left", suffixes=("", "_site")).fillna("")
    decls["siret"] = decls["siren"] + decls["nic"]
    envois = dsn[ENVOI].set_index("_id")["essai_reel"]
    decls["reel"] = _lookup(decls["_parent"], envois) == REEL
    decls["mois"] = _iso(decls["mois"])
    people = dsn[INDIVIDU].copy()
    counts = people.groupby("_decl").size()
    decls["individus"] = decls["_id"].map(counts).fillna(0).astype(int)
    decls["a_integrer"] = ((decls["nature"] == MENSUELLE)
                           & ~decls["type"].isin(SANS_INDIVIDU_TYPES) & (decls["individus"] > 0))
    nir = people["nir"].str.upper()
    valid, numbers = nir_checked(nir)
    people["nir"] = nir.where(valid, "")
    people["nir_cle"] = numbers
    people.loc[~valid.to_numpy(), "nir_cle"] = -1
    people["date_naissance"] = _iso(people["date_naissance"])
    contrats = dsn[CONTRAT].copy()
    ends = dsn[FIN_CONTRAT].drop_duplicates("_parent", keep="last").set_index("_parent")
    contrats["date_fin"] = _iso(_lookup(contrats["_id"], ends["date_fin"]))
    contrats["motif_fin"] = _lookup(contrats["_id"], ends["motif"])
    for column in ("date_debut", "fin_prevue"):
        contrats[column] = _iso(contrats[column])
    versements = dsn[VERSEMENT].copy()
    versements["date_versement"] = _iso(versements["date_versement"])
    return DsnView(decls, people, contrats, versements)
