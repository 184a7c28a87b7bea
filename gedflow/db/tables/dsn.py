"""What the DSN give: each declaration read, the PAS applied per versement. Identifiers (SIRET,
NIR, matricule) are always text."""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, String, Table, Text

from gedflow.db.tables.base import CASCADE, metadata

# Each DSN declaration read (one SIRET, one month): its identity is a unique key, so the same
# declaration dropped twice changes nothing. statut: integree | test | remplacee | rien.
dsn_declaration = Table(
    "dsn_declaration",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("siret", String(14), nullable=False),
    Column("mois", Date),
    Column("nature", String(2), nullable=False),
    Column("type", String(2), nullable=False),
    Column("fraction", String(2), nullable=False),
    Column("ordre", String(10), nullable=False),
    Column("date_constitution", String(8), nullable=False),
    Column("identifiant_metier", String(15), nullable=False),
    Column("essai_reel", String(4), nullable=False),  # test | reel
    Column("sha256", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("individus", Integer, nullable=False),
    Column("contrats", Integer, nullable=False),
    Column("versements", Integer, nullable=False),
    Column("statut", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # What its latest controls found (gedflow.dsn.controle), for the status board.
    Column("controle_erreurs", Integer, nullable=False, server_default="0"),
    Column("controle_avertissements", Integer, nullable=False, server_default="0"),
    Column("dpae_manquantes", Integer, nullable=False, server_default="0"),
    Index("uq_dsn_declaration_identite", "siret", "nature", "mois", "fraction", "ordre",
          "date_constitution", "essai_reel", unique=True),
)

# The PAS payroll applied, per versement of a DSN (S21.G00.50); the CRM rate history is `taux`.
versement_pas = Table(
    "versement_pas",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dsn_declaration_id", ForeignKey("dsn_declaration.id", ondelete=CASCADE),
           nullable=False, index=True),
    Column("salarie_id", ForeignKey("salarie.id", ondelete=CASCADE), nullable=False,
           index=True),
    Column("date_versement", Date),
    Column("remuneration_nette_fiscale", String(16), nullable=False),
    Column("taux", String(6), nullable=False),
    Column("type_taux", String(2), nullable=False),
    Column("identifiant_taux", String(18), nullable=False),
    Column("montant_pas", String(16), nullable=False),
    Column("montant_soumis", String(16), nullable=False),
)
