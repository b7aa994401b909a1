"""The runner's private card of a task, kept true wherever the task was moved from: a step made
on another message (a /mytasks copy, a reminder) edits the card too; a task given back or taken
away leaves it without the address, the phone and the buttons."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.i18n import gettext_for
from bot.runtime import Runtime
from bot.services.orders import texts
from bot.services.orders.views import OrderView
from bot.services.people import language_of
from models import Order, OutboxKind, OutboxMessage, OutboxStatus


async def follows(
    rt: Runtime, session: AsyncSession, o: Order, v: OrderView, shown_in: int | None
) -> None:
    """The runner moved the task from another message than their card (a /mytasks copy, a
    reminder; ``shown_in``, the pressed message, is edited by the caller): the card is edited
    too, so it never offers a step already made. A card whose message id is not recorded yet
    (the dispatcher records sends after them) is edited as well: the edit waits for it."""
    card = await session.get(OutboxMessage, o.runner_card_id) if o.runner_card_id else None
    if shown_in is None or card is None:
        return
    # An edit still waiting (for the card's id, say) shows an older step: sent after the
    # pressed card's own edit, it would put back a button already used. The newest wins.
    await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.edit_of == card.id,
            OutboxMessage.kind == OutboxKind.EDIT,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
    )
    if card.message_id == shown_in:
        return
    await refresh(rt, session, card.id, v.volunteer_telegram_id, v)


async def withdrawn(
    rt: Runtime,
    session: AsyncSession,
    card_id: int | None,
    runner: int,
    v: OrderView,
    shown_in: int | None,
) -> None:
    """The runner gave the task back from another message than their card: the card loses
    the address, the phone and the buttons, as the pressed message does."""
    card = await session.get(OutboxMessage, card_id) if card_id else None
    if shown_in is None or card is None or card.message_id == shown_in:
        return  # (an unrecorded message id: edited anyway, as in follows)
    lang = await language_of(session, runner, rt.default_language)
    text = texts.runner_withdrawn(v, gettext_for(lang))
    outbox.enqueue_edit(session, rt.clock, original=card, text=text)


async def refresh(
    rt: Runtime, session: AsyncSession, card_id: int | None, runner: int | None, v: OrderView
) -> None:
    """The runner's private card edited to the task as it is now (its buttons gone once the
    task is no longer theirs to move)."""
    card = await session.get(OutboxMessage, card_id) if card_id else None
    if card is None or runner is None:
        return
    lang = await language_of(session, runner, rt.default_language)
    text, rows = texts.runner_card(v, gettext_for(lang), rt.timezone)
    outbox.enqueue_edit(session, rt.clock, original=card, text=text, buttons=rows)
