"""Exceptions shared by the emulator and its client."""

from __future__ import annotations


class ApiError(Exception):
    """A Bot API error: turned into Telegram's ``{"ok": false, ...}`` envelope."""

    def __init__(
        self,
        code: int,
        description: str,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def envelope(self) -> dict:
        body: dict = {"ok": False, "error_code": self.code, "description": self.description}
        parameters: dict = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        if parameters:
            body["parameters"] = parameters
        return body


class SandboxError(Exception):
    """A refused user-side/control action (bad user id, no such button, timeout on the server)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
