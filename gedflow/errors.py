"""Error tree of gedflow. Each error carries a stable reason code and enough context for a person.

`InputError` (and subclasses) means the *file* is at fault: the file goes to quarantine and the
message becomes its `.reason.txt`. Anything else is a bug or an environment problem.
"""

from __future__ import annotations


class GedflowError(Exception):
    """Base class: `code` is stable and machine-readable, the message is for people."""

    code = "erreur"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code


class ConfigError(GedflowError):
    code = "configuration"


class RegistryUnreachable(GedflowError):
    """The registry's database does not answer (server down, wrong address, refused)."""

    code = "registre_injoignable"


class InputError(GedflowError):
    """A dropped file that cannot be processed.

    `where` says where the problem is (line, field), `todo` what the user should do about it.
    """

    code = "fichier_invalide"

    def __init__(
        self, message: str, *, code: str | None = None, where: str = "", todo: str = ""
    ) -> None:
        super().__init__(message, code=code)
        self.where = where
        self.todo = todo

    def explain(self) -> str:
        """The text of the quarantine reason file."""
        lines = [f"Problème : {self}", f"Code : {self.code}"]
        if self.where:
            lines.append(f"Où : {self.where}")
        if self.todo:
            lines.append(f"Que faire : {self.todo}")
        return "\n".join(lines) + "\n"


class TransferError(GedflowError):
    code = "transfert"


class StorageError(GedflowError):
    """The disk is full or the outbox not writable: the file is not at fault and stays claimed,
    to be processed again once there is room."""

    code = "stockage"
