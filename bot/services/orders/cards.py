"""The resident's live card of an order (issue 15, DESIGN rule 12): one message per order in
the resident's chat, like a delivery app's order page: a progress line through the steps of
that kind of errand, the runner's first name, the times, the answers, what was spent, and only
the buttons that apply now. Each change edits it through the outbox (its row is
``orders.resident_card_id``) and sends one short message of its own, so the phone still
rings; a card too old for Telegram to edit (48 h), or one that could not be edited, is sent
anew. A press on any other message about the order (an old card, an old status message) is
answered with the card as it is now, never acted on.

The steps depend on the kind: a parcel to pick up has nothing to buy, so its runner goes from
taken to on the way (`has_purchase`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.buttons import (
    Button,
    Rows,
    called_back_action,
    order_action,
    payment_action,
    relay_action,
    repeat_action,
)
from bot.i18n import Gettext, gettext_for, local_time
from bot.runtime import Runtime
from bot.services import phone_orders
from bot.services.messages import tell
from bot.services.orders import kinds, texts
from bot.services.orders.kinds import ENDED, FORWARD
from bot.services.orders.paying import payment_state
from bot.services.orders.views import OrderView, load, view
from bot.services.people import language_of
from models import Order, OrderEvent, OutboxKind, OutboxMessage, OutboxStatus

# Telegram lets a bot edit its message for 48 hours; a margin for the outbox's own delays.
EDITABLE_FOR = timedelta(hours=47)

# The card shows the start of a long description: the order's summary above it in the chat
# keeps it whole, and the card keeps room for its progress, times and the lines of others.
DESCRIPTION_CHARS = 500
CANCELABLE = ("open", "claimed", "purchasing", "delivering")


def steps(o: OrderView) -> list[tuple[str, str]]:
    return kinds.steps(o.category, o.details)


def has_purchase(o: OrderView) -> bool:
    return kinds.has_purchase(o.category, o.details)


def progress_line(o: OrderView, _: Gettext, reached: set[str]) -> str:
    """已下单 → 已接单 → 已买好 → …: steps passed ticked, the present one in brackets. A
    cancelled order shows the steps it had reached, then how it ended."""
    if o.status in ENDED:
        done = [_(w) for st, w in steps(o) if st in reached]
        return " → ".join(["✓" + w for w in done] + ["✖" + _(ENDED[o.status])])
    now = FORWARD.index(o.status)
    parts = []
    for st, word in steps(o):
        i = FORWARD.index(st)
        parts.append("✓" + _(word) if i < now else f"【{_(word)}】" if i == now else _(word))
    return " → ".join(parts)


def times_line(o: OrderView, _: Gettext, times: dict[str, datetime], tz: str) -> str:
    """When each step was reached (the latest time, if it was reached again)."""
    upto = len(FORWARD) if o.status in ENDED else FORWARD.index(o.status) + 1
    # A task given back and open again does not show when it had been taken.
    shown = [(w, times[st]) for st, w in steps(o) if st in times and st in FORWARD[:upto]]
    if o.status in ENDED and o.status in times:
        shown.append((ENDED[o.status], times[o.status]))
    return "🕘 " + " · ".join(f"{_(w)} {local_time(at, tz)}" for w, at in shown)


def card_extras(o: OrderView, _: Gettext, tz: str) -> tuple[list[str], Rows]:
    """Lines and buttons other rooms add to the resident's card, after its own: where the
    payment of what the runner spent stands, and ✅ I have paid while nothing is recorded."""
    if o.status not in ("delivered", "confirmed"):
        return [], []
    paying = payment_state(o, _, tz)
    if paying is None:
        return [], []
    rows: Rows = []
    if o.paid_at is None and o.paid_confirmed_at is None:
        rows.append([Button(_("✅ I have paid"), payment_action("paid", o.id))])
    return [paying], rows


def _shortened(text: str) -> str:
    return text if len(text) <= DESCRIPTION_CHARS else text[: DESCRIPTION_CHARS - 1] + "…"


def resident_buttons(o: OrderView, _: Gettext) -> Rows:
    """Only what the resident can do now."""
    rows: Rows = []
    if o.status == "delivered":
        rows.append([Button(_("✅ Received"), order_action("ok", o.id))])
    if o.status in ("claimed", "purchasing", "delivering", "delivered"):
        rows.append([Button(_("💬 Message the volunteer"), relay_action(o.id))])
    if o.status in CANCELABLE:
        rows.append([Button(_("Cancel this order"), order_action("cancel", o.id))])
    if o.status in ("delivered", "confirmed"):
        rows.append([Button(_("⚠️ Report a problem"), order_action("prob", o.id))])
    if o.status == "confirmed" and not o.rating and o.volunteer_name:
        rows.append([Button(_("👍 Thank the volunteer"), order_action("thank", o.id))])
    if o.status in ("confirmed", "cancelled", "unfulfillable"):
        # A phone order's card is the staff member's: they may repeat it for the household.
        again = [Button(_("🔁 Order again"), order_action("again", o.id))]
        again.append(Button(_("🔁 Repeat regularly"), repeat_action(o.id)))
        rows.append(again)
    return rows


def resident_card(
    o: OrderView, _: Gettext, tz: str, times: dict[str, datetime]
) -> tuple[str, Rows]:
    """The resident's card of the order as it stands."""
    lines = [
        texts.title(o, _) + " · " + _(texts.URGENCY[o.urgency]),
        progress_line(o, _, set(times) | {"open"}),
        *texts.repeat_line(o, _),
    ]
    if times:
        lines.append(times_line(o, _, times, tz))
    if o.volunteer_name:
        lines.append("🙋 " + _("Volunteer: {name}").format(name=o.volunteer_first_name))
    if o.reason and o.status in ("cancelled", "unfulfillable", "open"):
        lines.append(_("Reason: {reason}").format(reason=_(o.reason)))
    lines += [
        "",
        "📝 " + _shortened(o.description or texts.description_preview(o, _)),
        # Read by whoever took a phone order: the resident's door, not "your" door.
        *texts.detail_lines(
            o.category,
            texts.answers_of(o),
            o.doorstep,
            _,
            runner=o.relayed,
            pickup=o if o.pickup_name else None,
        ),
        _("Deliver to: {address}").format(
            address=_(texts.PERSON_AT).format(
                name=o.contact_name, address=f"{o.compound} {o.building} {o.unit}-{o.room}"
            )
        ),
    ]
    spent = texts.spent_line(o, _)
    if spent:
        lines.append(spent)
    if o.doorstep_photo or o.receipt_photo:
        lines.append(_("📷 The photos of the delivery are in this chat."))
    if o.rating:
        lines.append("⭐" * o.rating)
    extra_lines, extra_rows = card_extras(o, _, tz)
    lines += extra_lines
    return "\n".join(lines), resident_buttons(o, _) + extra_rows


def cancel_question(o: OrderView, _: Gettext) -> str:
    """Asked before cancelling; once the items are bought, the resident is warned."""
    text = _("Cancel order {title}?").format(title=texts.title(o, _))
    if o.status in ("purchasing", "delivering") and has_purchase(o):
        text += "\n\n" + _(
            "⚠️ {name} has already bought and paid for the items. If you cancel now, please "
            "agree with them how to settle what they spent."
        ).format(name=o.volunteer_first_name)
    elif o.status in ("claimed", "purchasing", "delivering"):
        text += "\n" + _("{name} is already running it and will be told.").format(
            name=o.volunteer_first_name
        )
    return text


# --- keeping the card in the resident's chat -------------------------------------------------


async def times_of(session: AsyncSession, o: Order) -> dict[str, datetime]:
    """When the order last reached each status (an escalation's event, which stays in its
    status, is no step), and when it was ordered."""
    e = OrderEvent
    rows = await session.execute(
        select(e.to_status, func.max(e.at))
        .where(e.order_id == o.id, or_(e.from_status.is_(None), e.from_status != e.to_status))
        .group_by(e.to_status)
    )
    return {**{str(st): at for st, at in rows}, "open": o.created_at}


async def _editable(
    rt: Runtime, session: AsyncSession, card_id: int | None
) -> OutboxMessage | None:
    """The card's outbox row, if it can still be edited: sent (or on its way), young enough
    for Telegram, and its last edit not refused (the person may have deleted it)."""
    card = await session.get(OutboxMessage, card_id) if card_id else None
    if card is None or card.status == OutboxStatus.FAILED:
        return None
    if rt.clock.now() - (card.sent_at or card.created_at) >= EDITABLE_FOR:
        return None
    last_edit = await session.scalar(
        select(OutboxMessage.status)
        .where(OutboxMessage.edit_of == card.id, OutboxMessage.kind == OutboxKind.EDIT)
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    return None if last_edit == OutboxStatus.FAILED else card


async def show(rt: Runtime, session: AsyncSession, order_id: int, *, anew: bool = False) -> None:
    """Bring the resident's card of the order up to date: edit it, or send it as a new
    message (none yet, too old or not editable, or ``anew``: the resident asked for it, so it
    comes last in the chat; the old card then loses its buttons)."""
    o = await load(session, order_id)
    if o is None:
        return
    v = view(o)
    if not v.resident_telegram_id:
        return  # a household without Telegram and nobody acting for it
    _ = gettext_for(await language_of(session, v.resident_telegram_id, rt.default_language))
    text, rows = resident_card(v, _, rt.timezone, await times_of(session, o))
    card = await _editable(rt, session, o.resident_card_id)
    if card is not None and not anew:
        outbox.enqueue_edit(session, rt.clock, original=card, text=text, buttons=rows)
        return
    if card is not None:
        session.add(
            OutboxMessage(
                **outbox.buttons_row(rt.clock.now(), chat_id=card.chat_id, original_id=card.id)
            )
        )
    new = outbox.enqueue(session, rt.clock, chat_id=v.resident_telegram_id, text=text, buttons=rows)
    await session.flush()
    o.resident_card_id = new.id
    await session.flush()


async def changed(rt: Runtime, session: AsyncSession, v: OrderView, notice: bool = True) -> None:
    """An order changed: its card is brought up to date, and (``notice``) one short message
    without buttons says what happened, so the phone still notifies. At the door the card
    itself comes last, above that message: its ✅ Received is what the resident is asked to
    press, and an old card far up the chat is hard to find."""
    await show(rt, session, v.id, anew=v.status == "delivered")
    if notice and v.relayed and v.status in phone_orders.CALL_BACK_STEPS:
        # A household without Telegram hears it from whoever took its order by phone: they
        # are asked to call it back, and say so with ✅ (recorded).
        def prompt(_: Gettext) -> tuple[str, Rows]:
            text = "\n".join(
                [
                    _(phone_orders.CALL_BACK),
                    texts.resident_notice(v, _, rt.timezone),
                    "",
                    f"👤 {v.contact_name}  📞 {v.contact_phone}",
                ]
            )
            button = Button(_("✅ Resident told"), called_back_action(v.id, v.status))
            return text, [[button]]

        await tell(rt, session, v.resident_telegram_id, prompt)
    elif notice and v.relayed:
        # Said as the household would hear it, so its "您" is the household's.
        await tell(
            rt,
            session,
            v.resident_telegram_id,
            lambda _: (
                _("📞 The phone order of {name}:").format(name=v.contact_name)
                + "\n"
                + texts.resident_notice(v, _, rt.timezone)
            ),
        )
    elif notice:
        await tell(
            rt,
            session,
            v.resident_telegram_id,
            lambda _: texts.resident_notice(v, _, rt.timezone),
        )


async def is_card(
    session: AsyncSession, order_id: int, chat_id: int, message_id: int | None
) -> bool:
    """Is this message the order's live card (the one whose buttons may act)?"""
    sent = await session.scalar(
        select(OutboxMessage.message_id)
        .join(Order, Order.resident_card_id == OutboxMessage.id)
        .where(Order.id == order_id, OutboxMessage.chat_id == chat_id)
    )
    return sent is not None and message_id is not None and sent == message_id
