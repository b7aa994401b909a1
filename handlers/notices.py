"""Notices: staff compose one (text, or a photo/PDF with a caption), choose the audience and
target, preview, and send now or at a set time. What happens after (/notices, the residents' ✅)
is handlers/notice_receipts.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from telegram import Update
from telegram.ext import (
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.buttons import Button
from bot.errors import STALE, Refused
from bot.i18n import N_, P_, Gettext, local_time, ngettext
from bot.limits import check_fits, limit_for
from bot.services import notices as svc
from bot.services.scope import scope_of
from handlers.answers import alert, answer, edit_or_send, pressed, set_buttons
from handlers.callback_data import ID, Callback, matching, one_of
from handlers.context import AppContext
from handlers.conversation_exits import conversation_exits
from handlers.keyboards import MENU_ANY, STAFF_NOTICE, inline, label_pattern
from handlers.work import Work, attempt, unit_of_work

AUDIENCE, TARGET, TEXT, PREVIEW, WHEN = range(40, 45)
KEY = "notice"

AUDIENCE_BUTTON = Callback("n", "a", audience=one_of(svc.AUDIENCE_LABELS))
TARGET_BUTTON = Callback("n", "t", key=matching(f"all|[cgb]{ID.regex}"))
SEND_BUTTON = Callback("n", "send")
LATER_BUTTON = Callback("n", "later")
PIN_BUTTON = Callback("n", "pin")
STOP_BUTTON = Callback("n", "stop")

ASK_AUDIENCE = N_("Send a notice to whom?")
ASK_TARGET = N_("Which one?")
# The question after the audience, as a person would ask it.
ASK_TARGETS = {
    svc.COMMUNITY: N_("To which community?"),
    svc.GRID: N_("To the residents of which grid?"),
    svc.BUILDING: N_("To the residents of which building?"),
    svc.CARE: N_("The care list of which community or grid?"),
    svc.VOLUNTEERS: N_("The volunteers of which community or grid?"),
}
ASK_TEXT = N_(
    "What should the notice to {target} say? Type it here; a photo or a PDF with the text as "
    "its caption works too. /cancel stops."
)
PREVIEW_TO = N_("Preview of the notice to {target}:")
REACH_HOUSEHOLDS = N_("Households that will get it: {n}")
REACH_VOLUNTEERS = N_("Volunteers: {n}")
REACH_GROUPS = N_("Group chats: {n}")
# Whom a notice goes to, said as a person would: "幸福小区 1栋的居民".
TARGET_WORDS = {
    svc.COMMUNITY: N_("all residents of {name}"),
    svc.GRID: N_("the residents of {name}"),
    svc.BUILDING: N_("the residents of {name}"),
    svc.CARE: N_("the households on the care list of {name}"),
    svc.VOLUNTEERS: N_("the volunteers of {name}"),
    svc.EVERYONE: N_("all residents of every community"),
}
ASK_WHEN = N_("Send it when? Type HH:MM for today or YYYY-MM-DD HH:MM (local time).")
SEND_NOW = N_("✅ Send now")
SEND_LATER = N_("🕘 Send at a time")
PIN_OFF = N_("📌 Pin in the group chats: off")
PIN_ON = N_("📌 Pin in the group chats: on")
CANCEL = N_("✖️ Cancel")
STOPPED = N_("Stopped. Nothing was sent.")
ON_ITS_WAY = P_(
    "Notice #{id} is on its way to {n} household.", "Notice #{id} is on its way to {n} households."
)
SCHEDULED = N_("Notice #{id} will be sent at {when}.")
WRONG_MEDIA = N_("Please send a photo or a PDF, or just text.")
STRAY = N_("Please use the buttons above, type the notice, or /cancel to stop.")


def _local(ctx: AppContext, when: datetime) -> str:
    return local_time(when, ctx.rt.timezone, "%Y-%m-%d %H:%M")


async def notice_start(update: Update, ctx: AppContext) -> int:
    assert update.effective_user is not None and update.effective_message is not None
    _ = await ctx.gettext()
    async with ctx.rt.db.read() as s:
        scope = await scope_of(s, update.effective_user.id)
    audiences = svc.audiences_for(scope)
    if not audiences:
        await update.effective_message.reply_text(_("Only community staff can send notices."))
        return ConversationHandler.END
    assert ctx.user_data is not None
    ctx.user_data[KEY] = {}
    rows = [
        [Button(_(svc.AUDIENCE_LABELS[a]), AUDIENCE_BUTTON.data(audience=a))] for a in audiences
    ]
    rows.append([Button(_(CANCEL), STOP_BUTTON.data())])
    await update.effective_message.reply_text(_(ASK_AUDIENCE), reply_markup=inline(rows))
    return AUDIENCE


async def notice_audience(update: Update, ctx: AppContext) -> int:
    q = pressed(update)
    assert ctx.user_data is not None
    _ = await ctx.gettext()
    audience = AUDIENCE_BUTTON.parse(q.data).audience
    async with ctx.rt.db.read() as s:
        scope = await scope_of(s, q.from_user.id)
        options = await svc.targets(s, scope, audience)
    if not options:
        await alert(update, _(STALE))
        return AUDIENCE
    draft = ctx.user_data.setdefault(KEY, {})
    draft["audience"] = audience
    await answer(q)
    if len(options) == 1:  # nothing to choose
        return await _chose_target(update, ctx, _, audience, *options[0])
    rows = [[Button(label, TARGET_BUTTON.data(key=key))] for key, label in options]
    rows.append([Button(_(CANCEL), STOP_BUTTON.data())])
    await edit_or_send(update, _(ASK_TARGETS.get(audience, ASK_TARGET)), inline(rows))
    return TARGET


def _target_label(_: Gettext, audience: str, label: str) -> str:
    return _(TARGET_WORDS[audience]).format(name=label)


async def _chose_target(
    update: Update, ctx: AppContext, _: Gettext, audience: str, key: str, label: str
) -> int:
    assert ctx.user_data is not None
    draft = ctx.user_data.setdefault(KEY, {})
    draft.update(audience=audience, key=key, target=_target_label(_, audience, label), pin=False)
    await edit_or_send(update, _(ASK_TEXT).format(target=draft["target"]), None)
    return TEXT


async def notice_target(update: Update, ctx: AppContext) -> int:
    q = pressed(update)
    assert ctx.user_data is not None
    _ = await ctx.gettext()
    draft = ctx.user_data.get(KEY) or {}
    audience, key = draft.get("audience"), TARGET_BUTTON.parse(q.data).key
    async with ctx.rt.db.read() as s:
        scope = await scope_of(s, q.from_user.id)
        allowed = dict(await svc.targets(s, scope, audience)) if audience else {}
    if key not in allowed:
        await alert(update, _(STALE))
        return TARGET
    await answer(q)
    return await _chose_target(update, ctx, _, str(audience), key, allowed[key])


def _preview_rows(_: Gettext, draft: dict[str, Any]) -> list[list[Button]]:
    rows = [[Button(_(SEND_NOW), SEND_BUTTON.data())], [Button(_(SEND_LATER), LATER_BUTTON.data())]]
    if draft.get("audience") in (svc.COMMUNITY, svc.GRID, svc.VOLUNTEERS, svc.EVERYONE):
        rows.append([Button(_(PIN_ON if draft.get("pin") else PIN_OFF), PIN_BUTTON.data())])
    rows.append([Button(_(CANCEL), STOP_BUTTON.data())])
    return rows


async def notice_text(update: Update, ctx: AppContext) -> int:
    msg = update.effective_message
    assert msg is not None and ctx.user_data is not None
    _ = await ctx.gettext()
    draft = ctx.user_data.get(KEY)
    if not draft or "key" not in draft:
        await msg.reply_text(_(STALE))
        return ConversationHandler.END
    file_id = media = None
    if msg.photo:
        file_id, media = msg.photo[-1].file_id, "photo"
    elif msg.document:
        if (msg.document.mime_type or "") != "application/pdf":
            await msg.reply_text(_(WRONG_MEDIA))
            return TEXT
        file_id, media = msg.document.file_id, "document"
    text = msg.text or msg.caption or ""
    try:
        text = svc.check_text(text, file_id is not None, ctx.rt.settings.limits.max_text_length * 3)
        async with ctx.rt.db.read() as s:
            reach = await svc.reach(s, msg.from_user.id if msg.from_user else 0, **_aim(draft))
        # The preview wraps the text too: it must fit as well (a long target name).
        preview = (
            _(PREVIEW_TO).format(target=draft["target"])
            + "\n"
            + _reach_line(_, reach)
            + "\n\n"
            + text
        )
        check_fits(text, [preview], limit_for(file_id is not None))
    except Refused as e:
        # The audience and target chosen are kept: a shorter text continues from here.
        await msg.reply_text(e.render(_))
        return TEXT
    draft.update(text=text, file_id=file_id, media=media)
    markup = inline(_preview_rows(_, draft))
    if media == "photo" and file_id is not None:
        await msg.reply_photo(file_id, caption=preview, reply_markup=markup)
    elif media == "document" and file_id is not None:
        await msg.reply_document(file_id, caption=preview, reply_markup=markup)
    else:
        await msg.reply_text(preview, reply_markup=markup)
    return PREVIEW


def _aim(draft: dict[str, Any]) -> dict[str, str]:
    return {"audience": str(draft["audience"]), "key": str(draft["key"])}


def _reach_line(_: Gettext, reach: svc.Reach) -> str:
    """How many it will reach, so staff see a wrong target before they send."""
    parts = []
    if reach.households or not (reach.volunteers or reach.groups):
        parts.append(_(REACH_HOUSEHOLDS).format(n=reach.households))
    if reach.volunteers:
        parts.append(_(REACH_VOLUNTEERS).format(n=reach.volunteers))
    if reach.groups:
        parts.append(_(REACH_GROUPS).format(n=reach.groups))
    return "👥 " + " · ".join(parts)


async def notice_pin(update: Update, ctx: AppContext) -> int:
    q = update.callback_query
    assert q is not None and ctx.user_data is not None
    _ = await ctx.gettext()
    draft = await _ready_draft(update, ctx, _)
    if draft is None:
        return ConversationHandler.END
    draft["pin"] = not draft.get("pin")
    await answer(q)
    await set_buttons(q, inline(_preview_rows(_, draft)))
    return PREVIEW


async def _ready_draft(update: Update, ctx: AppContext, _: Gettext) -> dict[str, Any] | None:
    """The draft, once its text is in; else None, after saying the button or the answer is out
    of date (the conversation was stopped or has expired)."""
    assert ctx.user_data is not None
    draft: dict[str, Any] | None = ctx.user_data.get(KEY)
    if draft and "text" in draft:
        return draft
    if update.callback_query:
        await alert(update, _(STALE))
    elif update.effective_message:
        await update.effective_message.reply_text(_(STALE))
    return None


def _creating(
    update: Update, ctx: AppContext, draft: dict[str, Any], send_at: datetime | None = None
) -> Callable[[Work], Awaitable[str]]:
    """The service call that creates (and sends, unless scheduled) the drafted notice, giving
    the message to show (the caller forgets the draft once it is committed)."""
    assert update.effective_user is not None
    user_id = update.effective_user.id

    async def create(w: Work) -> str:
        notice = await svc.create(
            ctx.rt,
            w.session,
            user_id,
            draft["audience"],
            draft["key"],
            draft["text"],
            file_id=draft.get("file_id"),
            media=draft.get("media"),
            pin=bool(draft.get("pin")),
            send_at=send_at,
        )
        if send_at is not None:
            return w._(SCHEDULED).format(id=notice.id, when=_local(ctx, send_at))
        n = notice.recipients
        return ngettext(w._, ON_ITS_WAY, n).format(id=notice.id, n=n)

    return create


def _forget(ctx: AppContext) -> None:
    if ctx.user_data is not None:
        ctx.user_data.pop(KEY, None)


async def _done(update: Update, text: str) -> None:
    """Replace the preview's buttons and say what happened (the preview may be a photo)."""
    if update.callback_query is not None:
        await set_buttons(update.callback_query, None)
    if update.effective_chat:
        await update.effective_chat.send_message(text)


async def notice_send(update: Update, ctx: AppContext) -> int:
    q = pressed(update)
    _ = await ctx.gettext()
    draft = await _ready_draft(update, ctx, _)
    if draft is None:
        return ConversationHandler.END
    done = await attempt(update, ctx, _creating(update, ctx, draft))
    if done is None:
        return ConversationHandler.END
    _forget(ctx)
    await answer(q)
    await _done(update, done)
    return ConversationHandler.END


async def notice_later(update: Update, ctx: AppContext) -> int:
    q = update.callback_query
    assert q is not None and ctx.user_data is not None
    _ = await ctx.gettext()
    if await _ready_draft(update, ctx, _) is None:
        return ConversationHandler.END
    await answer(q)
    if update.effective_chat:
        await update.effective_chat.send_message(_(ASK_WHEN))
    return WHEN


async def notice_when(update: Update, ctx: AppContext) -> int:
    msg = update.effective_message
    assert msg is not None and ctx.user_data is not None
    _ = await ctx.gettext()
    try:
        when = svc.parse_when(msg.text or "", ctx.rt.clock.now(), ctx.rt.timezone)
        draft = await _ready_draft(update, ctx, _)
        if draft is None:
            return ConversationHandler.END
        async with unit_of_work(ctx) as w:
            done = await _creating(update, ctx, draft, send_at=when)(w)
        _forget(ctx)
    except Refused as e:
        await msg.reply_text(e.render(_) + "\n" + _(ASK_WHEN))
        return WHEN
    await msg.reply_text(done)
    return ConversationHandler.END


def build_notice_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    # A menu label is not a notice's text: it does what it says (handlers/menus.py).
    content = (filters.TEXT & ~filters.COMMAND & ~MENU_ANY) | filters.PHOTO | filters.Document.ALL
    # ✖️ under a preview (maybe a photo's caption) takes the buttons away and says so anew.
    exits = conversation_exits(
        forget=(KEY,),
        commands=("cancel", "start"),
        stop_button=STOP_BUTTON,
        edit_on_stop=False,
        stray_message=STRAY,
        timeout=False,
    )
    return ConversationHandler(
        entry_points=[
            CommandHandler("notice", notice_start, filters=filters.ChatType.PRIVATE),
            MessageHandler(
                filters.ChatType.PRIVATE & filters.Regex(label_pattern(STAFF_NOTICE)),
                notice_start,
            ),
        ],
        states={
            AUDIENCE: [AUDIENCE_BUTTON.handler(notice_audience)],
            TARGET: [TARGET_BUTTON.handler(notice_target)],
            TEXT: [MessageHandler(content, notice_text)],
            PREVIEW: [
                SEND_BUTTON.handler(notice_send),
                LATER_BUTTON.handler(notice_later),
                PIN_BUTTON.handler(notice_pin),
            ],
            WHEN: [MessageHandler(filters.TEXT & ~filters.COMMAND, notice_when)],
        },
        fallbacks=[*exits.stop, *exits.stray],
        name="notice",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )
