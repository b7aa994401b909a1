"""The relay: a resident and the volunteer running their order write to each other through the
bot ("brand X is sold out, is Y ok?"), text or a photo, without sharing phone numbers.

It is open while a runner holds the order and once it is at the door ("where did you leave
it?"); it closes when the order ends. Every message is kept, and the staff in charge of the
order can read them.

An order taken by phone for a household without Telegram (电话点单) is relayed through the
person who entered it (`OrderView.resident_telegram_id` is theirs then): the runner's question
reaches them asking to phone the household, and their reply reaches the runner as a resident's
would, saying who phoned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.buttons import Button, relay_action
from bot.errors import TOO_LONG, Refused, check_length
from bot.i18n import LANGUAGES, N_, gettext_for
from bot.limits import TOO_LONG_TO_SEND, check_fits, limit_for
from bot.runtime import Runtime
from bot.services import scope
from bot.services.messages import gettext_of
from bot.services.orders import texts, views
from bot.services.orders.views import OrderView
from bot.services.people import refuse_if_suspended
from models import Order, OrderMessage, OrderStatus, Resident, Staff, Volunteer

S = OrderStatus
RESIDENT = "resident"
VOLUNTEER = "volunteer"
# Delivered still counts: the resident may ask where it was left.
OPEN_FOR_MESSAGES = (S.CLAIMED, S.PURCHASING, S.DELIVERING, S.DELIVERED)

NO_ORDER = N_("This order does not exist.")
NOT_YOURS = N_("Only the resident and the volunteer running order #{id} can write about it.")
NOBODY_YET = N_("No volunteer has taken order #{id} yet, so there is nobody to write to.")
CLOSED = N_("Order #{id} is finished, so the conversation is closed.")
EMPTY = N_("Please type a message, or send a photo.")
NO_CHAT = N_("The resident of order #{id} does not use the bot: please phone them.")
NOT_IN_CHARGE = N_("Only the staff in charge of order #{id} can read its messages.")
# What a sender can correct by sending again (the others close the conversation).
INPUT_REFUSALS = (EMPTY, TOO_LONG, TOO_LONG_TO_SEND)

RELAYED = N_("💬 {name} about {title}:\n{text}")
REPLY = N_("↩️ Reply")
# To the person who took the order by phone: the household has no bot, they phone it.
RELAYED_TO_TAKER = N_(
    "📞 {title} was taken by phone: the household does not use the bot. Please phone it, ask, "
    "then reply to the volunteer with ↩️ below."
)
# To the runner: the answer comes from whoever phoned the household, not from its own chat.
RELAYED_FROM_TAKER = N_("💬 {name}, who phoned the resident, about {title}:\n{text}")


async def can_message(
    session: AsyncSession, order_id: int, telegram_id: int
) -> tuple[OrderView, str]:
    """The order and the sender's role in it ('resident' or 'volunteer'), if they may write
    about it now; Refused otherwise."""
    v = await views.get_view(session, order_id)
    if v is None:
        raise Refused(NO_ORDER)
    if telegram_id == v.resident_telegram_id:
        role = RESIDENT
    else:
        # A suspended volunteer's old card (💬) is refused with the reason, whoever runs it now.
        await refuse_if_suspended(session, telegram_id)
        if telegram_id != v.volunteer_telegram_id:
            raise Refused(NOT_YOURS, id=v.id)
        role = VOLUNTEER
    if S(v.status) == S.OPEN:
        raise Refused(NOBODY_YET, id=v.id)
    if S(v.status) not in OPEN_FOR_MESSAGES:
        raise Refused(CLOSED, id=v.id)
    if not v.resident_telegram_id or (v.relayed and v.entered_by == v.volunteer_telegram_id):
        # No chat (no Telegram, nobody took it by phone), or the runner took the call
        # themselves: there is nobody to write to but the household's phone.
        raise Refused(NO_CHAT, id=v.id)
    return v, role


async def send(
    rt: Runtime,
    session: AsyncSession,
    order_id: int,
    sender_telegram_id: int,
    text: str | None = None,
    photo: str | None = None,
) -> OrderView:
    """Keep one message and owe it to the other party, in their language, with a reply button."""
    v, role = await can_message(session, order_id, sender_telegram_id)
    body = (text or "").strip()
    if not body and photo is None:
        raise Refused(EMPTY)
    limit = rt.settings.limits.max_text_length
    check_length(body, limit)
    to = v.volunteer_telegram_id if role == RESIDENT else v.resident_telegram_id
    assert to is not None
    _ = await gettext_of(rt, session, to)
    title = texts.title(v, _)
    if role == VOLUNTEER:
        message = _(RELAYED).format(name=v.volunteer_first_name, title=title, text=body)
        if v.relayed:
            # To whoever took it by phone, in their private chat: the household to phone.
            header = _(RELAYED_TO_TAKER).format(title=title)
            contact = f"👤 {v.contact_name}  📞 {v.contact_phone}"
            message = "\n".join([header, contact, "", message])
    elif v.relayed:
        taker = await taker_name(session, sender_telegram_id) or _(TAKER)
        message = _(RELAYED_FROM_TAKER).format(name=taker, title=title, text=body)
    else:
        message = _(RELAYED).format(name=v.contact_name, title=title, text=body)
    message = message.strip()
    # As relayed (with the name and the order), it must fit Telegram's limit: refused, not cut.
    check_fits(body, [message], limit_for(photo is not None))
    session.add(
        OrderMessage(
            order_id=v.id,
            sender_role=role,
            sender_telegram_id=sender_telegram_id,
            text=body or None,
            photo=photo,
            at=rt.clock.now(),
        )
    )
    outbox.enqueue(
        session,
        rt.clock,
        chat_id=to,
        text=message,
        buttons=[[Button(_(REPLY), relay_action(v.id))]],
        photo=photo,
    )
    return v


TAKER = N_("the person who took the order")


async def taker_name(session: AsyncSession, telegram_id: int) -> str:
    """The name of a person who takes orders by phone (staff first, then a volunteer); staff
    and volunteer names may be shown to runners and in the ledger, as elsewhere."""
    name = await session.scalar(
        select(Staff.name).where(Staff.telegram_id == telegram_id).order_by(Staff.id).limit(1)
    )
    if name is None:
        name = await session.scalar(
            select(Volunteer.name).where(Volunteer.telegram_id == telegram_id).limit(1)
        )
    return name or ""


async def hold(
    rt: Runtime,
    session: AsyncSession,
    order_id: int,
    resident_telegram_id: int,
    text: str | None = None,
    photo: str | None = None,
) -> OrderMessage:
    """A resident's message about their order nobody has taken yet: kept, and passed on to
    whoever takes it (`pass_held`, at the claim). Taken meanwhile: sent now, like `send`."""
    v = await views.get_view(session, order_id)
    if v is None:
        raise Refused(NO_ORDER)
    if resident_telegram_id != v.resident_telegram_id:
        raise Refused(NOT_YOURS, id=v.id)
    if S(v.status) != S.OPEN:
        await send(rt, session, order_id, resident_telegram_id, text, photo)
        return await _last_message(session, order_id)
    body = (text or "").strip()
    if not body and photo is None:
        raise Refused(EMPTY)
    check_length(body, rt.settings.limits.max_text_length)
    # As the runner will get it, in either language: it must fit then (refused, not cut).
    relayed = (
        tr(RELAYED).format(name=v.contact_name, title=texts.title(v, tr), text=body)
        for tr in map(gettext_for, LANGUAGES)
    )
    check_fits(body, relayed, limit_for(photo is not None))
    held = OrderMessage(
        order_id=v.id,
        sender_role=RESIDENT,
        sender_telegram_id=resident_telegram_id,
        text=body or None,
        photo=photo,
        at=rt.clock.now(),
        held=True,
    )
    session.add(held)
    await session.flush()
    return held


async def _last_message(session: AsyncSession, order_id: int) -> OrderMessage:
    await session.flush()
    found = await session.scalar(
        select(OrderMessage)
        .where(OrderMessage.order_id == order_id)
        .order_by(OrderMessage.id.desc())
        .limit(1)
    )
    assert found is not None
    return found


async def pass_held(rt: Runtime, session: AsyncSession, v: OrderView) -> int:
    """The order was just taken: its runner gets what the resident wrote while it waited,
    oldest first, each with a reply button. Returns how many."""
    if v.volunteer_telegram_id is None:
        return 0
    held = (
        await session.scalars(
            select(OrderMessage)
            .where(OrderMessage.order_id == v.id, OrderMessage.held.is_(True))
            .order_by(OrderMessage.at, OrderMessage.id)
        )
    ).all()
    if not held:
        return 0
    _ = await gettext_of(rt, session, v.volunteer_telegram_id)
    for m in held:
        message = _(RELAYED).format(name=v.contact_name, title=texts.title(v, _), text=m.text or "")
        outbox.enqueue(
            session,
            rt.clock,
            chat_id=v.volunteer_telegram_id,
            text=message.strip(),
            buttons=[[Button(_(REPLY), relay_action(v.id))]],
            photo=m.photo,
        )
        m.held = False
    return len(held)


@dataclass(frozen=True)
class RelayMessage:
    role: str  # resident | volunteer
    sender_name: str
    text: str | None
    photo: str | None
    at: datetime


async def thread(
    session: AsyncSession, order_id: int, staff_telegram_id: int
) -> tuple[OrderView, list[RelayMessage]]:
    """An order's messages, oldest first, for the staff whose scope covers the order."""
    is_staff = await session.scalar(
        select(Staff.id).where(Staff.telegram_id == staff_telegram_id).limit(1)
    )
    if is_staff is None:
        raise Refused(NOT_IN_CHARGE, id=order_id)
    community_id = await session.scalar(select(Order.community_id).where(Order.id == order_id))
    v = await views.get_view(session, order_id)
    if v is None or community_id is None:
        raise Refused(NO_ORDER)
    if staff_telegram_id not in await scope.staff_covering(session, community_id, v.grid_id):
        raise Refused(NOT_IN_CHARGE, id=order_id)
    rows = (
        await session.scalars(
            select(OrderMessage)
            .where(OrderMessage.order_id == order_id)
            .order_by(OrderMessage.at, OrderMessage.id)
        )
    ).all()
    senders = {m.sender_telegram_id for m in rows}
    names: dict[str, dict[int, str]] = {}
    for role, model in ((RESIDENT, Resident), (VOLUNTEER, Volunteer)):
        found = await session.execute(
            select(model.telegram_id, model.name).where(model.telegram_id.in_(senders))
        )
        names[role] = {tid: name for tid, name in found if tid is not None}
    for m in rows:  # for a household without Telegram, whoever took its order by phone wrote
        if m.sender_role == RESIDENT and m.sender_telegram_id not in names[RESIDENT]:
            names[RESIDENT][m.sender_telegram_id] = await taker_name(session, m.sender_telegram_id)
    return v, [
        RelayMessage(
            role=m.sender_role,
            sender_name=names.get(m.sender_role, {}).get(m.sender_telegram_id, ""),
            text=m.text,
            photo=m.photo,
            at=m.at,
        )
        for m in rows
    ]
