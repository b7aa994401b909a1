"""A group-buy's messages kept true as it moves on (DESIGN rule 12): each household's ＋/－ card
is sent through the outbox and its row kept (``GroupBuyMessage``), so that the sweep's close
edits every card the household was shown to its final state (what it took and the total, or
that it took no part; no ＋/－); staff's summaries and the merchant's order are kept the same
way and edited when staff order it and when the merchant delivers it. At the close each
household's copy of the announcement loses its 🛒 too (the notices' own rows, no keeping).

Which cards: a household may open its card more than once (🛒 on the announcement again, 🛒
团购 in the menu); each is a message it may still look at, so each is edited, the newest
``EDITED_CARDS`` of them (a private chat takes about one message a second; an older one still
answers a press with the card closed); a household whose cards are all too old for Telegram
to edit (48 hours) and that took part gets the closed card anew. Every edit is written in the
transaction of the change that owes it, so it is owed once: the close is one conditional
UPDATE, and a second sweep finds nothing to close."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.buttons import Rows
from bot.i18n import Gettext, gettext_for
from bot.runtime import Runtime
from bot.services.groupbuys import buys, texts
from bot.services.notices.text import received_buttons
from bot.services.people import languages_of
from models import (
    GroupBuy,
    GroupBuyMessage,
    Notice,
    NoticeDelivery,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
)

CARD, SUMMARY, MERCHANT = "card", "summary", "merchant"
# Telegram lets a bot edit its message for 48 hours; a margin for the outbox's own delays
# (as bot/services/orders/cards.py).
EDITABLE_FOR = timedelta(hours=47)
EDITED_CARDS = 5

Render = Callable[[Gettext], tuple[str, Rows]]


def keep(
    session: AsyncSession,
    sent: OutboxMessage,
    groupbuy_id: int,
    kind: str,
    resident_id: int | None = None,
) -> None:
    """Remember a message owed about a group-buy (flushed already: its row has an id)."""
    session.add(
        GroupBuyMessage(
            groupbuy_id=groupbuy_id, kind=kind, resident_id=resident_id, outbox_id=sent.id
        )
    )


async def send(
    rt: Runtime,
    session: AsyncSession,
    targets: Sequence[int],
    groupbuy_id: int,
    kind: str,
    render: Render,
    resident_id: int | None = None,
) -> None:
    """Owe each target a message about the group-buy in their language, and keep it."""
    ids = [t for t in dict.fromkeys(targets) if t]
    langs = await languages_of(session, ids, rt.default_language)
    for tid in ids:
        text, rows = render(gettext_for(langs[tid]))
        sent = outbox.enqueue(session, rt.clock, chat_id=tid, text=text, buttons=rows or None)
        await session.flush()
        keep(session, sent, groupbuy_id, kind, resident_id)


async def _kept(
    rt: Runtime, session: AsyncSession, groupbuy_id: int, kind: str, *, young: bool = True
) -> list[tuple[GroupBuyMessage, OutboxMessage]]:
    """The kept messages of a kind not failed, oldest first: those young enough for Telegram
    to edit (``young``), or those too old for it."""
    rows = await session.execute(
        select(GroupBuyMessage, OutboxMessage)
        .join(OutboxMessage, OutboxMessage.id == GroupBuyMessage.outbox_id)
        .where(GroupBuyMessage.groupbuy_id == groupbuy_id, GroupBuyMessage.kind == kind)
        .order_by(GroupBuyMessage.id)
    )
    now = rt.clock.now()
    return [
        (kept, sent)
        for kept, sent in rows.all()
        if sent.status != OutboxStatus.FAILED
        and (now - (sent.sent_at or sent.created_at) < EDITABLE_FOR) == young
    ]


async def _editable(
    rt: Runtime, session: AsyncSession, groupbuy_id: int, kind: str
) -> list[tuple[GroupBuyMessage, OutboxMessage]]:
    return await _kept(rt, session, groupbuy_id, kind)


async def edit_all(
    rt: Runtime, session: AsyncSession, groupbuy_id: int, kind: str, render: Render
) -> int:
    """Owe an edit of every kept message of a kind, each in its reader's language."""
    found = await _editable(rt, session, groupbuy_id, kind)
    langs = await languages_of(
        session, list({sent.chat_id for _k, sent in found}), rt.default_language
    )
    for _kept, sent in found:
        text, rows = render(gettext_for(langs[sent.chat_id]))
        outbox.enqueue_edit(session, rt.clock, original=sent, text=text, buttons=rows or None)
    return len(found)


# --- the household's card --------------------------------------------------------------------


async def send_card(rt: Runtime, session: AsyncSession, c: buys.Card, telegram_id: int) -> None:
    """Owe the household its card (through the outbox), kept while the group-buy is open."""
    # FOR SHARE: a close under way waits for this card to be kept (and then edits it), or has
    # closed it already, and the card is then shown closed (PostgreSQL; SQLite's writes are
    # serial anyway).
    gb = await session.scalar(
        select(GroupBuy)
        .where(GroupBuy.id == c.head.id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    if (
        gb is not None
        and c.resident_id is not None
        and c.is_open
        and not buys.is_open(gb, rt.clock.now())
    ):
        c = await buys.card_of(rt, session, gb, c.resident_id)

    def render(_: Gettext) -> tuple[str, Rows]:
        return texts.card(_, c.head, c.items, c.is_open, rt.timezone)

    if not c.is_open or c.resident_id is None:
        # Closed already: nothing will change on it; not kept.
        text, rows = render(gettext_for(await _language(rt, session, telegram_id)))
        outbox.enqueue(session, rt.clock, chat_id=telegram_id, text=text, buttons=rows or None)
        return
    await send(rt, session, [telegram_id], c.head.id, CARD, render, c.resident_id)


async def _language(rt: Runtime, session: AsyncSession, telegram_id: int) -> str:
    return (await languages_of(session, [telegram_id], rt.default_language))[telegram_id]


async def join(
    rt: Runtime, session: AsyncSession, telegram_id: int, notice_id: int, pressed: int | None
) -> buys.Card:
    """🛒 on the announcement: the receipt noted, the household's card owed and kept. Past
    the deadline no card is sent (the handler says it closed, and what the household took)
    and the pressed announcement loses its 🛒: taking part is over."""
    c = await buys.join(rt, session, telegram_id, notice_id, pressed)
    if c.is_open:
        await send_card(rt, session, c, telegram_id)
        return c
    announced = None
    if pressed is not None:
        announced = (
            await session.execute(
                select(OutboxMessage.id, OutboxMessage.priority)
                .where(
                    OutboxMessage.chat_id == telegram_id,
                    OutboxMessage.message_id == pressed,
                    OutboxMessage.kind == OutboxKind.SEND,
                )
                .order_by(OutboxMessage.id.desc())
                .limit(1)
            )
        ).first()
    if announced is not None:
        # After the receipt's own edit, if it wrote one (it keeps 🛒): at the announcement's
        # priority, so that it goes after that edit (a chat's rows go by priority, then id).
        session.add(
            OutboxMessage(
                **outbox.buttons_row(
                    rt.clock.now(),
                    chat_id=telegram_id,
                    original_id=announced.id,
                    priority=announced.priority,
                )
            )
        )
    return c


def closed_note(_: Gettext, c: buys.Card) -> str:
    """What a press on 🛒 past the deadline is told: closed, and what the household took."""
    took = texts.taken(_, c.items) if any(i.quantity > 0 for i in c.items) else _(texts.WITHOUT_YOU)
    return _(texts.CLOSED_ALERT) + "\n" + took


async def close_cards(rt: Runtime, session: AsyncSession, gb: GroupBuy) -> int:
    """At the close (in its transaction): every household's kept cards (the newest
    ``EDITED_CARDS`` each) edited to the final state, no ＋/－. Returns the edits owed."""
    found = await _editable(rt, session, gb.id, CARD)
    newest: dict[int, list[OutboxMessage]] = {}
    for row, message in reversed(found):
        shown = newest.setdefault(row.resident_id or 0, [])
        if len(shown) < EDITED_CARDS:
            shown.append(message)
    chats = list({m.chat_id for cards in newest.values() for m in cards})
    langs = await languages_of(session, chats, rt.default_language)
    owed = 0
    for resident_id, cards in newest.items():
        c = await buys.card_of(rt, session, gb, resident_id)
        for m in reversed(cards):
            text = texts.closed_card(gettext_for(langs[m.chat_id]), c.head, c.items, rt.timezone)
            outbox.enqueue_edit(session, rt.clock, original=m, text=text)
            owed += 1
    # A household whose every card is too old for Telegram to edit (a group-buy open for days)
    # and that took part gets its closed card anew, once; one that took nothing is not written
    # to (its old card's ＋/－ still answers that it closed).
    old: dict[int, int] = {}
    for row, message in await _kept(rt, session, gb.id, CARD, young=False):
        if row.resident_id is not None and row.resident_id not in newest:
            old[row.resident_id] = message.chat_id
    for resident_id, chat_id in old.items():
        c = await buys.card_of(rt, session, gb, resident_id)
        if any(i.quantity > 0 for i in c.items):
            _ = gettext_for(await _language(rt, session, chat_id))
            text = texts.closed_card(_, c.head, c.items, rt.timezone)
            outbox.enqueue(session, rt.clock, chat_id=chat_id, text=text)
            owed += 1
    return owed


async def close_announcements(rt: Runtime, session: AsyncSession, gb: GroupBuy) -> int:
    """At the close: each household's copy of the announcement loses its 🛒 (taking part is
    over), keeping ✅ where the receipt is still owed. Buttons only, at the broadcast's own
    priority, so order traffic goes first. Returns the edits owed."""
    rows = await session.execute(
        select(NoticeDelivery.notice_id, NoticeDelivery.confirmed_at, OutboxMessage)
        .join(Notice, Notice.id == NoticeDelivery.notice_id)
        .join(OutboxMessage, OutboxMessage.id == NoticeDelivery.outbox_id)
        .where(
            Notice.groupbuy_id == gb.id,
            NoticeDelivery.chat_id > 0,
            OutboxMessage.status != OutboxStatus.FAILED,
        )
    )
    found = [
        (notice_id, confirmed_at, sent)
        for notice_id, confirmed_at, sent in rows.all()
        if rt.clock.now() - (sent.sent_at or sent.created_at) < EDITABLE_FOR
    ]
    langs = await languages_of(
        session, list({sent.chat_id for _n, _c, sent in found}), rt.default_language
    )
    now = rt.clock.now()
    session.add_all(
        OutboxMessage(
            **outbox.buttons_row(
                now,
                chat_id=sent.chat_id,
                original_id=sent.id,
                buttons=None if confirmed else received_buttons(langs[sent.chat_id], notice_id),
                priority=sent.priority,
            )
        )
        for notice_id, confirmed, sent in found
    )
    return len(found)
