"""The CRM side: declarations seen, their anomalies, the rates each communicated, the returns
downloaded and where each retrieval ended. Identifiers (SIRET, NIR, matricule) are always text."""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, String, Table, Text

from gedflow.db.tables.base import CASCADE, metadata

# One row per (CRM, declaration) seen: the idempotency key is identifiant + SIREN + NIC (+ hash),
# and the share of people without a rate feeds the "hold" rule (the January 2021 incident).
crm_declaration = Table(
    "crm_declaration",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("identifiant_crm", String(40), nullable=False),
    Column("kind", String(20), nullable=False),  # nominatif | financier | taux_sur_taux
    Column("siren", String(9), nullable=False),
    Column("nic", String(5), nullable=False),
    Column("siret", String(14), nullable=False, index=True),
    Column("periode", Date),
    Column("sha256", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("personnes", Integer, nullable=False),
    Column("sans_taux", Integer, nullable=False),
    # integre | retenu | deja_integre | anomalies | invalide (SIRET unusable: nothing integrated)
    Column("statut", String(20), nullable=False),
    Column("raison", Text, nullable=False, server_default=""),
    Column("date_disponibilite", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The CRM's identifiant, or "sha256:<file hash>" for a CRM without one: with SIREN and NIC,
    # the declaration's identity, recorded once (the unique key makes "never twice" hold).
    Column("identite", String(80), nullable=False, server_default=""),
    Index("uq_crm_declaration_identite", "identite", "siren", "nic", unique=True),
)

crm_anomalie = Table(
    "crm_anomalie",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("crm_declaration_id", ForeignKey("crm_declaration.id", ondelete=CASCADE),
           nullable=False, index=True),
    Column("code", String(20), nullable=False),
    Column("categorie", String(40), nullable=False),
    Column("message", Text, nullable=False),
    Column("rubrique", String(20), nullable=False),
    Column("valeur", Text, nullable=False),
    Column("nir", String(15), nullable=False),
    Column("ntt", String(40), nullable=False),
    Column("matricule", String(30), nullable=False),
)

# What each integrated CRM nominatif communicated per salarié (its rate, NULL when it gives
# none), with that CRM's identifiant, availability and validity: the DSN controls find the
# rate in force on a date of versement here (`taux` keeps one row while a rate is confirmed).
taux_communique = Table(
    "taux_communique",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("salarie_id", ForeignKey("salarie.id", ondelete=CASCADE), nullable=False, index=True),
    Column("crm_declaration_id", ForeignKey("crm_declaration.id", ondelete=CASCADE),
           index=True),
    Column("identifiant_crm", String(40), nullable=False),
    Column("taux", String(6)),
    Column("date_disponibilite", Date, nullable=False),
    Column("date_effet", Date),  # a future rate: in force from this date
    Column("valide_jusqu_au", Date, nullable=False),
)

# CRM returns (natures 94 and 95) downloaded from the API DSN: one row per return, known by its
# download URL, so a return listed twice (or again after a restart) is never downloaded twice.
retour_crm = Table(
    "retour_crm",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("retour_id", String(1000), nullable=False, unique=True),  # its download URL
    Column("utilisateur", String(64), nullable=False),
    Column("publication", DateTime(timezone=True)),
    Column("fichier", Text, nullable=False),  # relative to the root, where it was dropped
    Column("recupere_le", DateTime(timezone=True), nullable=False),
)

# Where each user's last complete retrieval ended: the next one lists returns from there.
recuperation = Table(
    "recuperation",
    metadata,
    Column("utilisateur", String(64), primary_key=True),
    Column("jusqu_au", DateTime(timezone=True), nullable=False),
)
