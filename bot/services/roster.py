"""The duty roster: shift templates, rostered shifts, swaps, reminders and handover posts."""

from __future__ import annotations

from bot.runtime import Runtime


async def remind_due(rt: Runtime) -> int:
    """Remind each rostered volunteer shortly before their shift; returns how many."""
    return 0


async def handover_due(rt: Runtime) -> int:
    """Post the handover in each grid's group at a shift change; returns how many."""
    return 0
