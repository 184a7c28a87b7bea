"""Where each user's last complete CRM retrieval ended (`gedflow status` reads it on the
driver, without the retrieval's imports: HTTP client, XML, frames)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gedflow.db.reading import moment, rows


def retrieved_until(conn: Any) -> dict[str, datetime]:
    """User → the end of their last complete retrieval."""
    return {user: moment(until)
            for user, until in rows(conn, "SELECT utilisateur, jusqu_au FROM recuperation")}
