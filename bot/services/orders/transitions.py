"""Every change of an order's status, and what the people concerned are told of it.

Each goes through `transition()`: the state machine (models/state_machine.py) says whether
this actor may make this move from the state the order is in, one conditional UPDATE makes it
(judged by its row count, DESIGN rule 2) with an event row, and a move that cannot be made is
refused with the reason as the order stands now, nothing written. The messages a change owes
go to the outbox in the same transaction (rule 4). The resident's own moves (cancel, confirm,
report a problem, thank) are `resident_moves`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.db import affected_rows
from bot.errors import Refused
from bot.i18n import N_, P_, gettext_for
from bot.runtime import Runtime
from bot.services import alerts, ladder, payments, relay, scope
from bot.services.amounts import MAX_FEN
from bot.services.messages import tell
from bot.services.orders import cards, kinds, routing, runner_cards, texts
from bot.services.orders.views import (
    RUNNING,
    OrderView,
    order_or_refuse,
    runners_order,
    view,
)
from bot.services.people import approved_volunteer, language_of
from models import (
    Actor,
    Grid,
    Order,
    OrderEvent,
    OrderStatus,
    OutboxMessage,
    TransitionError,
    Volunteer,
    check_transition,
)

S = OrderStatus


def refusal_for(o: Order, telegram_id: int | None) -> Refused:
    """Explain why an order cannot be acted on in its present state."""
    st = S(o.status)
    if st == S.CANCELLED:
        return Refused(N_("Order #{id} was cancelled."), id=o.id)
    if st in (S.CONFIRMED, S.UNFULFILLABLE):
        return Refused(N_("Order #{id} is already closed."), id=o.id)
    if st.is_active and o.volunteer and o.volunteer.telegram_id != telegram_id:
        return Refused(N_("Already taken by {name}."), name=o.volunteer.name)
    return Refused(N_("Order #{id} has moved on; this button is out of date."), id=o.id)


async def transition(
    rt: Runtime,
    session: AsyncSession,
    o: Order,
    target: OrderStatus,
    actor: Actor,
    actor_telegram_id: int | None,
    *,
    note: str | None = None,
    refusals: Mapping[OrderStatus, Refused] | None = None,
    **values: Any,
) -> Order:
    """Move the order ``o`` (as its caller loaded it) to ``target``; returns it reloaded.

    The state machine must allow ``actor`` this move from the state ``o`` was loaded in
    (``note``: the reason some moves need; the event row keeps it). Then one UPDATE writes the
    new status, its escalation ladder (DESIGN rule 3) and ``values``, WHERE the order is still
    in that state and still has the runner it had: a move made by someone else in between
    leaves the row count at 0. A move not allowed, or lost, is refused (Refused, the row left
    as it was) with ``refusals[status]`` for the state the order is in now, or else
    `refusal_for`'s explanation."""
    seen = S(o.status)
    try:
        check_transition(seen, target, actor, note)
        allowed = True
    except TransitionError:
        allowed = False
    moved = False
    if allowed:
        now = rt.clock.now()
        # The new status starts its own escalation ladder (or none, once delivered or closed).
        escalate_at = ladder.due_at(rt.settings.escalation, target, o.urgency, now)
        runner = (
            Order.volunteer_id.is_(None)
            if o.volunteer_id is None
            else Order.volunteer_id == o.volunteer_id
        )
        res = await affected_rows(
            session,
            update(Order)
            .where(Order.id == o.id, Order.status == seen, runner)
            .values(
                status=target, updated_at=now, escalation_step=0, escalate_at=escalate_at, **values
            )
            .execution_options(synchronize_session=False),
        )
        moved = res == 1
        if moved:
            session.add(
                OrderEvent(
                    order_id=o.id,
                    actor=actor,
                    actor_telegram_id=actor_telegram_id,
                    from_status=seen,
                    to_status=target,
                    note=note,
                    at=now,
                )
            )
            await session.flush()
    current = await order_or_refuse(session, o.id)
    if not moved:
        raise (refusals or {}).get(S(current.status)) or refusal_for(current, actor_telegram_id)
    return current


async def _notify_resident(rt: Runtime, session: AsyncSession, v: OrderView) -> None:
    """The resident's card edited, and a short message so the phone rings."""
    await cards.changed(rt, session, v)


# --- the runner -----------------------------------------------------------------------------


async def claim(rt: Runtime, session: AsyncSession, order_id: int, telegram_id: int) -> OrderView:
    """A volunteer takes an open task. Exactly one of many simultaneous presses wins."""
    vol = await approved_volunteer(
        session, telegram_id, N_("Only approved volunteers of this grid can take tasks.")
    )
    o = await order_or_refuse(session, order_id)
    if o.grid_id != vol.grid_id:
        # Once a task waited long enough to go community-wide, anyone of the community helps.
        home = await session.scalar(select(Grid.community_id).where(Grid.id == vol.grid_id))
        if o.community_wide_at is None or home != o.community_id:
            raise Refused(
                N_(
                    "This task belongs to another grid. If nobody there takes it in time, "
                    "it will be opened to the whole community."
                )
            )
    if S(o.status) != S.OPEN:
        if o.volunteer_id == vol.id and S(o.status).is_active:
            raise Refused(N_("You already have this task. Details are in our private chat."))
        raise refusal_for(o, telegram_id)
    # Count what you lock (DESIGN rule 14): the volunteer's row is locked before their running
    # tasks are counted, so two claims by one person at once cannot both pass the cap.
    await session.execute(select(Volunteer.id).where(Volunteer.id == vol.id).with_for_update())
    cap = rt.settings.limits.max_active_tasks
    running = await session.scalar(
        select(func.count())
        .select_from(Order)
        .where(Order.volunteer_id == vol.id, Order.status.in_(RUNNING))
    )
    if (running or 0) >= cap:
        raise Refused(
            P_(
                "You are already running {n} task. Finish it first, so others can help.",
                "You are already running {n} tasks. Finish one first, so others can help.",
            ),
            n=cap,
        )
    o = await transition(
        rt,
        session,
        o,
        S.CLAIMED,
        Actor.VOLUNTEER,
        telegram_id,
        volunteer_id=vol.id,
        claimed_at=rt.clock.now(),
    )
    v = view(o)
    _g = gettext_for(rt.default_language)
    await routing.edit_group_posts(rt, session, o, texts.group_taken(v, _g))
    lang = await language_of(session, telegram_id, rt.default_language)
    text, rows = texts.runner_card(v, gettext_for(lang), rt.timezone)
    card = outbox.enqueue(session, rt.clock, chat_id=telegram_id, text=text, buttons=rows)
    caption = texts.title(v, gettext_for(lang))
    if v.photo:
        outbox.enqueue(session, rt.clock, chat_id=telegram_id, text=caption, photo=v.photo)
    if v.voice:
        outbox.enqueue(session, rt.clock, chat_id=telegram_id, text=caption, voice=v.voice)
    await session.flush()
    o.runner_card_id = card.id
    # What the resident wrote while it waited (handlers/resident_input.py) reaches the runner.
    await relay.pass_held(rt, session, v)
    await _notify_resident(rt, session, v)
    return v


_FORWARD = {"buy": S.PURCHASING, "go": S.DELIVERING}


async def advance(
    rt: Runtime,
    session: AsyncSession,
    order_id: int,
    telegram_id: int,
    verb: str,
    shown_in: int | None = None,
) -> OrderView:
    """The runner moves their task forward: bought -> on the way -> delivered. Delivered
    goes through `deliver`, which asks for the proof the config requires. ``shown_in``: the
    message pressed, when it is known."""
    if verb == "done":
        return await deliver(rt, session, order_id, telegram_id, shown_in=shown_in)
    target = _FORWARD[verb]
    o = await runners_order(session, order_id, telegram_id)
    # The steps depend on the kind: nothing to buy (a parcel) goes from taken to on the way;
    # something to buy is bought first.
    buys = kinds.has_purchase(o.category, dict(o.details or {}))
    if (verb == "buy" and not buys) or (verb == "go" and buys and S(o.status) == S.CLAIMED):
        raise refusal_for(o, telegram_id)
    o = await transition(rt, session, o, target, Actor.VOLUNTEER, telegram_id)
    v = view(o)
    await runner_cards.follows(rt, session, o, v, shown_in)
    await _notify_resident(rt, session, v)
    return v


NEED_DOORSTEP_PHOTO = N_("Please send a photo of the goods at the door first.")
NEED_AMOUNT = N_("Please say how much you spent first (0 if nothing).")
BAD_AMOUNT = N_("That amount cannot be right. Please type it again.")


@dataclass(frozen=True)
class ProofNeeded:
    """What the runner must send before a task counts as delivered (the config decides)."""

    order: OrderView
    doorstep_photo: bool
    amount: bool

    @property
    def any(self) -> bool:
        return self.doorstep_photo or self.amount


async def proof_needed(
    rt: Runtime, session: AsyncSession, order_id: int, telegram_id: int
) -> ProofNeeded:
    """Before 📦: may this person mark this task delivered now, and what proof is asked."""
    o = await runners_order(session, order_id, telegram_id)
    if S(o.status) != S.DELIVERING:
        raise refusal_for(o, telegram_id)
    d = rt.settings.delivery
    return ProofNeeded(view(o), d.doorstep_photo, d.ask_amount)


async def deliver(
    rt: Runtime,
    session: AsyncSession,
    order_id: int,
    telegram_id: int,
    doorstep_photo: str | None = None,
    amount_fen: int | None = None,
    receipt_photo: str | None = None,
    shown_in: int | None = None,
) -> OrderView:
    """The runner marks the task delivered with its proof, all in one conditional UPDATE: the
    photo at the door, what was spent (fen) and the receipt. The resident is told what to pay
    and gets the photos, in the same transaction. A task cancelled or moved meanwhile is
    refused and nothing is written."""
    o = await runners_order(session, order_id, telegram_id)
    required = rt.settings.delivery
    if required.doorstep_photo and not doorstep_photo:
        raise Refused(NEED_DOORSTEP_PHOTO)
    if required.ask_amount and amount_fen is None:
        raise Refused(NEED_AMOUNT)
    if amount_fen is not None and not 0 <= amount_fen <= MAX_FEN:
        raise Refused(BAD_AMOUNT)
    o = await transition(
        rt,
        session,
        o,
        S.DELIVERED,
        Actor.VOLUNTEER,
        telegram_id,
        delivered_at=rt.clock.now(),
        doorstep_photo=doorstep_photo,
        amount_spent_fen=amount_fen,
        receipt_photo=receipt_photo,
    )
    v = view(o)
    await runner_cards.follows(rt, session, o, v, shown_in)
    lang = await language_of(session, v.resident_telegram_id, rt.default_language)
    _ = gettext_for(lang)
    # The photos first, then the status with the Received button, last in the chat.
    for caption, photo in texts.delivery_photos(v, _):
        outbox.enqueue(session, rt.clock, chat_id=v.resident_telegram_id, text=caption, photo=photo)
    await _notify_resident(rt, session, v)
    # What was spent: the resident is asked to pay (the runner's QR code), the runner confirms.
    await payments.on_delivered(rt, session, v)
    return v


async def release(
    rt: Runtime,
    session: AsyncSession,
    order_id: int,
    telegram_id: int,
    reason: str,
    shown_in: int | None = None,
) -> OrderView:
    """The runner gives the task back: open again, posted again in the group. The reason is
    kept in the event row. ``shown_in``: the message pressed, when it is known."""
    o = await runners_order(session, order_id, telegram_id)
    card_id = o.runner_card_id
    o = await transition(
        rt,
        session,
        o,
        S.OPEN,
        Actor.VOLUNTEER,
        telegram_id,
        note=reason,
        volunteer_id=None,
        claimed_at=None,
    )
    v = view(o)
    await runner_cards.withdrawn(rt, session, card_id, telegram_id, v, shown_in)
    await cards.show(rt, session, v.id)
    await tell(rt, session, v.resident_telegram_id, lambda _: texts.resident_released(v, _))
    await routing.post_to_group(rt, session, o)
    return v


async def give_up(
    rt: Runtime,
    session: AsyncSession,
    order_id: int,
    telegram_id: int,
    reason: str,
    shown_in: int | None = None,
) -> OrderView:
    """The runner cannot do it at all (the drug is out of stock everywhere): unfulfillable,
    with the reason; the resident and the staff in charge are told. ``shown_in``: the
    message pressed, when it is known."""
    o = await runners_order(session, order_id, telegram_id)
    # The reason is shown to the resident and staff (the event row keeps it too).
    o = await transition(
        rt,
        session,
        o,
        S.UNFULFILLABLE,
        Actor.VOLUNTEER,
        telegram_id,
        note=reason,
        reason=reason,
        closed_at=rt.clock.now(),
    )
    v = view(o)
    await runner_cards.follows(rt, session, o, v, shown_in)
    await _notify_resident(rt, session, v)
    _g = gettext_for(rt.default_language)
    await routing.edit_group_posts(rt, session, o, texts.group_closed(v, _g))
    staff = await scope.staff_covering(session, o.community_id, o.grid_id)
    await alerts.alert(
        rt, session, staff, lambda _: texts.staff_gave_up(v, _), kind=alerts.GAVE_UP, order_id=o.id
    )
    return v


SUSPENDED_NOTE = "volunteer suspended"


async def hand_back(
    rt: Runtime, session: AsyncSession, order_id: int, actor_telegram_id: int | None
) -> OrderView | None:
    """A suspended volunteer's running task goes back to the group (staff's move, with a
    reason kept in the event row): its old group posts say it waits for a runner again, it is
    posted anew (and sent to whoever is on duty), and the resident is told kindly that someone
    else will take over, not why. None if it had moved on meanwhile."""
    o = await order_or_refuse(session, order_id)
    if not S(o.status).is_active:
        return None
    runner = o.volunteer.telegram_id if o.volunteer else None
    card_id = o.runner_card_id
    try:
        o = await transition(
            rt,
            session,
            o,
            S.OPEN,
            Actor.STAFF,
            actor_telegram_id,
            note=SUSPENDED_NOTE,
            volunteer_id=None,
            claimed_at=None,
        )
    except Refused:
        return None
    v = view(o)
    _g = gettext_for(rt.default_language)
    await routing.edit_group_posts(rt, session, o, texts.group_waiting_again(v, _g))
    await cards.show(rt, session, v.id)
    await tell(rt, session, v.resident_telegram_id, lambda _: texts.resident_reassigned(v, _))
    # The runner's card loses its address, phone and buttons (the card in their chat is the
    # one place they still had them).
    card = await session.get(OutboxMessage, card_id) if card_id else None
    if card is not None and runner is not None:
        lang = await language_of(session, runner, rt.default_language)
        outbox.enqueue_edit(
            session, rt.clock, original=card, text=texts.runner_withdrawn(v, gettext_for(lang))
        )
    await routing.post_to_group(rt, session, o)
    return v
