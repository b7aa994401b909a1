"""/notices (📬 通知回执): a staff member's recent notices by where they went, with the counts,
🔁 resend to the unconfirmed, 🏠 the unconfirmed households per building for door knocking, ✖️
a scheduled one; and the residents' ✅ 收到 on their copy. Composing and sending a notice is
handlers/notices.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from telegram import Update
from telegram.ext import (
    CommandHandler,
    filters,
)

from bot.buttons import Button
from bot.errors import STALE
from bot.i18n import N_, P_, Gettext, local_time, ngettext
from bot.limits import chunks
from bot.services import notices as svc
from handlers.answers import alert, answer, edit_or_send, has_buttons, pressed, set_buttons
from handlers.callback_data import ID, Callback
from handlers.context import AppContext
from handlers.keyboards import inline
from handlers.work import attempt

RECEIVED_BUTTON = Callback("n", "ok", notice_id=ID)
RESEND_BUTTON = Callback("n", "rs", notice_id=ID)
BY_BUILDING_BUTTON = Callback("n", "ub", notice_id=ID)
CANCEL_BUTTON = Callback("n", "x", notice_id=ID)

NO_NOTICES = N_("No notices yet. Send one with /notice.")
COUNTS = P_(
    "{recipients} household · {sent} delivered · {failed} failed (blocked the bot) · "
    "{confirmed} confirmed",
    "{recipients} households · {sent} delivered · {failed} failed (blocked the bot) · "
    "{confirmed} confirmed",
)
RESEND = N_("🔁 Resend to the unconfirmed")
UNCONFIRMED = N_("🏠 Unconfirmed by building")
CANCEL_SCHEDULED = N_("✖️ Cancel this notice")
RESENT = P_(
    "Notice #{id} sent again to {n} household that has not confirmed.",
    "Notice #{id} sent again to {n} households that have not confirmed.",
)
NOTHING_TO_RESEND = N_("Nobody to resend to: everyone reached has confirmed.")
ALL_CONFIRMED = N_("Notice #{id}: no unconfirmed households in your buildings.")
UNCONFIRMED_HEAD = N_("Notice #{id}, households that have not confirmed:")
BLOCKED_MARK = N_("(not delivered)")
THANKS = N_("Thank you, noted.")
ALREADY = N_("Already noted, thank you.")
WAITING = N_("scheduled for {when}")
CANCELLED = N_("cancelled")
CANCELLED_OK = N_("Notice #{id} is cancelled; it will not be sent.")


def _local(ctx: AppContext, when: datetime) -> str:
    return local_time(when, ctx.rt.timezone, "%Y-%m-%d %H:%M")


_PLACE_MARK = {"building": "🏢", "grid": "🗺"}


def _summary(_: Gettext, ctx: AppContext, v: svc.NoticeView) -> str:
    # "#1 🏢 幸福小区 1栋", not "某栋楼": which building or grid it went to.
    where = _(svc.AUDIENCE_LABELS.get(v.audience, v.audience))
    if v.place:
        where = f"{_PLACE_MARK.get(v.audience, '')} {v.place}".strip()
    head = f"#{v.id} {where}"
    if v.cancelled_at is not None:
        head += " · " + _(CANCELLED)
    elif v.sent_at is not None:
        head += " · " + _local(ctx, v.sent_at)
    elif v.send_at is not None:
        head += " · " + _(WAITING).format(when=_local(ctx, v.send_at))
    c = v.counts
    snippet = v.text if len(v.text) <= 60 else v.text[:60] + "…"
    body = f"{head}\n{snippet}"
    if v.sent_at is not None:
        body += "\n" + ngettext(_, COUNTS, c.recipients).format(
            recipients=c.recipients, sent=c.sent, failed=c.failed, confirmed=c.confirmed
        )
    return body


async def notices_command(update: Update, ctx: AppContext) -> None:
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None
    user_id = update.effective_user.id
    views = await attempt(update, ctx, lambda w: svc.recent(w.session, user_id), write=False)
    if views is None:
        return
    _ = await ctx.gettext()
    if not views:
        await msg.reply_text(_(NO_NOTICES))
        return
    for v in reversed(views):
        rows = _listing_rows(_, v)
        await msg.reply_text(_summary(_, ctx, v), reply_markup=inline(rows) if rows else None)


def _listing_rows(_: Gettext, v: svc.NoticeView) -> list[list[Button]]:
    """What can be done to a notice now: sent, resend or see who has not confirmed; waiting,
    cancel it; cancelled, nothing."""
    if v.sent_at is not None:
        return [
            [Button(_(RESEND), RESEND_BUTTON.data(notice_id=v.id))],
            [Button(_(UNCONFIRMED), BY_BUILDING_BUTTON.data(notice_id=v.id))],
        ]
    if v.cancelled_at is None:
        return [[Button(_(CANCEL_SCHEDULED), CANCEL_BUTTON.data(notice_id=v.id))]]
    return []


async def notice_resend(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    notice_id = RESEND_BUTTON.parse(q.data).notice_id
    n = await attempt(
        update,
        ctx,
        lambda w: svc.resend_unconfirmed(ctx.rt, w.session, q.from_user.id, notice_id),
    )
    if n is None:
        return
    await answer(q)
    _ = await ctx.gettext()
    text = ngettext(_, RESENT, n).format(id=notice_id, n=n) if n else _(NOTHING_TO_RESEND)
    if update.effective_chat:
        await update.effective_chat.send_message(text)


async def notice_unconfirmed(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    notice_id = BY_BUILDING_BUTTON.parse(q.data).notice_id
    by_building = await attempt(
        update,
        ctx,
        lambda w: svc.unconfirmed_by_building(w.session, q.from_user.id, notice_id),
        write=False,
    )
    if by_building is None:
        return
    await answer(q)
    chat = update.effective_chat
    if chat is None:
        return
    _ = await ctx.gettext()
    if not by_building:
        await chat.send_message(_(ALL_CONFIRMED).format(id=notice_id))
        return
    lines = [_(UNCONFIRMED_HEAD).format(id=notice_id)]
    for building, homes in by_building.items():
        lines.append(f"\n🏢 {building} ({len(homes)})")
        for h in homes:
            mark = " " + _(BLOCKED_MARK) if h.failed else ""
            lines.append(f"{h.unit}-{h.room} {h.name} {h.phone}{mark}")
    for chunk in chunks(lines, 3800):  # within Telegram's 4096 characters a message
        await chat.send_message(chunk)


async def notice_cancel_scheduled(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    notice_id = CANCEL_BUTTON.parse(q.data).notice_id
    ok = await attempt(
        update, ctx, lambda w: svc.cancel(ctx.rt, w.session, q.from_user.id, notice_id)
    )
    if ok is None:
        return
    _ = await ctx.gettext()
    if not ok:  # sent or cancelled meanwhile: the listing shows the notice as it is now
        await alert(update, _(STALE))
        v = await attempt(update, ctx, lambda w: svc.one(w.session, q.from_user.id, notice_id))
        if v is not None:
            rows = _listing_rows(_, v)
            await edit_or_send(update, _summary(_, ctx, v), inline(rows) if rows else None)
        return
    await answer(q)
    await edit_or_send(update, _(CANCELLED_OK).format(id=notice_id), None)


async def notice_received(update: Update, ctx: AppContext) -> None:
    """✅ Received on a notice, in the resident's private chat."""
    q = pressed(update)
    notice_id = RECEIVED_BUTTON.parse(q.data).notice_id
    chat = update.effective_chat
    if chat is None or chat.id != q.from_user.id:
        await alert(update, (await ctx.gettext())(STALE))
        return
    pressed_id = q.message.message_id if q.message is not None else None
    # The ✅ is taken off by the outbox (an edit written with the receipt, paced): the update
    # ends with the answer, not behind a message edit's turn.
    first = await attempt(
        update, ctx, lambda w: svc.confirm(ctx.rt, w.session, notice_id, chat.id, pressed_id)
    )
    if first is None:  # not sent to this chat (any more): refused, and the ✅ goes
        if has_buttons(q):
            await set_buttons(q, None)
        return
    _ = await ctx.gettext()
    await answer(q, _(THANKS) if first else _(ALREADY))
    if not first and has_buttons(q):
        # Already confirmed, from a copy still showing ✅ (one on its way at the first press):
        # it loses the ✅ as well; the first press's edit says when it was confirmed.
        await set_buttons(q, None)


def notice_handlers() -> list[Any]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("notices", notices_command, filters=private),
        RECEIVED_BUTTON.handler(notice_received),
        RESEND_BUTTON.handler(notice_resend),
        BY_BUILDING_BUTTON.handler(notice_unconfirmed),
        CANCEL_BUTTON.handler(notice_cancel_scheduled),
    ]
