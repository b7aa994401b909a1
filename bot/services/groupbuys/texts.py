"""A group-buy's words, in the reader's language: the announcement (a notice), the resident's
card (＋/－ per item, the total kept live), the staff's summary at the deadline, the merchant's
consolidated order. And the buttons' data (``gb:<verb>:<id>``), the same strings the handlers
declare with ``Callback``.

Privacy: none of these holds a resident's name, room or phone. Per-door lines exist only in
the merchant's XLSX (sheets.py), sent to the merchant's private chat on their own press."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.buttons import Button, Rows
from bot.i18n import N_, P_, Gettext, local_time, ngettext
from bot.services.amounts import yuan
from bot.services.reports.sheets.labels import GROUPBUY_PAYMENT

# Until the distribution points of issue 17 are on main, a group-buy goes to "the point".
POINT = N_("the distribution point")

PLUS, MINUS = "＋", "－"
PAYMENT_LINE = N_("Payment: {how}")
ANNOUNCE_HEAD = N_("🛒 Group-buy #{id}: {merchant} ({kind})")
DEADLINE = N_("Sign up until {deadline}; delivered to {point} on {day}.")
ITEM = N_("{name} ¥{price}/{unit} (at most {limit} per household)")
ANNOUNCE_TAIL = N_("Press 🛒 below to choose what you take; you may change it until the deadline.")
TAKEN = N_("Taken part: {items}, ¥{total}")
NOTHING_YET = N_("Nothing chosen yet: press ＋ to add an item.")
# The card once the deadline has passed: what the household took, or that it took nothing.
CLOSED_AT = N_("🔒 Closed: signing up ended at {deadline}.")
WITHOUT_YOU = N_("You did not take part: nothing was ordered for you.")
CLOSED_ALERT = N_("Signing up for this group-buy has closed; nothing was changed.")
AT_LIMIT = N_("At most {limit} per household.")
NOT_FOR_YOU = N_("This group-buy is not for your building.")
STATUS = {
    "open": N_("collecting"),
    "closed": N_("closed, waiting for staff to confirm"),
    "confirmed": N_("ordered from the merchant"),
    "delivered": N_("delivered to the distribution point"),
}
DELIVERED_AT = N_("delivered to {point} at {time}")
CONFIRM = N_("✅ Order it from the merchant")
CHECK = N_("🧾 Receipts and payments")
XLSX = N_("📊 Lines per building and door (XLSX)")
DELIVERED = N_("📦 Delivered to the distribution point")
HOUSEHOLDS = P_("{n} household took part.", "{n} households took part.")
NOBODY = N_("Nobody took part: nothing is ordered.")
TOTAL = N_("Total: ¥{total}")
PER_BUILDING = P_("{building}: {n} household", "{building}: {n} households")


def join_data(notice_id: int) -> str:
    return f"gb:j:{notice_id}"


def plus_data(item_id: int) -> str:
    return f"gb:a:{item_id}"


def minus_data(item_id: int) -> str:
    return f"gb:r:{item_id}"


def view_data(groupbuy_id: int) -> str:
    return f"gb:v:{groupbuy_id}"


def confirm_data(groupbuy_id: int) -> str:
    return f"gb:ok:{groupbuy_id}"


def check_data(groupbuy_id: int) -> str:
    return f"gb:ck:{groupbuy_id}"


def xlsx_data(groupbuy_id: int) -> str:
    return f"gb:xl:{groupbuy_id}"


def delivered_data(groupbuy_id: int) -> str:
    return f"gb:dl:{groupbuy_id}"


@dataclass(frozen=True)
class Item:
    id: int
    name: str
    unit: str
    price_fen: int
    per_household: int
    quantity: int = 0  # this household's (a card), or everyone's (a total)


@dataclass(frozen=True)
class Head:
    id: int
    merchant: str
    kind: str
    deadline_at: datetime
    delivery_day: date
    status: str
    payment: str = "on_delivery"  # or "online": paid in advance (doors.PAYMENT)
    # Where the merchant delivers: the places serving its buildings ("" : none set yet).
    point: str = ""
    delivered_at: datetime | None = None  # by the merchant, to the point


def head_lines(_: Gettext, h: Head, tz: str) -> list[str]:
    return [
        _(ANNOUNCE_HEAD).format(id=h.id, merchant=h.merchant, kind=h.kind),
        _(DEADLINE).format(
            deadline=local_time(h.deadline_at, tz, "%m-%d %H:%M"),
            point=h.point or _(POINT),
            day=h.delivery_day.strftime("%m-%d"),
        ),
    ]


def payment_line(_: Gettext, h: Head) -> str:
    """How households pay, as residents see it before they take part."""
    return _(PAYMENT_LINE).format(how=_(GROUPBUY_PAYMENT.get(h.payment, h.payment)))


def announcement(_: Gettext, h: Head, items: list[Item], tz: str) -> str:
    lines = [*head_lines(_, h, tz), payment_line(_, h)]
    lines += [
        "• "
        + _(ITEM).format(name=i.name, price=yuan(i.price_fen), unit=i.unit, limit=i.per_household)
        for i in items
    ]
    lines.append(_(ANNOUNCE_TAIL))
    return "\n".join(lines)


def taken(_: Gettext, items: list[Item]) -> str:
    """ "已参加: 白菜 ×2, 鸡蛋 ×1, ¥23.50", or that nothing is chosen yet."""
    chosen = [i for i in items if i.quantity > 0]
    if not chosen:
        return _(NOTHING_YET)
    total = sum(i.quantity * i.price_fen for i in chosen)
    return _(TAKEN).format(
        items=", ".join(f"{i.name} ×{i.quantity}" for i in chosen), total=yuan(total)
    )


def card(_: Gettext, h: Head, items: list[Item], is_open: bool, tz: str) -> tuple[str, Rows]:
    """The resident's one message: the items, their choice and its total; ＋/－ while open."""
    lines = [*head_lines(_, h, tz), payment_line(_, h)]
    lines += [
        "• "
        + _(ITEM).format(name=i.name, price=yuan(i.price_fen), unit=i.unit, limit=i.per_household)
        for i in items
    ]
    if not is_open:
        return closed_card(_, h, items, tz), []
    lines += ["", taken(_, items)]
    rows = [
        [
            Button(MINUS, minus_data(i.id)),
            Button(f"{i.name} ×{i.quantity}", view_data(h.id)),
            Button(PLUS, plus_data(i.id)),
        ]
        for i in items
    ]
    return "\n".join(lines), rows


def closed_card(_: Gettext, h: Head, items: list[Item], tz: str) -> str:
    """The card after the deadline, no ＋/－: what the household took and its total, or that
    it took no part (never "press ＋", which is gone)."""
    lines = [
        *head_lines(_, h, tz),
        _(CLOSED_AT).format(deadline=local_time(h.deadline_at, tz, "%m-%d %H:%M")),
    ]
    if any(i.quantity > 0 for i in items):
        lines += [taken(_, items), payment_line(_, h)]
    else:
        lines.append(_(WITHOUT_YOU))
    return "\n".join(lines)


def status_line(_: Gettext, h: Head, tz: str) -> str:
    """Where the group-buy stands; once delivered, where to and when."""
    if h.status == "delivered" and h.delivered_at is not None:
        status = _(DELIVERED_AT).format(
            point=h.point or _(POINT), time=local_time(h.delivered_at, tz, "%m-%d %H:%M")
        )
    else:
        status = _(STATUS.get(h.status, h.status))
    return _("Status: {status}").format(status=status)


def totals_lines(_: Gettext, totals: list[Item]) -> list[str]:
    lines = [
        f"• {i.name} ×{i.quantity} {i.unit} · ¥{yuan(i.quantity * i.price_fen)}"
        for i in totals
        if i.quantity > 0
    ]
    lines.append(_(TOTAL).format(total=yuan(sum(i.quantity * i.price_fen for i in totals))))
    return lines


def summary(
    _: Gettext,
    h: Head,
    totals: list[Item],
    households: int,
    buildings: list[tuple[str, int]],
    tz: str,
) -> tuple[str, Rows]:
    """What staff get at the deadline (and on the pressed message after): the totals, the
    households per building; ✅ while it waits for them."""
    lines = head_lines(_, h, tz)
    lines.append(status_line(_, h, tz))
    if households == 0:
        lines.append(_(NOBODY))
        return "\n".join(lines), []
    lines.append(ngettext(_, HOUSEHOLDS, households).format(n=households))
    lines += totals_lines(_, totals)
    lines += [ngettext(_, PER_BUILDING, n).format(building=b, n=n) for b, n in buildings]
    rows = [[Button(_(CONFIRM), confirm_data(h.id))]] if h.status == "closed" else []
    # Receipts, problems and payments per household (/gbcheck), from the close on.
    rows.append([Button(_(CHECK), check_data(h.id))])
    return "\n".join(lines), rows


def merchant_order(
    _: Gettext,
    h: Head,
    totals: list[Item],
    households: int,
    buildings: list[tuple[str, int]],
    tz: str,
) -> tuple[str, Rows]:
    """The merchant's consolidated order: totals per item, households per building; the XLSX
    of lines per door on a press, and 📦 once delivered to the point."""
    lines = [_("📦 Order for {merchant}").format(merchant=h.merchant), *head_lines(_, h, tz)[:2]]
    lines.append(status_line(_, h, tz))
    lines.append(ngettext(_, HOUSEHOLDS, households).format(n=households))
    lines += totals_lines(_, totals)
    lines += [ngettext(_, PER_BUILDING, n).format(building=b, n=n) for b, n in buildings]
    rows = [[Button(_(XLSX), xlsx_data(h.id))]]
    if h.status == "confirmed":
        rows.append([Button(_(DELIVERED), delivered_data(h.id))])
    return "\n".join(lines), rows
