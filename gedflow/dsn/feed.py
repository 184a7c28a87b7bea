"""The registry fed from a réel monthly DSN, one transaction per file, vectorised: the
declaration recorded first (its identity a unique key: the same declaration again changes
nothing), then the employer (created, or completed: what the DSN lacks is kept), its salariés
(matched on the NIR, then the matricule, then the NTT; created or updated), their contrats and
the PAS applied per versement. An annule-et-remplace replaces the versements of the
declarations of the same SIRET, month and fraction before it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import Connection, and_, delete, insert, select, update

from gedflow.db.bulk import bulk_insert, bulk_update, insert_new, read_frame, update_rows
from gedflow.db.tables import (
    contrat,
    dossier,
    dsn_declaration,
    employeur,
    salarie,
    versement_pas,
)
from gedflow.dsn.read import DsnView
from schemas.dsn import ANNULE_ET_REMPLACE, NATURE_CONTRAT, SEXE

log = logging.getLogger(__name__)
PERSON = ["nom", "nom_usage", "prenoms", "sexe", "date_naissance", "lieu_naissance",
          "dept_naissance"]


@dataclass(frozen=True)
class Fed:
    """What one declaration did to the registry."""

    siret: str
    mois: str
    statut: str  # integree | deja_integree | test | rien
    raison: str
    salaries_crees: int = 0
    salaries_maj: int = 0
    contrats_crees: int = 0
    contrats_maj: int = 0
    versements: int = 0


def dossier_id(conn: Connection, code: str) -> int:
    """The dossier's id, created if missing."""
    found = conn.execute(select(dossier.c.id).where(dossier.c.code == code)).scalar()
    if found is None:
        found = conn.execute(insert(dossier).values(code=code, created_at=datetime.now(UTC))
                             ).inserted_primary_key[0]
    return found


def dossier_of_siret(conn: Connection, siret: str) -> str | None:
    return conn.execute(select(dossier.c.code).join(employeur, employeur.c.dossier_id
                                                    == dossier.c.id)
                        .where(employeur.c.siret == siret).order_by(dossier.c.id)).scalar()


def _record(conn: Connection, decl: dict, statut: str, sha256: str, source: str,
            counts: tuple[int, int, int]) -> int | None:
    """The declaration's row, or None when its identity is already recorded."""
    values = dict(
        siret=decl["siret"][:14], mois=date.fromisoformat(decl["mois"]) if decl["mois"] else None,
        nature=decl["nature"][:2], type=decl["type"][:2], fraction=decl["fraction"][:2],
        ordre=decl["ordre"][:10], date_constitution=decl["date_constitution"][:8],
        identifiant_metier=decl["identifiant_metier"][:15],
        essai_reel="reel" if decl["reel"] else "test", sha256=sha256, source=source,
        individus=counts[0], contrats=counts[1], versements=counts[2], statut=statut,
        created_at=datetime.now(UTC))
    return insert_new(conn, dsn_declaration, values,
                      ["siret", "nature", "mois", "fraction", "ordre", "date_constitution",
                       "essai_reel"])


def _employeur(conn: Connection, dossier_code: str, decl: dict) -> int:
    """The employer of the declaration's SIRET in the dossier: created, or completed with
    what the DSN gives (never blanked)."""
    given = {"ape": decl["apet"] or decl["apen"], "adresse1": decl["adresse"][:32],
             "code_postal": decl["code_postal"][:5], "ville": decl["ville"][:27]}
    given = {k: v for k, v in given.items() if v}
    folder = dossier_id(conn, dossier_code)
    found = conn.execute(select(employeur.c.id).where(and_(
        employeur.c.dossier_id == folder, employeur.c.siret == decl["siret"]))).scalar()
    if found is None:
        return conn.execute(insert(employeur).values(
            dossier_id=folder, siret=decl["siret"], raison_sociale="", **given)
        ).inserted_primary_key[0]
    if given:
        conn.execute(update(employeur).where(employeur.c.id == found).values(**given))
    return found


def matricule_key(people: pd.DataFrame) -> pd.Series:
    """The key a DSN individual has in the registry besides the NIR: the matricule, else the
    NTT, else one derived from the NIR (never the NIR itself: the matricule shows in
    reports)."""
    key = people["matricule"].where(people["matricule"] != "", people["ntt"])
    derive = (key == "") & (people["nir"] != "")
    if derive.any():  # rare: neither matricule nor NTT
        key = key.copy()
        key[derive] = people.loc[derive, "nir"].map(
            lambda nir: "DSN-" + hashlib.sha256(nir.encode()).hexdigest()[:12])
    return key


def _salaries(conn: Connection, employer: int, people: pd.DataFrame) -> tuple[pd.Series, int, int]:
    """Each individual's salarie id (index of `people`); created and updated counts."""
    registry = read_frame(conn, select(salarie.c.id, salarie.c.matricule, salarie.c.nir)
                          .where(salarie.c.employeur_id == employer), ["id", "matricule", "nir"])
    registry["nir13"] = registry["nir"].str[:13]
    ids = pd.Series(pd.NA, index=people.index, dtype="Int64")
    with_nir = people[people["nir"] != ""]
    by_nir = registry[registry["nir13"] != ""].drop_duplicates("nir13").set_index("nir13")["id"]
    ids.loc[with_nir.index] = with_nir["nir"].map(by_nir).astype("Int64")
    by_key = registry.drop_duplicates("matricule").set_index("matricule")["id"]
    left = ids.isna()
    ids.loc[left] = people.loc[left, "_matricule"].map(by_key).astype("Int64")
    values = people.assign(
        sexe=people["sexe"].map(SEXE).fillna(""),
        date_naissance=people["date_naissance"].where(people["date_naissance"] != "", None),
        nom=people["nom"].str.slice(0, 64), nom_usage=people["nom_usage"].str.slice(0, 64),
        prenoms=people["prenoms"].str.slice(0, 64),
        lieu_naissance=people["lieu_naissance"].str.slice(0, 64),
        dept_naissance=people["dept_naissance"].str.slice(0, 3))
    known = values[ids.notna()]
    bulk_update(conn, salarie, ["nir", *PERSON],
                update_rows(known, ["nir", *PERSON], ids[ids.notna()]))
    new = values[ids.isna()].drop_duplicates("_matricule")
    bulk_insert(conn, salarie, new[["nir", *PERSON]].assign(
        employeur_id=employer, matricule=new["_matricule"].str.slice(0, 30)))
    if len(new):
        registry = read_frame(conn, select(salarie.c.id, salarie.c.matricule)
                              .where(salarie.c.employeur_id == employer), ["id", "matricule"])
        by_key = registry.set_index("matricule")["id"]
        left = ids.isna()
        ids.loc[left] = people.loc[left, "_matricule"].str.slice(0, 30).map(by_key).astype(
            "Int64")
    return ids, len(new), len(known)


def _contrats(conn: Connection, contrats: pd.DataFrame, ids: pd.Series) -> tuple[int, int]:
    """Each DSN contract on its salarié's contrat of the same start date (updated), else new."""
    rows = contrats.assign(salarie_id=contrats["_parent"].map(ids))
    rows = rows[rows["salarie_id"].notna() & (rows["date_debut"] != "")]
    if rows.empty:
        return 0, 0
    salaries = [int(i) for i in rows["salarie_id"].unique()]
    existing = read_frame(conn, select(contrat.c.id, contrat.c.salarie_id,
                                       contrat.c.date_embauche)
                          .where(contrat.c.salarie_id.in_(salaries)),
                          ["id", "salarie_id", "date_embauche"])
    existing["date_debut"] = existing["date_embauche"].astype(str)
    existing = existing.drop_duplicates(["salarie_id", "date_debut"])
    rows = rows.assign(salarie_id=rows["salarie_id"].astype("int64")).merge(
        existing[["id", "salarie_id", "date_debut"]], on=["salarie_id", "date_debut"],
        how="left")
    facts = rows.assign(
        nature_dsn=rows["nature"], numero_contrat=rows["numero"].str.slice(0, 20),
        fin_prevue=rows["fin_prevue"].where(rows["fin_prevue"] != "", None),
        date_fin_reelle=rows["date_fin"].where(rows["date_fin"] != "", None),
        motif_fin=rows["motif_fin"].str.slice(0, 3))
    columns = ["nature_dsn", "numero_contrat", "fin_prevue", "date_fin_reelle", "motif_fin"]
    known = facts[facts["id"].notna()]
    bulk_update(conn, contrat, columns, update_rows(known, columns, known["id"]))
    new = facts[facts["id"].isna()].drop_duplicates(["salarie_id", "date_debut"])
    bulk_insert(conn, contrat, new[columns].assign(
        salarie_id=new["salarie_id"], date_embauche=new["date_debut"],
        nature=new["nature"].map(NATURE_CONTRAT).fillna(""),
        date_fin=new["date_fin"].where(new["date_fin"] != "", new["fin_prevue"]).replace("", None),
        statut="dsn", created_at=datetime.now(UTC).isoformat(sep=" ")))
    return len(new), len(known)


def _versements(conn: Connection, declaration: int, versements: pd.DataFrame,
                ids: pd.Series) -> int:
    rows = versements.assign(salarie_id=versements["_parent"].map(ids))
    rows = rows[rows["salarie_id"].notna()]
    bulk_insert(conn, versement_pas, pd.DataFrame({
        "dsn_declaration_id": declaration, "salarie_id": rows["salarie_id"].astype("int64"),
        "date_versement": rows["date_versement"].where(rows["date_versement"] != "", None),
        "remuneration_nette_fiscale": rows["remuneration_nette_fiscale"],
        "taux": rows["taux"].str.slice(0, 6), "type_taux": rows["type_taux"],
        "identifiant_taux": rows["identifiant_taux"], "montant_pas": rows["montant_pas"],
        "montant_soumis": rows["montant_soumis"]}))
    return len(rows)


def _replace_earlier(conn: Connection, decl: dict, declaration: int) -> int:
    """An annule-et-remplace: the earlier declarations of its SIRET, month and fraction lose
    their versements (the new ones stand)."""
    earlier = conn.execute(select(dsn_declaration.c.id).where(and_(
        dsn_declaration.c.siret == decl["siret"], dsn_declaration.c.nature == decl["nature"],
        dsn_declaration.c.mois == (date.fromisoformat(decl["mois"]) if decl["mois"] else None),
        dsn_declaration.c.fraction == decl["fraction"], dsn_declaration.c.id != declaration,
        dsn_declaration.c.statut == "integree"))).scalars().all()
    if earlier:
        conn.execute(delete(versement_pas).where(versement_pas.c.dsn_declaration_id.in_(earlier)))
        conn.execute(update(dsn_declaration).where(dsn_declaration.c.id.in_(earlier))
                     .values(statut="remplacee"))
    return len(earlier)


def feed(conn: Connection, view: DsnView, dossier_code: str | None, sha256: str,
         source: str) -> list[Fed]:
    """Record every declaration of the file and feed the registry from the réel monthly ones;
    `dossier_code` None: the dossier already holding each SIRET."""
    done = []
    for decl in view.declarations.to_dict("records"):
        people = view.individus[view.individus["_decl"] == decl["_id"]]
        contrats = view.contrats[view.contrats["_decl"] == decl["_id"]]
        versements = view.versements[view.versements["_decl"] == decl["_id"]]
        counts = (len(people), len(contrats), len(versements))
        if not decl["reel"]:
            statut, raison = "test", "DSN de test : lue et contrôlée, rien n'est intégré"
        elif not decl["a_integrer"]:
            statut, raison = "rien", (f"DSN nature {decl['nature']} type {decl['type']} : rien "
                                      "à intégrer")
        else:
            statut, raison = "integree", "registre alimenté"
        row = _record(conn, decl, statut, sha256, source, counts)
        if row is None:
            done.append(Fed(decl["siret"], decl["mois"], "deja_integree",
                            "déclaration déjà intégrée : rien de modifié"))
            continue
        if statut != "integree":
            done.append(Fed(decl["siret"], decl["mois"], statut, raison))
            continue
        code = dossier_code or dossier_of_siret(conn, decl["siret"])
        employer = _employeur(conn, code, decl)
        people = people.assign(_matricule=matricule_key(people))
        ids, created, updated = _salaries(conn, employer, people)
        ids.index = people["_id"].to_numpy()
        new_contrats, known_contrats = _contrats(conn, contrats, ids)
        count = _versements(conn, row, versements, ids)
        if decl["type"] == ANNULE_ET_REMPLACE:
            replaced = _replace_earlier(conn, decl, row)
            raison += f" ; remplace {replaced} déclaration(s) précédente(s)"
        done.append(Fed(decl["siret"], decl["mois"], statut, raison, created, updated,
                        new_contrats, known_contrats, count))
    for fed in done:
        log.info("DSN SIRET %s %s: %s", fed.siret, fed.mois, fed.statut)
    return done
