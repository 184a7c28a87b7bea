"""The file ledger and the content claims of the intake. Identifiers (SIRET, NIR, matricule) are
always text."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, String, Table, Text

from gedflow.db.tables.base import metadata

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
