"""The flood guard (handler group -2): at most N updates a minute from one person in private
chat; past that, one friendly answer and the rest ignored until the minute has passed. On one
SQLite process it counts in memory; on PostgreSQL, where several instances may share the
updates, it counts in the database (bot.flood_counters), so they limit a person together."""

from __future__ import annotations

import time
from collections import deque

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.flood_counters import FloodCounters
from handlers.answers import alert, answer, is_private
from handlers.context import AppContext


class FloodGuard:
    """At most N updates a minute from one person in private chat; past that, one friendly
    answer and the rest are ignored until the minute has passed (a stuck key, a child, a
    script). Group chats are not limited: a claim must never be refused for speed.

    Memory is bounded by the people seen in the last two minutes: once a window has passed,
    everyone whose window is empty is forgotten (a long-running bot meets many thousands)."""

    WINDOW = 60.0

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}
        self._pruned_at = float("-inf")
        # The shared counts, made on the first update when the database is PostgreSQL.
        self.counters: FloodCounters | None = None

    def allow(self, user_id: int, now: float) -> tuple[bool, bool]:
        """(allowed, warn now)."""
        if now - self._pruned_at >= self.WINDOW:
            self._prune(now)
        q = self._seen.setdefault(user_id, deque())
        while q and q[0] <= now - self.WINDOW:
            q.popleft()
        if len(q) < self.per_minute:
            q.append(now)
            return True, False
        warn = self._warned.get(user_id, float("-inf")) <= now - self.WINDOW
        if warn:
            self._warned[user_id] = now
        return False, warn

    def _prune(self, now: float) -> None:
        """Forget everyone with nothing in their window (at most once a window: amortised O(1)
        per update)."""
        cutoff = now - self.WINDOW
        self._seen = {u: q for u, q in self._seen.items() if q and q[-1] > cutoff}
        self._warned = {u: t for u, t in self._warned.items() if t > cutoff}
        self._pruned_at = now

    def tracked(self) -> int:
        """How many people the guard remembers (for tests and the curious)."""
        return len(self._seen.keys() | self._warned.keys())


FLOOD_KEY = "flood_guard"


async def flood_guard(update: Update, ctx: AppContext) -> None:
    if not is_private(update) or update.effective_user is None:
        return
    guard: FloodGuard = ctx.application.bot_data[FLOOD_KEY]
    user_id = update.effective_user.id
    db = ctx.rt.db
    if db.sqlite:  # one process: counted in memory, no write per update
        allowed, warn = guard.allow(user_id, time.monotonic())
    else:
        if guard.counters is None:
            guard.counters = FloodCounters(db, guard.WINDOW)
        now = ctx.rt.clock.now().timestamp()
        allowed, warn = await guard.counters.hit(user_id, now, guard.per_minute)
    if allowed:
        return
    if warn:
        _ = await ctx.gettext()
        text = _("You are sending messages very fast. Please wait a minute, then try again.")
        if update.callback_query:
            await alert(update, text)
        elif update.effective_chat:
            await update.effective_chat.send_message(text)
    elif update.callback_query:
        await answer(update.callback_query)
    raise ApplicationHandlerStop
