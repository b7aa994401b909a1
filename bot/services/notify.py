"""What the system says about an order, to whom: text and buttons, in the reader's language.

Privacy (DESIGN rule 6): the group post never holds the phone number, the room or the name;
the full address goes to the claimer alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bot.buttons import Button, Rows, order_action, relay_action
from bot.i18n import N_, Gettext, local_time

CATEGORY = {
    "groceries": N_("Groceries"),
    "medicine": N_("Medicine"),
    "gas": N_("Gas top-up"),
    "other": N_("Other errand"),
}
CATEGORY_ICON = {"groceries": "🥬", "medicine": "💊", "gas": "🔥", "other": "📦"}
URGENCY = {
    "normal": N_("Normal"),
    "today": N_("Today"),
    "urgent": N_("Urgent"),
}
STATUS = {
    "open": N_("waiting for a volunteer"),
    "claimed": N_("taken by a volunteer"),
    "purchasing": N_("being bought"),
    "delivering": N_("on the way to your door"),
    "delivered": N_("delivered to your door"),
    "confirmed": N_("received, finished"),
    "cancelled": N_("cancelled"),
    "unfulfillable": N_("could not be done"),
}
RELEASE_REASONS = {
    "busy": N_("I cannot make it in time"),
    "stock": N_("I cannot find the items"),
    "other": N_("Another reason"),
}
PREVIEW_CHARS = 60
_LONG_DIGITS = re.compile(r"\d[\d -]{5,}\d")


@dataclass(frozen=True)
class OrderView:
    id: int
    category: str
    description: str
    urgency: str
    status: str
    compound: str
    building: str
    unit: str
    room: str
    community: str
    contact_name: str
    contact_phone: str
    resident_telegram_id: int
    volunteer_name: str | None
    volunteer_telegram_id: int | None
    grid_id: int
    group_chat_id: int | None
    created_at: datetime
    updated_at: datetime
    reason: str | None

    @property
    def volunteer_first_name(self) -> str:
        return (self.volunteer_name or "").split(" ")[0]


def preview(text: str) -> str:
    """A short, phone-number-free preview for the group."""
    text = _LONG_DIGITS.sub("***", " ".join(text.split()))
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def title(o: OrderView, _: Gettext) -> str:
    return f"{CATEGORY_ICON.get(o.category, '📦')} #{o.id} {_(CATEGORY[o.category])}"


def group_post(o: OrderView, _: Gettext, tz: str) -> tuple[str, Rows]:
    urgent = "🔴 " if o.urgency == "urgent" else ""
    text = "\n".join(
        [
            urgent + _("New task") + " " + title(o, _),
            "📍 " + f"{o.compound} {o.building}",
            "⏱ "
            + _(URGENCY[o.urgency])
            + " · "
            + _("posted {time}").format(time=local_time(o.created_at, tz)),
            "📝 " + preview(o.description),
        ]
    )
    return text, [[Button(_("🙋 I'll run it"), order_action("claim", o.id))]]


def group_taken(o: OrderView, _: Gettext) -> str:
    return _("✅ {title} · {place} · taken by {name}").format(
        title=title(o, _), place=f"{o.compound} {o.building}", name=o.volunteer_name
    )


def group_closed(o: OrderView, _: Gettext) -> str:
    return _("✖️ {title} · {place} · {status}").format(
        title=title(o, _), place=f"{o.compound} {o.building}", status=_(STATUS[o.status])
    )


def runner_card(o: OrderView, _: Gettext, tz: str) -> tuple[str, Rows]:
    """The claimer's private card: everything needed to run the errand."""
    lines = [
        title(o, _) + " · " + _(URGENCY[o.urgency]),
        _("Status: {status}").format(status=_(STATUS[o.status])),
        "",
        "📝 " + o.description,
        "",
        "👤 " + o.contact_name,
        "📞 " + o.contact_phone,
        "🏠 " + f"{o.community} {o.compound} {o.building} {o.unit}-{o.room}",
        _("Knock, leave it at the door, step back (contactless)."),
    ]
    rows: Rows = []
    step = {
        "claimed": ("buy", _("🛒 Bought")),
        "purchasing": ("go", _("🚶 On the way")),
        "delivering": ("done", _("📦 Delivered at the door")),
    }.get(o.status)
    if step:
        rows.append([Button(step[1], order_action(step[0], o.id))])
        rows.append([Button(_("💬 Message the resident"), relay_action(o.id))])
        rows.append([Button(_("↩️ Give it back"), order_action("rel", o.id))])
    return "\n".join(lines), rows


def release_reasons(o: OrderView, _: Gettext) -> tuple[str, Rows]:
    rows = [
        [Button(_(label), order_action("relr", o.id, code))]
        for code, label in RELEASE_REASONS.items()
    ]
    rows.append([Button(_("Keep the task"), order_action("detail", o.id))])
    return _("Why are you giving task #{id} back? It goes back to the group.").format(id=o.id), rows


def resident_status(o: OrderView, _: Gettext, tz: str) -> tuple[str, Rows]:
    """The message the resident gets at each change, with what they can do next."""
    when = local_time(o.updated_at, tz)
    name = o.volunteer_first_name
    text = {
        "open": _("Your order {title} was sent to the volunteers of your grid ({time})."),
        "claimed": _("{name} took your order {title} ({time})."),
        "purchasing": _("{name} has bought the items for {title} ({time})."),
        "delivering": _("{name} is on the way with {title} ({time})."),
        "delivered": _("{title} is at your door ({time}). Please take it in and press Received."),
        "confirmed": _("Thank you! {title} is finished ({time})."),
        "cancelled": _("{title} was cancelled ({time})."),
        "unfulfillable": _("Sorry, {title} could not be done ({time})."),
    }[o.status].format(title=title(o, _), name=name, time=when)
    if o.reason and o.status in ("cancelled", "unfulfillable", "open"):
        text += "\n" + _("Reason: {reason}").format(reason=o.reason)
    rows: Rows = []
    if o.status == "delivered":
        rows.append([Button(_("✅ Received"), order_action("ok", o.id))])
    elif o.status in ("open", "claimed", "purchasing", "delivering"):
        if o.status != "open":
            rows.append([Button(_("💬 Message the volunteer"), relay_action(o.id))])
        rows.append([Button(_("Cancel this order"), order_action("cancel", o.id))])
    return text, rows


def resident_released(o: OrderView, _: Gettext) -> str:
    return _("The volunteer had to give {title} back. It is open again for the others.").format(
        title=title(o, _)
    )


def runner_cancelled(o: OrderView, _: Gettext) -> str:
    return _("{title} was cancelled by the resident. You can stop now.").format(title=title(o, _))


def runner_confirmed(o: OrderView, _: Gettext) -> str:
    return _("The resident received {title}. Thank you for running it!").format(title=title(o, _))
