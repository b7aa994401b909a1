"""Callback data (STYLE 5: ``prefix:verb:id``): one declaration per kind of button gives both
the handler's anchored pattern and the parsed, typed values.

    CLAIM = Callback("o", "claim", order_id=ID)
    CLAIM.handler(claim)            # CallbackQueryHandler(claim, pattern=CLAIM.pattern)
    CLAIM.parse(q.data).order_id    # an int
    CLAIM.data(order_id=12)         # "o:claim:12", for a button made here

Callback data comes from the client and can be forged. Each pattern admits only the values a
real button carries: ids are numbers a row of ours can have, words come from the very enum or
table in the code that makes the buttons. Anything else matches no handler and is answered by
the catch-all with the stale-button alert (handlers/app.py), so a handler never parses a value
it did not expect; ``parse`` refuses (STALE) what its pattern does not match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from telegram import Update
from telegram.ext import ApplicationHandlerStop, CallbackQueryHandler

from bot.errors import STALE, Refused
from handlers.answers import alert
from handlers.context import AppContext

T = TypeVar("T")
Callback_ = Callable[[Update, AppContext], Any]


@dataclass(frozen=True)
class Field(Generic[T]):
    """One value of the data: the regex a real button's value matches, and its type."""

    regex: str
    convert: Callable[[str], T]


def _day(raw: str) -> date:
    try:
        return datetime.strptime(raw, "%Y%m%d").date()
    except ValueError:  # eight digits that are no day: forged
        raise Refused(STALE) from None


# Row ids are 32-bit integers on PostgreSQL: a longer number names no row, and would fail in
# the database instead of matching nothing. [0-9], not \d, which also takes other scripts' digits.
ID: Field[int] = Field("[0-9]{1,9}", int)
# A day as the buttons write it: 20261130.
DAY: Field[date] = Field("[0-9]{8}", _day)


def one_of(values: Iterable[str]) -> Field[str]:
    """Exactly one of ``values`` (the keys of an enum or a dict)."""
    return Field("|".join(re.escape(str(v)) for v in sorted(values, key=str)), str)


def matching(regex: str) -> Field[str]:
    """A word matching ``regex`` (checked again by the service that takes it)."""
    return Field(regex, str)


class Values:
    """The parsed values of one press, by name: ``values.order_id``."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None


class Callback:
    """One kind of button: fixed words, then named fields, joined by ':'."""

    def __init__(self, *words: str, **fields: Field[Any]) -> None:
        self.words = words
        self.fields = fields
        parts = [re.escape(w) for w in words]
        parts += [f"(?P<{name}>{f.regex})" for name, f in fields.items()]
        self.pattern = "^" + ":".join(parts) + "$"
        self._regex = re.compile(self.pattern)

    def matches(self, data: str) -> bool:
        """Whether ``data`` is such a button's (what its handler's pattern admits)."""
        return self._regex.match(data) is not None

    def parse(self, data: str | None) -> Values:
        """The typed values of ``data``; Refused (STALE) if it is not such a button's."""
        m = self._regex.match(data or "")
        if m is None:
            raise Refused(STALE)
        return Values({name: f.convert(m.group(name)) for name, f in self.fields.items()})

    def data(self, **values: object) -> str:
        """The data of such a button (for buttons made in handlers/)."""
        return ":".join([*self.words, *(_text(values[name]) for name in self.fields)])

    def handler(self, callback: Callback_) -> CallbackQueryHandler[AppContext, Any]:
        return CallbackQueryHandler(callback, pattern=self.pattern)


def _text(value: object) -> str:
    return value.strftime("%Y%m%d") if isinstance(value, date) else str(value)


def _odd(data: str) -> bool:
    """Whitespace or control characters: no button of ours carries them, and a trailing newline
    would slip through a ``$`` (which also matches before a final newline)."""
    return any(c.isspace() or unicodedata.category(c).startswith("C") for c in data)


async def odd_data_guard(update: Update, ctx: AppContext) -> None:
    """Before every handler: callback data no button of ours can carry gets the stale alert."""
    q = update.callback_query
    if q is None or (q.data is not None and not _odd(q.data)):
        return
    _ = await ctx.gettext()
    await alert(update, _(STALE))
    raise ApplicationHandlerStop
