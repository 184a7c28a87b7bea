"""A read DSN as the registry sees it: one frame of declarations (with their SIRET and
whether they are réel), individuals, contracts (with their end) and versements, each row
carrying its declaration `_decl` (schemas.dsn; spec of the format in gedflow/formats/dsn.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gedflow.checks import nir_numbers
from gedflow.formats.arrowtext import flat, taken
from gedflow.formats.dsn import Dsn
from gedflow.forms import real_dates
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
    VERSEMENT_OPS,
)
from schemas.fields import AAAA_MM_JJ, JJMMAAAA


@dataclass
class DsnView:
    declarations: pd.DataFrame  # _id, siret, nature, type, mois (ISO), reel, a_integrer, …
    individus: pd.DataFrame  # _id, _decl, nir (13, "" if unusable), nir_cle, ntt, …
    contrats: pd.DataFrame  # _id, _parent (individu), _decl, date_debut (ISO), …
    versements: pd.DataFrame  # _parent (individu), _decl, date_versement (ISO), …
    organismes: pd.DataFrame  # S21.G00.20 payments: _decl, organisme, montant, mode


_TO_ISO = np.array(JJMMAAAA.moves(AAAA_MM_JJ))  # -1: a separator of the template
_ISO_TEMPLATE = np.frombuffer(AAAA_MM_JJ.template.encode(), dtype=np.uint8)


def _iso(values: pd.Series, real: bool = False) -> pd.Series:
    """JJMMAAAA dates, checked by the reader (8 digits or ""), as AAAA-MM-JJ: each distinct
    date's bytes moved by numpy. `real`: "" where the value is not a real date (a day or
    month 99)."""
    array = flat(pa.array(values.array).cast(pa.large_string()))  # chunks (or none: empty)
    encoded = pc.dictionary_encode(array)
    text = encoded.dictionary
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset:][:len(text) + 1]
    data = np.frombuffer(text.buffers()[2] or b"", dtype=np.uint8)
    dated = np.flatnonzero(np.diff(offsets) == JJMMAAAA.width)
    moved = np.tile(_ISO_TEMPLATE, (len(dated), 1))
    digits = _TO_ISO >= 0
    if len(dated):  # each date read as one 8-byte word, its bytes then moved column-wise
        words = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
        moved[:, digits] = words[offsets[dated]].view(np.uint8).reshape(
            -1, JJMMAAAA.width)[:, _TO_ISO[digits]]
    if real:
        kept = real_dates(moved, AAAA_MM_JJ)
        dated, moved = dated[kept], moved[kept]
    sizes = np.zeros(len(text), dtype=np.int64)
    sizes[dated] = len(_TO_ISO)
    iso = pa.LargeStringArray.from_buffers(len(text), pa.py_buffer(np.concatenate(
        [[0], np.cumsum(sizes)])), pa.py_buffer(moved.tobytes()))
    return pd.Series(iso.take(encoded.indices), index=values.index, dtype="str")


def rows_among(keys: pd.Series | np.ndarray, ids: pd.Series | np.ndarray) -> np.ndarray:
    """The row of each key among the ascending distinct `ids` (block instances, keys), -1
    where none."""
    keys, ids = np.asarray(keys), np.asarray(ids)
    at = np.searchsorted(ids, keys)
    found = at < len(ids)
    found[found] = ids[at[found]] == keys[found]
    return np.where(found, at, -1)


def _text(column: pd.Series, rows: np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(taken(column, rows), index=index, dtype="str")


def _declarations(dsn: Dsn) -> pd.DataFrame:
    """The declarations, each with its first establishment's address and APE and that
    establishment's firm (SIREN, APEN), whether its envoi is réel and its individuals."""
    decls = dsn[DECLARATION].copy(deep=False)
    sites, firms = dsn[ETABLISSEMENT], dsn[ENTREPRISE]
    site_decls, first = np.unique(sites["_decl"].to_numpy(), return_index=True)
    site = np.append(first, -1)[rows_among(decls["_id"], site_decls)]  # -1 picks the -1
    firm = np.append(rows_among(sites["_parent"], firms["_id"]), -1)[site]
    added = {column: taken(sites[column], site)
             for column in ("nic", "apet", "adresse", "code_postal", "ville")}
    added |= {column: taken(firms[column], firm) for column in ("siren", "apen")}
    envois = dsn[ENVOI]
    envoi = rows_among(decls["_parent"], envois["_id"])
    added["reel"] = pc.equal(taken(envois["essai_reel"], envoi), REEL)
    added["individus"] = np.bincount(rows_among(dsn[INDIVIDU]["_decl"], decls["_id"]) + 1,
                                     minlength=len(decls) + 1)[1:]
    decls = pd.concat([decls, pa.table(added).to_pandas().set_axis(decls.index)], axis=1)
    decls["siret"] = decls["siren"] + decls["nic"]
    decls["mois"] = _iso(decls["mois"])
    decls["a_integrer"] = ((decls["nature"] == MENSUELLE)
                           & ~decls["type"].isin(SANS_INDIVIDU_TYPES) & (decls["individus"] > 0))
    return decls


def _individus(dsn: Dsn) -> pd.DataFrame:
    people = dsn[INDIVIDU].copy(deep=False)
    people["nir_cle"] = nir_numbers(pa.array(people["nir"].array))  # upper-cased by the reader
    people["date_naissance"] = _iso(people["date_naissance"], real=True)  # 99: unknown
    return people


def _contrats(dsn: Dsn) -> pd.DataFrame:
    """The contracts with their end (the last S21.G00.62 of each), dates as ISO."""
    contrats = dsn[CONTRAT].copy(deep=False)
    ends = dsn[FIN_CONTRAT].drop_duplicates("_parent", keep="last").sort_values("_parent")
    end = rows_among(contrats["_id"], ends["_parent"])
    contrats["date_fin"] = _iso(_text(ends["date_fin"], end, contrats.index))
    contrats["motif_fin"] = _text(ends["motif"], end, contrats.index)
    for column in ("date_debut", "fin_prevue"):
        contrats[column] = _iso(contrats[column])
    return contrats


def _versements(dsn: Dsn) -> pd.DataFrame:
    versements = dsn[VERSEMENT].copy(deep=False)
    versements["date_versement"] = _iso(versements["date_versement"])
    return versements


def view(dsn: Dsn) -> DsnView:
    """The frames made by two threads (their dates moved by numpy, outside the GIL)."""
    with ThreadPoolExecutor(2) as pool:
        made = [pool.submit(make, dsn) for make in (_declarations, _individus, _contrats,
                                                     _versements)]
        decls, people, contrats, versements = (m.result() for m in made)
    return DsnView(decls, people, contrats, versements, dsn[VERSEMENT_OPS].copy(deep=False))
