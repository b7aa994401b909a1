"""The pieces of callback-data patterns (STYLE 5: ``prefix:verb:id``, anchored and strict).

Callback data comes from the client and can be forged. Each handler's pattern admits only the
values a real button carries: ids are numbers a row of ours can have, words come from the very
enum or table in the code that makes the buttons. Anything else matches no handler and is
answered by the catch-all with the stale-button alert (handlers/app.py), so a handler never
parses a value it did not expect.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from handlers.common import STALE, alert, translator
from handlers.context import AppContext

# Row ids are 32-bit integers on PostgreSQL: a longer number names no row, and would fail in
# the database instead of matching nothing. [0-9], not \d, which also takes other scripts' digits.
ID = "[0-9]{1,9}"
# A day as the buttons write it: 20261130.
DAY = "[0-9]{8}"


def one_of(values: Iterable[str]) -> str:
    """A group matching exactly one of ``values`` (the keys of an enum or a dict)."""
    return "(" + "|".join(re.escape(str(v)) for v in sorted(values, key=str)) + ")"


def _odd(data: str) -> bool:
    """Whitespace or control characters: no button of ours carries them, and a trailing newline
    would slip through a ``$`` (which also matches before a final newline)."""
    return any(c.isspace() or unicodedata.category(c).startswith("C") for c in data)


async def odd_data_guard(update: Update, ctx: AppContext) -> None:
    """Before every handler: callback data no button of ours can carry gets the stale alert."""
    q = update.callback_query
    if q is None or (q.data is not None and not _odd(q.data)):
        return
    _ = await translator(update, ctx)
    await alert(update, _(STALE))
    raise ApplicationHandlerStop
