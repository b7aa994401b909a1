"""👤 My info: the resident's address, the people they order for (listed, removed, ➕ added
through registration) and the care list of their household (``p:<verb>[:<value>]``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.buttons import Button, Rows
from bot.errors import Refused
from bot.i18n import N_, Gettext
from bot.services import isolation, residents
from handlers.answers import answer, edit_or_send, pressed, pressed_label
from handlers.callback_data import ID, Callback, one_of
from handlers.context import AppContext
from handlers.keyboards import MENU_ME, inline, label_pattern
from handlers.registration import ADD_SOMEONE, CHANGE_ADDRESS
from handlers.work import Work, attempt, unit_of_work

PEOPLE = Callback("p", "list")
REMOVE = Callback("p", "rm", recipient_id=ID)
CARE = Callback("p", "care")
CARE_FLAG = Callback("p", "care", flag=one_of(residents.CARE_FLAGS))
ME = Callback("p", "me")

CARE_TEXT = N_(
    "Does your household have someone who needs extra care? If you tick one, your orders are "
    'marked priority for the volunteers. They see only "priority", never the reason; the '
    "community staff see it to check on you. You can untick it any time."
)


async def me_screen(update: Update, ctx: AppContext) -> None:
    """/me, 👤, and ``p:me`` (Done) on its sub-screens."""
    assert update.effective_user is not None and update.effective_chat is not None
    async with unit_of_work(ctx) as w:
        _ = w._
        me = await residents.get(w.session, update.effective_user.id)
        others = await residents.recipients_of(w.session, update.effective_user.id)
        record = await residents.care_record(w.session, update.effective_user.id)
    if update.callback_query:
        await answer(update.callback_query)
    if me is None or record is None:
        await update.effective_chat.send_message(
            _("Welcome! Send /start to register your address, then you can order errands.")
        )
        return
    lines = [
        _("Name: {name}").format(name=me.name),
        _("Address: {address}").format(address=me.address),
        _("Phone: {phone}").format(phone=me.phone),
        _("People you order for: {n}").format(n=len(others)),
        *care_lines(record, _, ctx.rt.today()),
    ]
    rows = [
        [Button(_("✏️ Change my address"), CHANGE_ADDRESS.data())],
        [Button(_("👥 People I order for"), PEOPLE.data())],
        [Button(_("⭐ Care list"), CARE.data())],
    ]
    if update.callback_query:
        await edit_or_send(update, "\n".join(lines), inline(rows))
    else:
        await update.effective_chat.send_message("\n".join(lines), reply_markup=inline(rows))


def care_lines(record: residents.CareRecord, _: Gettext, today: date) -> list[str]:
    """The household's one care record, as staff keep it, in kind words: every flag (those
    the community noted too) and home isolation with what it changes."""
    flags = "、".join(_(residents.CARE_WORDS[f]) for f in record.flags)
    lines = [_("Care list: {state}").format(state=flags or _("no"))]
    if record.by_staff:
        lines.append(
            _(
                "The community has noted your household for extra care: your orders come first, "
                "and someone may check on you."
            )
        )
    if record.isolating(today):
        assert record.isolation_until is not None
        lines.append(isolation.on_my_page(record.isolation_until, _))
    return lines


def _people_screen(others: list[residents.RecipientInfo], _: Gettext) -> tuple[str, Rows]:
    lines = [_("People you order for:")] + [
        "👤 " + _("{label}: {value}").format(label=r.name, value=f"{r.address}, {r.phone}")
        for r in others
    ]
    if not others:
        lines.append(_("nobody yet"))
    rows = [
        [Button(_("✖️ Remove {name}").format(name=r.name), REMOVE.data(recipient_id=r.id))]
        for r in others
    ]
    rows.append([Button(_("➕ Add someone"), ADD_SOMEONE.data())])
    rows.append([Button(_("Done"), ME.data())])
    return "\n".join(lines), rows


def _care_screen(record: residents.CareRecord, _: Gettext) -> tuple[str, Rows]:
    """Each flag the household can tick; those staff noted are ticked too, marked as theirs."""
    noted = _("(noted by the community)")
    rows = [
        [
            Button(
                ("☑️ " if f in record.flags else "⬜ ")
                + _(label)
                + (" " + noted if f in record.by_staff else ""),
                CARE_FLAG.data(flag=f),
            )
        ]
        for f, label in residents.CARE_FLAGS.items()
    ]
    rows.append([Button(_("Done"), ME.data())])
    text = _(CARE_TEXT)
    others = [f for f in record.by_staff if f not in residents.CARE_FLAGS]
    if others:
        text += "\n" + _("Also noted by the community: {flags}").format(
            flags="、".join(_(residents.CARE_WORDS[f]) for f in others)
        )
    return text, rows


async def _show(update: Update, screen: tuple[str, Rows]) -> None:
    text, rows = screen
    await edit_or_send(update, text, inline(rows))


async def people_listed(update: Update, ctx: AppContext) -> None:
    """p:list: the people this resident orders for."""
    q = pressed(update)
    others = await attempt(
        update, ctx, lambda w: residents.recipients_of(w.session, q.from_user.id)
    )
    if others is None:
        return
    await answer(q)
    await _show(update, _people_screen(others, await ctx.gettext()))


async def person_removed(update: Update, ctx: AppContext) -> None:
    """p:rm:<id>: one of them removed (told after the commit, DESIGN rule 11)."""
    q = pressed(update)
    recipient_id = REMOVE.parse(q.data).recipient_id

    async def remove(w: Work) -> tuple[str, list[residents.RecipientInfo]]:
        name = await residents.remove_recipient(w.session, q.from_user.id, recipient_id)
        return name, await residents.recipients_of(w.session, q.from_user.id)

    done = await attempt(update, ctx, remove)
    if done is None and pressed_label(q) is not None:  # removed already: the list as it is
        async with ctx.rt.db.read() as s:
            now = await residents.recipients_of(s, q.from_user.id)
        await _show(update, _people_screen(now, await ctx.gettext()))
    if done is None:
        return
    name, others = done
    _ = await ctx.gettext()
    await answer(q, _("Removed {name}.").format(name=name))
    await _show(update, _people_screen(others, _))


async def _record(w: Work, telegram_id: int) -> residents.CareRecord:
    record = await residents.care_record(w.session, telegram_id)
    if record is None:
        raise Refused(residents.REGISTER_FIRST)
    return record


async def care_shown(update: Update, ctx: AppContext) -> None:
    """p:care: the household's care flags, each a toggle."""
    q = pressed(update)
    record = await attempt(update, ctx, lambda w: _record(w, q.from_user.id))
    if record is None:
        return
    await answer(q)
    await _show(update, _care_screen(record, await ctx.gettext()))


async def care_toggled(update: Update, ctx: AppContext) -> None:
    """p:care:<flag>: ticked or unticked."""
    q = pressed(update)
    flag = CARE_FLAG.parse(q.data).flag
    # What the screen showed when pressed: ⬜ offers to tick, ☑️ to untick (_care_screen).
    label = pressed_label(q)
    marking = None if label is None else not label.startswith("☑️")

    async def toggle(w: Work) -> residents.CareRecord:
        await residents.toggle_care(w.session, ctx.rt.clock, q.from_user.id, flag, marking)
        return await _record(w, q.from_user.id)

    record = await attempt(update, ctx, toggle)
    if record is None:  # refused (staff noted it meanwhile): the screen as it is now
        async with ctx.rt.db.read() as s:
            record = await residents.care_record(s, q.from_user.id)
        if record is not None:
            await _show(update, _care_screen(record, await ctx.gettext()))
        return
    await answer(q)
    await _show(update, _care_screen(record, await ctx.gettext()))


def my_info_handlers() -> list[Any]:
    return [
        CommandHandler("me", me_screen, filters=filters.ChatType.PRIVATE),
        MessageHandler(filters.Regex(label_pattern(MENU_ME)), me_screen),
        PEOPLE.handler(people_listed),
        REMOVE.handler(person_removed),
        CARE.handler(care_shown),
        CARE_FLAG.handler(care_toggled),
        ME.handler(me_screen),
    ]
