"""Drafts: the order form in progress, from the first question to the order it becomes.

A draft keeps the resident's answers (the questions are `form`'s) until they send it; sending
turns it into an order once (a conditional UPDATE on the draft, so a repeated press returns the
same order) and hands the new task to `routing`. The household's cap on orders under way is
`household_cap`'s; whether a typed answer fits the cards it will be shown on, `card_fit`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.db import affected_rows
from bot.errors import Refused, stale
from bot.i18n import N_
from bot.runtime import Runtime
from bot.services import building_status, care_flags, ladder
from bot.services.isolation import isolating
from bot.services.orders import card_fit, cards, form, household_cap, routing
from bot.services.orders.views import OrderView, get_view, load, residents_order, view
from models import (
    Actor,
    Building,
    Category,
    Order,
    OrderDraft,
    OrderEvent,
    OrderStatus,
    Recipient,
    Resident,
    Urgency,
)

S = OrderStatus


def local_clock(rt: Runtime) -> time:
    """The community's local clock time now (which time windows are still ahead today)."""
    return rt.clock.now().astimezone(ZoneInfo(rt.timezone)).time()


@dataclass(frozen=True)
class DraftView:
    id: int
    category: str | None
    description: str | None
    photo: str | None
    voice: str | None
    urgency: str | None
    time_window: str | None
    payment: str | None
    doorstep: bool
    recipient_id: int | None
    details: dict[str, Any]
    order_id: int | None
    resident_id: int = 0
    # A phone order's form (电话点单): who fills it in for the household.
    entered_by: int | None = None

    @property
    def answers(self) -> dict[str, Any]:
        """Every answer by the form's keys (columns and details together)."""
        return {
            **self.details,
            "description": self.description,
            "photo": self.photo,
            "voice": self.voice,
            "urgency": self.urgency,
            "time_window": self.time_window,
            "payment": self.payment,
        }

    @property
    def next_step(self) -> form.Step | None:
        return form.next_step(self.category, self.answers) if self.category else None


def _draft_view(d: OrderDraft) -> DraftView:
    return DraftView(
        id=d.id,
        category=d.category,
        description=d.description,
        photo=d.photo,
        voice=d.voice,
        urgency=d.urgency,
        time_window=d.time_window,
        payment=d.payment,
        doorstep=d.doorstep if d.doorstep is not None else True,
        recipient_id=d.recipient_id,
        details=dict(d.details or {}),
        order_id=d.order_id,
        resident_id=d.resident_id,
        entered_by=d.entered_by,
    )


async def _resident_or_refuse(session: AsyncSession, telegram_id: int) -> Resident:
    resident = await session.scalar(select(Resident).where(Resident.telegram_id == telegram_id))
    if resident is None:
        raise Refused(N_("Please register your address first: press /start."))
    return resident


async def start_draft(
    rt: Runtime, session: AsyncSession, telegram_id: int, category: str | None = None
) -> DraftView:
    resident = await _resident_or_refuse(session, telegram_id)
    # The building's status may forbid single errands (issue 17): said before the form.
    await building_status.check_errands(rt, session, resident.building_id)
    await household_cap.check(rt, session, resident.id)
    return await _new_draft(
        rt, session, resident.id, category=Category(category).value if category else None
    )


async def _new_draft(
    rt: Runtime,
    session: AsyncSession,
    resident_id: int,
    *,
    category: str | None = None,
    entered_by: int | None = None,
) -> DraftView:
    """An empty form for the household (left at the door unless changed)."""
    now = rt.clock.now()
    d = OrderDraft(
        resident_id=resident_id,
        category=category,
        entered_by=entered_by,
        details={},
        doorstep=True,
        created_at=now,
        updated_at=now,
    )
    session.add(d)
    await session.flush()
    return _draft_view(d)


async def start_phone_draft(
    rt: Runtime, session: AsyncSession, telegram_id: int, resident_id: int
) -> DraftView:
    """An order taken by phone (电话点单): the form is filled in by ``telegram_id`` (staff of
    the household's grid, or a volunteer they allowed) for the household, with its checks."""
    from bot.services import phone_orders  # the household's scope; it imports this module

    await phone_orders.household_in_reach(session, telegram_id, resident_id)
    household = await session.get(Resident, resident_id)
    assert household is not None
    await building_status.check_errands(rt, session, household.building_id, by_phone=True)
    await household_cap.check(rt, session, resident_id, by_phone=True)
    return await _new_draft(rt, session, resident_id, entered_by=telegram_id)


async def _own_draft(session: AsyncSession, draft_id: int, telegram_id: int) -> OrderDraft:
    """The draft, if this person fills it in: their own, or a phone order they entered."""
    d = await session.scalar(
        select(OrderDraft)
        .join(Resident, Resident.id == OrderDraft.resident_id)
        .where(
            OrderDraft.id == draft_id,
            or_(
                (Resident.telegram_id == telegram_id) & OrderDraft.entered_by.is_(None),
                OrderDraft.entered_by == telegram_id,
            ),
        )
    )
    if d is None:
        raise Refused(N_("This order form has expired. Press Order to start a new one."))
    return d


async def _open_draft(session: AsyncSession, draft_id: int, telegram_id: int) -> OrderDraft:
    d = await _own_draft(session, draft_id, telegram_id)
    if d.submitted_at is not None:
        raise Refused(N_("This order was already sent as #{id}."), id=d.order_id)
    return d


async def get_draft(session: AsyncSession, draft_id: int, telegram_id: int) -> DraftView:
    return _draft_view(await _own_draft(session, draft_id, telegram_id))


async def answer(
    rt: Runtime,
    session: AsyncSession,
    draft_id: int,
    telegram_id: int,
    key: str,
    *,
    text: str | None = None,
    choice: str | None = None,
    photo: str | None = None,
    voice: str | None = None,
) -> DraftView:
    """Record one answer of the form: a typed text, a button's value, a photo or a voice."""
    d = await _open_draft(session, draft_id, telegram_id)
    now = rt.clock.now()
    if key == "category":
        if choice not in {c.value for c in Category}:
            raise stale()
        category = Category(choice).value
        if d.category != category:
            d.details = {}
            d.description = d.photo = d.voice = None
        d.category = category
    else:
        if not d.category:
            raise Refused(N_("This order form has expired. Press Order to start a new one."))
        st = form.step(d.category, key)
        if st is None:
            raise stale()
        limit = rt.settings.limits.max_text_length
        if photo is not None or voice is not None:
            if not st.media:
                raise Refused(N_("Please answer with the buttons or with text."))
            if photo is not None:
                d.photo = photo
            if voice is not None:
                d.voice = voice
            value = form.clean(key, text, limit) if text and text.strip() else None
        elif choice is not None:
            value = form.choice_value(d.category, key, choice)
            form.check_offered(st, value, _draft_view(d).answers, local_clock(rt))
        elif text is not None:
            if not st.text:
                raise Refused(N_("Please use the buttons to answer."))
            value = form.clean(key, text, limit)
        else:
            value = None
        if key in form.COLUMN_KEYS:
            if value is not None or key != "description":
                setattr(d, key, value)
            elif d.description is None:
                d.description = ""
        elif value is not None:
            d.details = {**(d.details or {}), key: value}
        if key == "urgency" and form.stale_window(_draft_view(d).answers, local_clock(rt)):
            d.time_window = None  # asked again: the window chosen has ended for today
        if text is not None and value:
            await card_fit.check(rt, session, d, str(value))
    d.updated_at = now
    await session.flush()
    return _draft_view(d)


async def set_recipient(
    rt: Runtime, session: AsyncSession, draft_id: int, telegram_id: int, recipient_id: int | None
) -> DraftView:
    d = await _open_draft(session, draft_id, telegram_id)
    if recipient_id is not None:
        r = await session.get(Recipient, recipient_id)
        if r is None or r.owner_id != d.resident_id or r.removed:
            raise stale()
    d.recipient_id = recipient_id
    d.updated_at = rt.clock.now()
    return _draft_view(d)


async def toggle_doorstep(
    rt: Runtime, session: AsyncSession, draft_id: int, telegram_id: int
) -> DraftView:
    d = await _open_draft(session, draft_id, telegram_id)
    d.doorstep = not d.doorstep
    d.updated_at = rt.clock.now()
    return _draft_view(d)


async def update_draft(
    rt: Runtime, session: AsyncSession, draft_id: int, telegram_id: int, **fields: Any
) -> DraftView:
    """Several answers at once (tests and "order again")."""
    view_: DraftView | None = None
    if "category" in fields:
        view_ = await answer(
            rt, session, draft_id, telegram_id, "category", choice=fields.pop("category")
        )
    for key, value in fields.items():
        st = form.step(
            (view_ or await get_draft(session, draft_id, telegram_id)).category or "other", key
        )
        if st is not None and st.choices and value in {c.value for c in st.choices}:
            view_ = await answer(rt, session, draft_id, telegram_id, key, choice=value)
        else:
            view_ = await answer(rt, session, draft_id, telegram_id, key, text=str(value))
    return view_ or await get_draft(session, draft_id, telegram_id)


# The form's answers an order, a draft and a repeat all carry (with ``details``).
ANSWER_FIELDS = (
    "category",
    "description",
    "photo",
    "voice",
    "urgency",
    "time_window",
    "payment",
    "doorstep",
)


def answers_from(source: Any) -> dict[str, Any]:
    """The form's answers of an order, a draft or a repeat, to start another from (order
    again, a repeat set up from an order, a repeat's occurrence)."""
    return {f: getattr(source, f) for f in ANSWER_FIELDS} | {"details": dict(source.details or {})}


async def copy_order(
    rt: Runtime, session: AsyncSession, order_id: int, telegram_id: int
) -> DraftView:
    """Order again: a new draft with the same answers, to check and send."""
    o = await residents_order(session, order_id, telegram_id)
    await household_cap.check(rt, session, o.resident_id)
    now = rt.clock.now()
    recipient = await session.get(Recipient, o.recipient_id) if o.recipient_id else None
    d = OrderDraft(
        resident_id=o.resident_id,
        **answers_from(o),
        recipient_id=o.recipient_id if recipient and not recipient.removed else None,
        # Again for a household without Telegram: by the person acting for it.
        entered_by=telegram_id if o.resident.telegram_id is None else None,
        created_at=now,
        updated_at=now,
    )
    if form.stale_window(_draft_view(d).answers, local_clock(rt)):
        d.time_window = None  # the old order's window has ended for today: asked again
    session.add(d)
    await session.flush()
    return _draft_view(d)


@dataclass(frozen=True)
class Submitted:
    order: OrderView
    created: bool  # False: this draft had already become an order (a repeated press)


async def submit_draft(
    rt: Runtime,
    session: AsyncSession,
    draft_id: int,
    telegram_id: int,
    *,
    repeat_id: int | None = None,
    late: bool = False,
) -> Submitted:
    """Turn a draft into an order, once: the draft is claimed with a conditional UPDATE, so a
    redelivered or double-pressed "confirm" finds it taken and returns the same order.
    ``repeat_id``: an occurrence of a repeating errand made by the sweep (``late``: after the
    bot was down at its time)."""
    d = await _own_draft(session, draft_id, telegram_id)
    if d.submitted_at is None and (not d.category or _draft_view(d).next_step is not None):
        raise Refused(N_("The order form is not complete yet. Please answer the questions."))
    now = rt.clock.now()
    taken = await affected_rows(
        session,
        update(OrderDraft)
        .where(OrderDraft.id == d.id, OrderDraft.submitted_at.is_(None))
        .values(submitted_at=now)
        .execution_options(synchronize_session=False),
    )
    if taken != 1:
        await session.refresh(d)
        existing = await get_view(session, d.order_id) if d.order_id else None
        if existing is None:
            raise Refused(N_("This order form has expired. Press Order to start a new one."))
        return Submitted(existing, created=False)
    resident = await session.get(Resident, d.resident_id)
    assert resident is not None
    await household_cap.check(rt, session, resident.id, by_phone=d.entered_by is not None)
    who: Resident | Recipient = resident
    if d.recipient_id is not None:
        r = await session.get(Recipient, d.recipient_id)
        if r is None or r.removed:
            raise stale()
        who = r
    b = await session.scalar(
        select(Building).where(Building.id == who.building_id).options(selectinload(Building.grid))
    )
    assert b is not None
    # The building's status (issue 17), as it is now: errands may be refused, or left at the
    # building's distribution point instead of the door.
    await building_status.check_errands(rt, session, b.id, by_phone=d.entered_by is not None)
    pickup = await building_status.pickup_place(rt, session, b.id)
    # Home isolation (包保): doorstep-only and priority; the form told the household so.
    isolated = isolating(resident.isolation_until, rt.today())
    o = Order(
        resident_id=resident.id,
        recipient_id=d.recipient_id,
        community_id=b.grid.community_id,
        grid_id=b.grid_id,
        building_id=b.id,
        unit=who.unit,
        room=who.room,
        contact_name=who.name,
        contact_phone=who.phone,
        category=d.category,
        description=d.description or "",
        details=dict(d.details or {}),
        photo=d.photo,
        voice=d.voice,
        urgency=d.urgency or Urgency.NORMAL,
        time_window=d.time_window,
        payment=d.payment,
        doorstep=isolated or (d.doorstep if d.doorstep is not None else True),
        # Care (包保): a household that told us about a vulnerable member gets priority.
        priority=await care_flags.has_any(session, resident.id) or isolated,
        status=S.OPEN,
        repeat_id=repeat_id,
        repeat_late=late,
        place_id=pickup,
        escalation_step=0,
        escalate_at=ladder.due_at(rt.settings.escalation, S.OPEN, d.urgency or "normal", now),
        channel="phone" if d.entered_by is not None else "bot",
        entered_by=d.entered_by,
        created_at=now,
        updated_at=now,
    )
    session.add(o)
    await session.flush()
    d.order_id = o.id
    session.add(
        OrderEvent(
            order_id=o.id,
            # Taken by phone: entered by staff (or a volunteer they allowed), for the household.
            actor=Actor.STAFF if d.entered_by is not None else Actor.RESIDENT,
            actor_telegram_id=telegram_id,
            from_status=None,
            to_status=S.OPEN,
            # "phone", "repeat R3", "phone repeat R3 late": how it came.
            note=" ".join(
                [
                    *(["phone"] if d.entered_by is not None else []),
                    *([f"repeat R{repeat_id}"] if repeat_id is not None else []),
                    *(["late"] if late else []),
                ]
            )
            or None,
            at=now,
        )
    )
    loaded = await load(session, o.id)
    assert loaded is not None
    await routing.post_to_group(rt, session, loaded)
    # The resident's live card of the order: from now on every change edits it.
    await cards.show(rt, session, o.id)
    return Submitted(view(loaded), created=True)
