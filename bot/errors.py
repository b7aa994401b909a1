"""Refusals a service returns to the user: a translatable message and its parameters."""

from __future__ import annotations

from typing import Any

from bot.i18n import N_, Gettext, Plural, ngettext


class Refused(Exception):
    """The request is understood but not allowed now. ``message`` is marked with N_(), or is
    a P_() plural, whose form follows the parameter ``n``."""

    def __init__(self, message: str | Plural, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    def render(self, _: Gettext) -> str:
        params = {k: _(v) if isinstance(v, Msg) else v for k, v in self.params.items()}
        if isinstance(self.message, tuple):
            return ngettext(_, self.message, int(params["n"])).format(**params)
        return _(self.message).format(**params)


class Msg(str):
    """A parameter that is itself a msgid: translated when the refusal is shown."""

    __slots__ = ()


# The one answer to a button that is stale, forged or someone else's (DESIGN rule 7).
STALE = N_("This button is out of date or not for you. Nothing was changed.")


def stale() -> Refused:
    """The refusal of a stale, forged or someone else's button: ``raise stale()``."""
    return Refused(STALE)


TOO_LONG = N_("That is too long ({n} characters). Please keep it under {limit}.")


def check_length(text: str, limit: int) -> str:
    """Refuse an over-long text with the one message every form uses."""
    if len(text) > limit:
        raise Refused(TOO_LONG, n=len(text), limit=limit)
    return text
