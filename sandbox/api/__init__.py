"""The Bot API methods the emulator implements, one function per method, grouped by what they
do (:mod:`.updates`, :mod:`.sending`, :mod:`.editing`, :mod:`.chats`, :mod:`.profile`), with
result shapes as documented so PTB can ``de_json`` them. :data:`METHODS` maps each method name
to its function; :func:`call` runs one.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..errors import ApiError
from ..state import BotState
from ..telegram import Telegram
from . import chats, editing, profile, sending, updates
from .params import ApiMethod, Params, Upload

METHODS: dict[str, ApiMethod] = {
    **updates.METHODS,
    **sending.METHODS,
    **editing.METHODS,
    **chats.METHODS,
    **profile.METHODS,
}
# Telegram matches method names case-insensitively.
CANONICAL = {name.lower(): name for name in METHODS}


async def call(tg: Telegram, bot: BotState, method: str, p: Params) -> Any:
    """Run Bot API ``method`` for ``bot`` (404 for a method the emulator does not know)."""
    name = CANONICAL.get(method.lower())
    if name is None:
        raise ApiError(404, "Not Found: method not found")
    bot.stats["calls"][name] += 1
    result = METHODS[name](tg, bot, p)
    if inspect.isawaitable(result):
        return await result
    return result


__all__ = ["CANONICAL", "METHODS", "ApiMethod", "Params", "Upload", "call"]
