"""The audit log: who did what to what, written in the caller's transaction (never commits)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from models import AuditEntry


async def record(
    session: AsyncSession,
    clock: Clock,
    actor: int | None,
    action: str,
    target: object,
    **details: Any,
) -> None:
    """Add one audit row; `actor` is a Telegram id, or None for the command line."""
    session.add(
        AuditEntry(
            actor_telegram_id=actor,
            action=action,
            target=str(target),
            details={k: _plain(v) for k, v in details.items()},
            at=clock.now(),
        )
    )


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)
