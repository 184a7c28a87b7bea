"""gedflow's tables (SQLAlchemy Core), by area; every table of the one `metadata`."""

from gedflow.db.tables.base import CASCADE, metadata
from gedflow.db.tables.crm import (
    crm_anomalie,
    crm_declaration,
    recuperation,
    retour_crm,
    taux_communique,
)
from gedflow.db.tables.dpae import dpae_batch
from gedflow.db.tables.dsn import dsn_declaration, versement_pas
from gedflow.db.tables.intake import contenu, ledger
from gedflow.db.tables.registry import (
    contrat,
    dossier,
    employeur,
    hire_salarie_employeur,
    registre_version,
    salarie,
    taux,
    transfer_audit,
)

__all__ = [
    "CASCADE", "metadata", "dossier", "employeur", "salarie", "taux", "registre_version",
    "contrat", "hire_salarie_employeur", "transfer_audit", "dsn_declaration", "versement_pas",
    "dpae_batch", "ledger",
    "contenu", "crm_declaration", "crm_anomalie", "taux_communique", "retour_crm",
    "recuperation"
]
