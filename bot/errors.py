"""Refusals a service returns to the user: a translatable message and its parameters."""

from __future__ import annotations

from typing import Any

from bot.i18n import Gettext


class Refused(Exception):
    """The request is understood but not allowed now. ``message`` is marked with N_()."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    def render(self, _: Gettext) -> str:
        return _(self.message).format(**self.params)
