"""The order's texts: what the system says about an order to each audience (the grid's group,
the runner, the resident, the staff in charge), text and buttons, in the reader's language,
and the words (kinds, urgencies, statuses, reasons) they are made of.

Privacy (DESIGN rule 6): the group post never holds the phone number, the room or the name;
the full address goes to the claimer alone. What a group sees of an order is built from the
form's structured answers (kind, compound and building, urgency, time window) and the
description with every contact detail masked (bot/services/redact.py).
"""

from __future__ import annotations

from typing import Any, Protocol

from bot.buttons import Button, Rows, order_action, relay_action
from bot.i18n import N_, Gettext, local_time
from bot.services import redact
from bot.services.amounts import yuan
from bot.services.orders import form, kinds
from bot.services.orders.views import OrderView
from bot.services.places import place_label

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
# The card comes right above it (cards.changed), with the button it names.
AT_DOOR = N_(
    "{title} is at your door ({time}). Please take it in and press ✅ Received on the card above."
)
AT_POINT = N_(
    "{title} was left at {place} ({time}). Please pick it up there and press ✅ Received on "
    "the card above."
)

# Who and where, on a card or a summary ("周阿姨，幸福小区 1栋 1-302").
PERSON_AT = N_("{name}, {address}")
# On the runner's card of an order for a household without Telegram (taken by phone).
CALL_FIRST = N_("The resident does not use the bot: please call before you reach the door.")

# The urgency as the group's post says it: "today" alone beside the time posted read as a date.
NEEDED = {
    "normal": N_("No rush"),
    "today": N_("Needed today"),
    "urgent": N_("Urgent"),
}
STATUS = {
    "open": N_("waiting for a volunteer"),
    "claimed": N_("taken by a volunteer"),
    "purchasing": N_("items bought"),
    "delivering": N_("on the way to your door"),
    "delivered": N_("delivered to your door"),
    "confirmed": N_("received, finished"),
    "cancelled": N_("cancelled"),
    "unfulfillable": N_("could not be done"),
}
GIVE_UP_REASONS = {
    "stock": N_("Out of stock everywhere I tried"),
    "rx": N_("It needs a prescription or registration I cannot get"),
    "closed": N_("The shop or pharmacy is closed"),
    "other": N_("Another reason"),
}
RELEASE_REASONS = {
    "busy": N_("I cannot make it in time"),
    "stock": N_("I cannot find the items"),
    "other": N_("Another reason"),
}
PREVIEW_CHARS = 60


def preview(text: str, known: tuple[str, ...] = ()) -> str:
    """A short preview for the group, every contact detail masked (``known``: the order's
    own contact name, room and phone, masked wherever they appear)."""
    text = " ".join(redact.redact(text, known).split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def _personal(o: OrderView) -> tuple[str, ...]:
    return (o.contact_name, o.room, f"{o.unit}-{o.room}", o.contact_phone)


def title(o: OrderView, _: Gettext) -> str:
    return f"{CATEGORY_ICON.get(o.category, '📦')} #{o.id} {_(CATEGORY[o.category])}"


def description_preview(o: OrderView, _: Gettext) -> str:
    parts = [preview(o.description, _personal(o))] if o.description else []
    if o.photo:
        parts.append(_("(with a photo)"))
    if o.voice:
        parts.append(_("(voice message)"))
    return " ".join(parts)


def group_post(o: OrderView, _: Gettext, tz: str) -> tuple[str, Rows]:
    urgent = "🔴 " if o.urgency == "urgent" else ""
    lines = [
        urgent + _("New task") + " " + title(o, _),
        "📍 "
        + f"{o.compound} {o.building}"
        # Left at the building's point, not carried up: the volunteers may choose by it.
        + (" · " + _("to {place}").format(place=o.pickup_name) if o.pickup_name else ""),
        "⏱ "
        + _(NEEDED[o.urgency])
        + " · "
        + _("posted at {time}").format(time=local_time(o.created_at, tz)),
    ]
    if o.time_window and o.time_window != "any":
        lines.append("🕘 " + choice_label(o.category, "time_window", o.time_window, _))
    if o.priority:
        lines.append("⭐ " + _("Priority: a household on the care list"))
    lines.append("📝 " + description_preview(o, _))
    return "\n".join(lines), [[Button(_("🙋 I'll run it"), order_action("claim", o.id))]]


def choice_label(category: str, key: str, value: str, _: Gettext) -> str:
    st = form.step(category, key)
    for c in st.choices if st else ():
        if c.value == value:
            return _(c.label)
    return value


class HasPickup(Protocol):
    """Where an order is left instead of the door: an `OrderView`, or a form's
    `building_status.Pickup` before it is sent."""

    @property
    def pickup_name(self) -> str | None: ...
    @property
    def pickup_kind(self) -> str: ...
    @property
    def pickup_location(self) -> str | None: ...
    @property
    def pickup_times(self) -> str | None: ...


def pickup_lines(o: HasPickup, _: Gettext, *, runner: bool) -> list[str]:
    """Where an order of a building with a "pickup" status is left, and when it is fetched."""
    place = place_label(o.pickup_name or "", o.pickup_kind, o.pickup_location, _)
    lines = [
        _("📍 Leave it at {place}, not at the door: the building's status.").format(place=place)
        if runner
        else _("📍 It is left at {place}: please pick it up there.").format(place=place)
    ]
    if o.pickup_times:
        lines.append(_("🕘 Pickup times: {times}").format(times=o.pickup_times))
    return lines


def detail_lines(
    category: str,
    answers: dict[str, Any],
    doorstep: bool,
    _: Gettext,
    *,
    runner: bool = False,
    pickup: HasPickup | None = None,
) -> list[str]:
    """The form's answers as "Label: value" lines, in the form's order (``runner``: the hand-
    over said to the runner, of the resident's door, not "your" door)."""
    lines = []
    for st in form.steps_for(category):
        if st.key in ("description", "urgency"):
            continue
        value = answers.get(st.key)
        if value in (None, ""):
            continue
        label = _(form.LABELS[st.key])
        shown = choice_label(category, st.key, str(value), _)
        if st.key in ("budget", "amount") and str(value).isdigit():
            shown = _("{n} yuan").format(n=value)
        lines.append(_("{label}: {value}").format(label=label, value=shown))
    if pickup is not None:
        lines += pickup_lines(pickup, _, runner=runner)
    elif runner:
        lines.append(
            _("Contactless: knock and leave it at the resident's door.")
            if doorstep
            else _("Hand it to the resident in person.")
        )
    else:
        lines.append(
            _("Contactless: the volunteer knocks and leaves it at your door.")
            if doorstep
            else _("Hand it over in person.")
        )
    return lines


# The runner's own words where the resident's would say "your door".
RUNNER_STATUS = {
    "delivering": N_("on the way to the resident"),
    "delivered": N_("delivered to the resident's door"),
}


def status_word(o: OrderView, _: Gettext) -> str:
    """The task's status in a few words for its runner, as its kind says it: "bought" once
    bought (not "being bought"), "topped up" for a gas card, the resident's door."""
    if o.status == "purchasing":
        return _(kinds.purchase_word(o.category, o.details) or kinds.BOUGHT)
    return _(RUNNER_STATUS.get(o.status) or STATUS[o.status])


def _pickup(o: OrderView) -> OrderView | None:
    return o if o.pickup_name else None


def answers_of(o: OrderView) -> dict[str, Any]:
    return {**o.details, "time_window": o.time_window, "payment": o.payment}


def group_taken(o: OrderView, _: Gettext) -> str:
    return _("✅ {title} · {place} · taken by {name}").format(
        title=title(o, _), place=f"{o.compound} {o.building}", name=o.volunteer_name
    )


def group_digest(tasks: list[OrderView], _: Gettext) -> tuple[str, Rows]:
    """Several new tasks folded into one group post (when the group's message budget is
    short): one line each, a claim button for each still open; taken or closed ones collapse."""
    lines = [_("🆕 New tasks: {n}").format(n=len(tasks))]
    claimable = []
    for t in tasks:
        if t.status == "open":
            mark = ("🔴 " if t.urgency == "urgent" else "") + ("⭐ " if t.priority else "")
            lines.append(
                f"{mark}{title(t, _)} · {t.compound} {t.building} · {_(NEEDED[t.urgency])}"
                + f" · {preview(t.description, _personal(t))}"
            )
            claimable.append(t)
        elif t.status in ("claimed", "purchasing", "delivering", "delivered", "confirmed"):
            lines.append(group_taken(t, _))
        else:
            lines.append(group_closed(t, _))
    return "\n".join(lines), claim_rows([t.id for t in claimable])


def group_closed(o: OrderView, _: Gettext) -> str:
    return _("✖️ {title} · {place} · {status}").format(
        title=title(o, _), place=f"{o.compound} {o.building}", status=_(STATUS[o.status])
    )


def repeat_line(o: OrderView, _: Gettext) -> list[str]:
    """An occurrence of a repeating errand says so (and that it was made late, if it was)."""
    if o.repeat_id is None:
        return []
    return [_("🔁 Repeating order, created late") if o.repeat_late else _("🔁 Repeating order")]


def runner_card(o: OrderView, _: Gettext, tz: str) -> tuple[str, Rows]:
    """The claimer's private card: everything needed to run the errand."""
    lines = [
        title(o, _) + " · " + _(URGENCY[o.urgency]) + (" · ⭐" if o.priority else ""),
        _("Status: {status}").format(status=status_word(o, _)),
        *repeat_line(o, _),
        "",
        "📝 " + (o.description or description_preview(o, _)),
        *detail_lines(o.category, answers_of(o), o.doorstep, _, runner=True, pickup=_pickup(o)),
        "",
        "👤 " + o.contact_name,
        "📞 " + o.contact_phone,
        "🏠 " + f"{o.community} {o.compound} {o.building} {o.unit}-{o.room}",
    ]
    if not o.household_on_telegram:
        lines.append("☎️ " + _(CALL_FIRST))
    spent = spent_line(o, _)
    if spent:
        lines += ["", spent]
    rows: Rows = []
    word = kinds.purchase_word(o.category, o.details)
    bought = _("🛒 Bought") if word == kinds.BOUGHT else "✅ " + _(word or kinds.BOUGHT)
    step = {
        # A task with nothing to buy goes from taken straight to on the way.
        "claimed": ("buy", bought) if word else ("go", _("🚶 On the way")),
        "purchasing": ("go", _("🚶 On the way")),
        "delivering": (
            "done",
            _("📦 Left at {place}").format(place=o.pickup_name)
            if o.pickup_name
            else _("📦 Delivered at the door"),
        ),
    }.get(o.status)
    if step:
        rows.append([Button(step[1], order_action(step[0], o.id))])
        # A household without Telegram is written to through whoever took its order by
        # phone (they phone it); not when that is the runner themselves.
        if o.household_on_telegram or (o.relayed and o.entered_by != o.volunteer_telegram_id):
            rows.append([Button(_("💬 Message the resident"), relay_action(o.id))])
        rows.append(
            [
                Button(_("↩️ Give it back"), order_action("rel", o.id)),
                Button(_("🚫 Cannot be done"), order_action("nf", o.id)),
            ]
        )
    extra_lines, extra_rows = runner_extras(o, _)
    return "\n".join(lines + extra_lines), rows + extra_rows


def runner_extras(o: OrderView, _: Gettext) -> tuple[list[str], Rows]:
    """Lines and buttons other rooms add to the runner's card, after its own: the place
    where a payment line and its buttons are assembled (the resident's card has its twin,
    bot/services/orders/cards.py `card_extras`). None yet."""
    return [], []


def release_reasons(o: OrderView, _: Gettext) -> tuple[str, Rows]:
    rows = [
        [Button(_(label), order_action("relr", o.id, code))]
        for code, label in RELEASE_REASONS.items()
    ]
    rows.append([Button(_("Keep the task"), order_action("detail", o.id))])
    return _("Why are you giving task #{id} back? It goes back to the group.").format(id=o.id), rows


def give_up_reasons(o: OrderView, _: Gettext) -> tuple[str, Rows]:
    rows = [
        [Button(_(label), order_action("nfr", o.id, code))]
        for code, label in GIVE_UP_REASONS.items()
    ]
    rows.append([Button(_("Keep the task"), order_action("detail", o.id))])
    return _("Why can task #{id} not be done? The resident and the staff will be told.").format(
        id=o.id
    ), rows


def staff_gave_up(o: OrderView, _: Gettext) -> str:
    return "\n".join(
        [
            "🚫 "
            + _("{title} could not be done: {reason}").format(
                title=title(o, _), reason=_(o.reason or "")
            ),
            f"{o.contact_name} · {o.contact_phone} · {o.compound} {o.building} {o.unit}-{o.room}",
            _("Volunteer: {name}").format(name=o.volunteer_name or ""),
        ]
    )


def resident_notice(o: OrderView, _: Gettext, tz: str) -> str:
    """The short message the resident gets at each change, beside the card it updates (so
    the phone notifies); no buttons: those are on the card alone."""
    when = local_time(o.updated_at, tz)
    name = o.volunteer_first_name
    text = {
        "open": _("Your order {title} was sent to the volunteers of your grid ({time})."),
        "claimed": _("{name} took your order {title} ({time})."),
        "purchasing": _("{name} has bought the items for {title} ({time})."),
        "delivering": _("{name} is on the way with {title} ({time})."),
        "delivered": _(AT_DOOR),
        "confirmed": _("Thank you! {title} is finished ({time})."),
        "cancelled": _("{title} was cancelled ({time})."),
        "unfulfillable": _("Sorry, {title} could not be done ({time})."),
    }[o.status].format(title=title(o, _), name=name, time=when)
    if o.status == "delivered" and o.pickup_name:
        # Left at the building's point (its status said "pickup"), not at the door.
        text = _(AT_POINT).format(title=title(o, _), place=o.pickup_name, time=when)
        if o.pickup_times:
            text += "\n" + _("🕘 Pickup times: {times}").format(times=o.pickup_times)
    word = kinds.purchase_word(o.category, o.details)
    if o.status == "purchasing" and word not in (None, kinds.BOUGHT):
        # A gas card topped up, papers printed: not "bought the items".
        text = _("{name}: {title} · {step} ({time}).").format(
            name=name, title=title(o, _), step=_(word or kinds.BOUGHT), time=when
        )
    if o.reason and o.status in ("cancelled", "unfulfillable", "open"):
        text += "\n" + _("Reason: {reason}").format(reason=_(o.reason))
    spent = spent_line(o, _) if o.status == "delivered" else None
    if spent:
        text += "\n" + spent
    return text


PROBLEMS = {
    "missing": N_("Something is missing"),
    "wrong": N_("Wrong item"),
    "damaged": N_("Damaged or spoiled"),
    "other": N_("Something else"),
}


def spent_line(o: OrderView, _: Gettext) -> str | None:
    """What the runner spent, so the resident knows what to pay (None: not asked)."""
    if o.amount_spent_fen is None:
        return None
    if o.amount_spent_fen == 0:
        return _("💰 Nothing was spent; nothing to pay.")
    return _("💰 Spent: ¥{amount}").format(amount=yuan(o.amount_spent_fen))


def delivery_photos(o: OrderView, _: Gettext) -> list[tuple[str, str]]:
    """The proof of delivery for the resident: (caption, photo file id) pairs."""
    photos = []
    if o.doorstep_photo:
        photos.append(
            (_("📷 {title}: the photo at your door").format(title=title(o, _)), o.doorstep_photo)
        )
    if o.receipt_photo:
        caption = _("🧾 {title}: the receipt").format(title=title(o, _))
        spent = spent_line(o, _)
        photos.append((caption + ("\n" + spent if spent else ""), o.receipt_photo))
    return photos


def resident_released(o: OrderView, _: Gettext) -> str:
    return _("The volunteer had to give {title} back. It is open again for the others.").format(
        title=title(o, _)
    )


def group_waiting_again(o: OrderView, _: Gettext) -> str:
    """The old group post of a task taken back from a suspended runner (no reason given)."""
    return _("🔁 {title} · {place} · waiting for a runner again (posted anew below)").format(
        title=title(o, _), place=f"{o.compound} {o.building}"
    )


def runner_withdrawn(o: OrderView, _: Gettext) -> str:
    """What a suspended runner's old card becomes: no address, no phone, no buttons."""
    return _("{title}: this task went back to the group; its details are no longer shown.").format(
        title=title(o, _)
    )


def resident_reassigned(o: OrderView, _: Gettext) -> str:
    """The resident of a task taken back from a suspended runner: kind, and without why."""
    return _(
        "About {title}: another volunteer will take over your order. Sorry for the wait; "
        "you will hear from me as soon as someone has it."
    ).format(title=title(o, _))


def runner_cancelled(o: OrderView, _: Gettext) -> str:
    return _("{title} was cancelled by the resident. You can stop now.").format(title=title(o, _))


def runner_confirmed(o: OrderView, _: Gettext) -> str:
    return _("The resident received {title}. Thank you for running it!").format(title=title(o, _))


def staff_problem(o: OrderView, kind: str, text: str | None, _: Gettext) -> str:
    lines = [
        "⚠️ " + _("Problem with {title}: {kind}").format(title=title(o, _), kind=_(PROBLEMS[kind])),
        f"{o.contact_name} · {o.contact_phone} · {o.compound} {o.building} {o.unit}-{o.room}",
    ]
    if o.volunteer_name:
        lines.append(_("Volunteer: {name}").format(name=o.volunteer_name))
    if text:
        lines.append("“" + text + "”")
    return "\n".join(lines)


def runner_thanked(o: OrderView, _: Gettext) -> str:
    return (
        _("{name} thanks you for {title}!").format(name=o.contact_name, title=title(o, _))
        + " "
        + "⭐" * (o.rating or 0)
    )


def claim_rows(order_ids: list[int]) -> Rows:
    """A 🙋 button per task, four to a row (a list of tasks in a group or a private chat)."""
    claims = [Button(f"🙋 #{i}", order_action("claim", i)) for i in order_ids]
    return [claims[i : i + 4] for i in range(0, len(claims), 4)]
