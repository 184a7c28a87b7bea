"""The DPAE batches built (the AR matches its acknowledgements back to them). Identifiers (SIRET,
NIR, matricule) are always text."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, String, Table, Text

from gedflow.db.tables.base import metadata

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
