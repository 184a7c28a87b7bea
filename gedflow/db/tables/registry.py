"""The registry: dossier → employeur → salarié → taux / contrats, the registry's version and the
transfer audit. Identifiers (SIRET, NIR, matricule) are always text."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from gedflow.db.tables.base import CASCADE, metadata

dossier = Table(
    "dossier",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("libelle", String(200), nullable=False, server_default=""),
    # DPAE test phases: etape_4 → etape_5 → etape_6 → production (sending issue).
    Column("phase", String(16), nullable=False, server_default="etape_4"),
    # OpenPGP recipient keys (fingerprints): the test key for the test phases, the definitive
    # key from production on.
    Column("cle_test", String(40), nullable=False, server_default=""),
    Column("cle_definitive", String(40), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

employeur = Table(
    "employeur",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dossier_id", ForeignKey("dossier.id", ondelete=CASCADE), nullable=False),
    Column("siret", String(14), nullable=False),
    Column("raison_sociale", String(64), nullable=False),
    Column("ape", String(5), nullable=False, server_default=""),
    Column("adresse1", String(32), nullable=False, server_default=""),
    Column("adresse2", String(32), nullable=False, server_default=""),
    Column("code_postal", String(5), nullable=False, server_default=""),
    Column("ville", String(27), nullable=False, server_default=""),
    Column("telephone", String(11), nullable=False, server_default=""),
    Column("code_urssaf", String(3), nullable=False, server_default=""),
    Column("code_sst", String(10), nullable=False, server_default=""),
    Column("email_ar", String(120), nullable=False, server_default=""),
    UniqueConstraint("dossier_id", "siret", name="uq_employeur_dossier_siret"),
)

salarie = Table(
    "salarie",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("employeur_id", ForeignKey("employeur.id", ondelete=CASCADE), nullable=False),
    Column("matricule", String(30), nullable=False),
    Column("nir", String(15), nullable=False, server_default=""),
    Column("nom", String(64), nullable=False),
    Column("nom_usage", String(64), nullable=False, server_default=""),
    Column("prenoms", String(64), nullable=False, server_default=""),
    Column("sexe", String(1), nullable=False, server_default=""),
    Column("date_naissance", Date),
    Column("lieu_naissance", String(64), nullable=False, server_default=""),
    Column("dept_naissance", String(3), nullable=False, server_default=""),
    UniqueConstraint("employeur_id", "matricule", name="uq_salarie_employeur_matricule"),
)

taux = Table(
    "taux",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("salarie_id", ForeignKey("salarie.id", ondelete=CASCADE), nullable=False, index=True),
    Column("taux_pas", String(6)),  # percent as canonical text "7.50"; NULL = no rate (barème)
    Column("type_taux", String(2), nullable=False, server_default="01"),
    Column("identifiant_crm", String(40), nullable=False, server_default=""),
    Column("date_disponibilite", Date),
    Column("date_effet", Date),
    Column("valide_jusqu_au", Date),
    Column("source", String(400), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Bumped by triggers on every registry change but new rates and a rate's validity (0008).
registre_version = Table(
    "registre_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
)

contrat = Table(
    "contrat",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("salarie_id", ForeignKey("salarie.id", ondelete=CASCADE), nullable=False, index=True),
    Column("date_embauche", Date, nullable=False),
    Column("heure_embauche", String(5), nullable=False, server_default=""),
    Column("nature", String(3), nullable=False),  # CDI / CDD / CTT
    Column("date_fin", Date),
    Column("essai_jours", Integer),
    Column("statut", String(30), nullable=False, server_default="a_declarer"),
    Column("batch_id", String(40), nullable=False, server_default=""),
    Column("numero_dossier", String(5), nullable=False, server_default=""),
    Column("code_retour", String(2), nullable=False, server_default=""),
    # API DPAE: the deposit's flow id (kept before polling: never deposited twice), the bilan.
    Column("idflux", String(40), nullable=False, server_default=""),
    Column("certificat", Text, nullable=False, server_default=""),
    Column("message_retour", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # What a DSN says of the contract (S21.G00.40.007, .009, .010; S21.G00.62.001, .002).
    Column("nature_dsn", String(2), nullable=False, server_default=""),
    Column("numero_contrat", String(20), nullable=False, server_default=""),
    Column("fin_prevue", Date),
    Column("date_fin_reelle", Date),
    Column("motif_fin", String(3), nullable=False, server_default=""),
    UniqueConstraint("salarie_id", "date_embauche", "heure_embauche", name="uq_contrat_embauche"),
)

transfer_audit = Table(
    "transfer_audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("user", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("destination", String(64), nullable=False),
    Column("options", String(200), nullable=False),
    Column("summary", Text, nullable=False),  # JSON: employeurs/salariés copied, conflicts
)

# A hire with its salarié and employer: the join the DPAE side, the board and the follow-up read.
hire_salarie_employeur = contrat.join(salarie, salarie.c.id == contrat.c.salarie_id).join(
    employeur, employeur.c.id == salarie.c.employeur_id)
