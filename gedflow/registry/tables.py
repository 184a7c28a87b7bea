"""Registry tables (SQLAlchemy Core): dossier → employeur → salarié → taux / contrats, plus the
file ledger and the transfer audit. Identifiers (SIRET, NIR, matricule) are always text.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

CASCADE = "CASCADE"

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

# Every dpae.txt / dpae.xml built: the AR issue matches acknowledgements back to these.
dpae_batch = Table(
    "dpae_batch",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("mode", String(4), nullable=False),  # test | reel
    Column("format", String(4), nullable=False),  # flat | xml | both
    Column("records", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("path", Text, nullable=False),  # relative to the root
    Column("contrats", Text, nullable=False),  # JSON list of contrat ids, in record order
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Sending: "" (not yet) → en_cours (committed before the SMTP call) → envoye. A batch found
    # en_cours after a crash is never resent automatically: it may have left.
    Column("envoi", String(10), nullable=False, server_default=""),
    Column("message_id", String(200), nullable=False, server_default=""),
    Column("envoye_at", DateTime(timezone=True)),
)

# The file ledger: one row per dropped file (claim). `state` walks claimed → moving → done; a
# crash leaves a row in claimed/moving that the next run completes.
ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("source_path", Text, nullable=False),  # relative to inbox/
    Column("claim_path", Text, nullable=False, unique=True),  # relative to the root
    Column("size", Integer, nullable=False),
    Column("state", String(10), nullable=False),
    Column("outcome", String(12)),  # archived | quarantined | duplicate
    Column("final_path", Text),  # relative to the root
    Column("report_path", Text),
    Column("reason", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("processed_at", DateTime(timezone=True)),
)

# Which ledger row holds each content: the one archiving it (or processing it now). The key is
# the SHA-256, so two files of the same bytes cannot both be processed, whoever runs them.
contenu = Table(
    "contenu",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("ledger_id", Integer, nullable=False),
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
