"""Escalation as data: the ladder of steps per phase of an order, fired by the sweep."""

from __future__ import annotations

from bot.runtime import Runtime


async def run_due(rt: Runtime) -> int:
    return 0
