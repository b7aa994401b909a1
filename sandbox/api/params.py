"""A Bot API call's parameters as a method reads them: typed access over the query string and
the JSON, urlencoded or multipart body, with Telegram's 400 errors for a missing or malformed
value, and the uploaded files (also reached through ``attach://``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ApiError
from ..state import BotState
from ..telegram import Telegram


@dataclass
class Upload:
    data: bytes
    filename: str | None
    content_type: str | None


class Params:
    """Typed access to request parameters.

    PTB sends form fields whose values are JSON-dumped unless they are plain strings, so an
    integer arrives as ``"123"`` and reply_markup as a JSON string; JSON bodies are typed.
    """

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload]) -> None:
        self.values = values
        self.uploads = uploads

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "") or name in self.uploads

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise ApiError(400, f"Bad Request: {name} is empty")
            return None if value is None else ""
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise ApiError(400, f"Bad Request: {name} is empty")
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def json(self, name: str, error: str | None = None) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError(400, error or f"Bad Request: can't parse {name} JSON") from None
        return value

    def file(self, name: str) -> Upload | str | None:
        """An uploaded file (also via ``attach://``) or a file_id/URL string."""
        if name in self.uploads:
            return self.uploads[name]
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            return self.uploads.get(value[len("attach://") :])
        return value if isinstance(value, str) and value else None


# A Bot API method: (the emulated Telegram, the calling bot, its parameters) -> the result,
# or an awaitable of it (getUpdates waits).
ApiMethod = Callable[[Telegram, BotState, Params], object]
