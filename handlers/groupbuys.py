"""Group-buys (团购 / 接龙) and partner merchants in the bot: /groupbuy (staff open one), a
merchant's product list sent as a CSV file with the caption "商家 NAME", the residents' 🛒 and
＋/－ on their one card, staff's ✅ at the deadline, and the merchant's view: /merchant, the
XLSX of lines per door, 📦 delivered with a photo."""

from __future__ import annotations

import re
from typing import Any

from telegram import InputFile, Update
from telegram.ext import CommandHandler, ConversationHandler, MessageHandler, filters

from bot.buttons import Button
from bot.i18n import N_, P_, Gettext, ngettext
from bot.services import csvfile
from bot.services.groupbuys import buys, kept, merchant_staff, merchants, orders, texts
from bot.services.scope import require_staff
from handlers.answers import alert, answer, edit_or_send, pressed
from handlers.callback_data import ID, Callback
from handlers.context import AppContext
from handlers.conversation_exits import Handler, conversation_exits
from handlers.csv_upload import read_csv
from handlers.keyboards import inline
from handlers.work import Work, attempt

JOIN = Callback("gb", "j", notice_id=ID)
PLUS = Callback("gb", "a", item_id=ID)
MINUS = Callback("gb", "r", item_id=ID)
VIEW = Callback("gb", "v", groupbuy_id=ID)
CONFIRM = Callback("gb", "ok", groupbuy_id=ID)
XLSX = Callback("gb", "xl", groupbuy_id=ID)
DELIVERED = Callback("gb", "dl", groupbuy_id=ID)
STOP = Callback("gb", "stop")

WAIT_PHOTO = 70
PHOTO_KEY = "groupbuy_delivered"  # the group-buy whose delivery photo is awaited

OPENED = P_(
    "Group-buy #{id} is open: announced to {n} household in {b} building(s).",
    "Group-buy #{id} is open: announced to {n} households in {b} building(s).",
)
# "商家 爱心超市", "商家：爱心超市", "merchant 爱心超市".
CSV_CAPTION_HEAD = r"^\s*(?:商家|merchant)[\s:：]+"
CSV_CAPTION = CSV_CAPTION_HEAD + r"\S"
PRODUCTS_IMPORTED = N_(
    "{merchant}'s list imported: {created} new, {updated} changed, {unchanged} unchanged."
)
BAD_LINES = P_(
    "Nothing was imported: {n} bad line of {total}.",
    "Nothing was imported: {n} bad lines of {total}.",
)
SEND_PHOTO = N_("Please send a photo of the goods at the distribution point.")
PHOTO_STOPPED = N_("Not marked delivered.")
DELIVERED_OK = N_("Thank you: marked delivered to {point}; the community staff are told.")
ORDERED = N_("Sent to the merchant.")
NOT_A_CONTACT = N_(
    "This is for partner merchants' contact persons. If you are one, please give this number "
    "to the community staff: {id}"
)
CONTACT_OF = N_("You are the contact person of {merchants}.")
NO_ORDERS = N_("No orders yet. Orders come here once the community confirms a group-buy.")
MAX_BYTES = 200_000


def _card(_: Gettext, ctx: AppContext, c: buys.Card) -> tuple[str, Any]:
    text, rows = texts.card(_, c.head, c.items, c.is_open, ctx.rt.timezone)
    return text, inline(rows) if rows else None


async def groupbuy_command(update: Update, ctx: AppContext) -> None:
    """/groupbuy MERCHANT BUILDINGS DEADLINE DAY ITEM:LIMIT ... (the typed form; without words
    it is the buttons' flow, handlers/groupbuy_open.py)."""
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None
    uid = update.effective_user.id
    words = list(ctx.args or [])
    if not words:
        if await attempt(update, ctx, lambda w: require_staff(w.session, uid), write=False):
            await msg.reply_text((await ctx.gettext())(buys.USAGE))
        return
    opened = await attempt(
        update, ctx, lambda w: buys.open_from_args(ctx.rt, w.session, uid, words)
    )
    if opened is None:
        return
    await msg.reply_text(opened_text(await ctx.gettext(), opened))


def opened_text(_: Gettext, opened: buys.Opened) -> str:
    return ngettext(_, OPENED, opened.households).format(
        id=opened.id, n=opened.households, b=opened.buildings
    )


async def products_received(update: Update, ctx: AppContext) -> None:
    """A CSV file captioned "商家 NAME" from staff: the merchant's product list, all or nothing."""
    msg = update.effective_message
    assert msg is not None and msg.document is not None and update.effective_user is not None
    uid = update.effective_user.id
    ref = re.sub(CSV_CAPTION_HEAD, "", msg.caption or "", flags=re.IGNORECASE).strip()
    _ = await ctx.gettext()
    text = await read_csv(msg, _, MAX_BYTES, N_("This file is too large for a product list."))
    if text is None:
        return

    async def run(w: Work) -> tuple[str, merchants.ImportResult]:
        scope = await require_staff(w.session, uid)
        merchant = await merchants.find(w.session, ref)
        await merchants.require_covered(w.session, scope, merchant)
        # All or nothing: with a bad line, the import writes nothing at all.
        result = await merchants.import_products(w.session, ctx.rt.clock, uid, merchant, text)
        return merchant.name, result

    done = await attempt(update, ctx, run)
    if done is None:
        return
    name, result = done
    if result.errors:
        lines = [
            ngettext(_, BAD_LINES, len(result.errors)).format(
                n=len(result.errors), total=result.rows
            )
        ]
        lines += [
            _("Line {line}: {reason}").format(line=n, reason=csvfile.render(r, _))
            for n, r in result.errors
        ]
        lines.append(_("Fix these lines and send the file again."))
        await msg.reply_text("\n".join(lines[:40]))
        return
    await msg.reply_text(
        _(PRODUCTS_IMPORTED).format(
            merchant=name,
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
        )
    )


async def joined(update: Update, ctx: AppContext) -> None:
    """🛒 on the announcement: the receipt noted, and the household's card owed."""
    q = pressed(update)
    notice_id = JOIN.parse(q.data).notice_id
    pressed_id = q.message.message_id if q.message is not None else None
    # The card goes through the outbox, its row kept: the close edits it (bot/services/
    # groupbuys/kept.py), which a direct reply's message (maybe relayed) would not allow.
    c = await attempt(
        update, ctx, lambda w: kept.join(ctx.rt, w.session, q.from_user.id, notice_id, pressed_id)
    )
    if c is not None and c.is_open:
        await answer(q)
    elif c is not None:  # past the deadline: no card, the 🛒 goes (kept.join)
        await answer(q, kept.closed_note(await ctx.gettext(), c), show_alert=True)


async def _show(update: Update, ctx: AppContext, c: buys.Card | None) -> None:
    """The pressed card edited to the state as it is; a note (closed, at the limit) said."""
    if c is None:
        return
    q = pressed(update)
    _ = await ctx.gettext()
    if c.note is not None:
        await answer(q, _(c.note).format(**(c.note_params or {})), show_alert=not c.is_open)
    else:
        await answer(q)
    text, markup = _card(_, ctx, c)
    await edit_or_send(update, text, markup)


async def plus(update: Update, ctx: AppContext) -> None:
    item_id = PLUS.parse(pressed(update).data).item_id
    uid = pressed(update).from_user.id
    await _show(
        update,
        ctx,
        await attempt(update, ctx, lambda w: buys.change(ctx.rt, w.session, uid, item_id, 1)),
    )


async def minus(update: Update, ctx: AppContext) -> None:
    item_id = MINUS.parse(pressed(update).data).item_id
    uid = pressed(update).from_user.id
    await _show(
        update,
        ctx,
        await attempt(update, ctx, lambda w: buys.change(ctx.rt, w.session, uid, item_id, -1)),
    )


async def viewed(update: Update, ctx: AppContext) -> None:
    gid = VIEW.parse(pressed(update).data).groupbuy_id
    uid = pressed(update).from_user.id
    await _show(
        update,
        ctx,
        await attempt(update, ctx, lambda w: buys.view(ctx.rt, w.session, uid, gid), write=False),
    )


async def confirmed(update: Update, ctx: AppContext) -> None:
    """✅ by staff: ordered from the merchant; the summary shows it (a second press, or one
    after a colleague's, is told so and shown the state as it is)."""
    q = pressed(update)
    gid = CONFIRM.parse(q.data).groupbuy_id
    o = await attempt(update, ctx, lambda w: orders.confirm(ctx.rt, w.session, q.from_user.id, gid))
    if o is None:
        o = await attempt(
            update, ctx, lambda w: orders.summary_of(w.session, q.from_user.id, gid), write=False
        )
    else:
        await answer(q, (await ctx.gettext())(ORDERED))
    if o is None:
        return
    _ = await ctx.gettext()
    text, rows = texts.summary(_, o.head, o.totals, o.households, o.buildings, ctx.rt.timezone)
    await edit_or_send(update, text, inline(rows) if rows else None)


def _merchant_rows(_: Gettext, ctx: AppContext, o: orders.Order) -> tuple[str, Any]:
    text, rows = texts.merchant_order(
        _, o.head, o.totals, o.households, o.buildings, ctx.rt.timezone
    )
    return text, inline(rows)


async def merchant_command(update: Update, ctx: AppContext) -> None:
    """/merchant: a merchant's contact sees their orders (newest first)."""
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None
    uid = update.effective_user.id

    async def mine(w: Work) -> tuple[list[orders.Order] | None, list[str]]:
        return (
            await orders.merchant_orders(w.session, uid),
            await merchant_staff.contact_of(w.session, uid),
        )

    got = await attempt(update, ctx, mine, write=False)
    if got is None:
        return
    _ = await ctx.gettext()
    found, names = got
    if found is None:  # their id, for the staff to make them a merchant's contact
        await msg.reply_text(_(NOT_A_CONTACT).format(id=uid))
        return
    if not found:
        mine_ = _(CONTACT_OF).format(merchants=_(", ").join(names))
        await msg.reply_text(mine_ + "\n" + _(NO_ORDERS))
        return
    for o in reversed(found):
        text, markup = _merchant_rows(_, ctx, o)
        await msg.reply_text(text, reply_markup=markup)


async def xlsx(update: Update, ctx: AppContext) -> None:
    """📊: the merchant's XLSX, lines per building and per door, in their private chat."""
    q = pressed(update)
    gid = XLSX.parse(q.data).groupbuy_id
    chat = update.effective_chat
    if chat is None or chat.id != q.from_user.id:
        await alert(update, (await ctx.gettext())(orders.NOT_THE_MERCHANT))
        return
    made = await attempt(
        update, ctx, lambda w: orders.workbook(w.session, q.from_user.id, gid, w._), write=False
    )
    if made is None:
        return
    await answer(q)
    name, data = made
    await chat.send_document(InputFile(data, filename=name))


async def delivery_asked(update: Update, ctx: AppContext) -> int:
    """📦 by the merchant: a photo is asked for."""
    q = pressed(update)
    gid = DELIVERED.parse(q.data).groupbuy_id
    ok = await attempt(
        update,
        ctx,
        lambda w: _true(orders.check_deliverable(w.session, q.from_user.id, gid)),
        write=False,
    )
    if ok is None:
        # Already delivered (or not the merchant's): the pressed order shows it as it is.
        o = await attempt(
            update, ctx, lambda w: orders.merchant_view(w.session, q.from_user.id, gid), write=False
        )
        if o is not None:
            text, markup = _merchant_rows(await ctx.gettext(), ctx, o)
            await edit_or_send(update, text, markup)
        return ConversationHandler.END
    assert ctx.user_data is not None
    ctx.user_data[PHOTO_KEY] = gid
    _ = await ctx.gettext()
    await answer(q)
    assert update.effective_chat is not None
    await update.effective_chat.send_message(
        _(SEND_PHOTO), reply_markup=inline([[Button(_("✖️ Cancel"), STOP.data())]])
    )
    return WAIT_PHOTO


async def _true(step: Any) -> bool:
    await step
    return True


async def photo_received(update: Update, ctx: AppContext) -> int:
    msg = update.effective_message
    assert msg is not None and msg.photo and ctx.user_data is not None
    gid = ctx.user_data.pop(PHOTO_KEY, None)
    if gid is None:
        return ConversationHandler.END
    uid = msg.chat_id
    photo = msg.photo[-1].file_id
    o = await attempt(
        update, ctx, lambda w: orders.delivered(ctx.rt, w.session, uid, int(gid), photo)
    )
    if o is not None:
        _ = await ctx.gettext()
        await msg.reply_text(_(DELIVERED_OK).format(point=o.head.point or _(texts.POINT)))
    return ConversationHandler.END


def build_delivered_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    """Only the merchant's photo is a conversation (its state survives a restart)."""
    entry: list[Handler] = [DELIVERED.handler(delivery_asked)]
    exits = conversation_exits(
        forget=(PHOTO_KEY,), stop_button=STOP, stopped=PHOTO_STOPPED, prefix="gb"
    )
    return ConversationHandler(
        entry_points=entry,
        states={
            WAIT_PHOTO: [MessageHandler(filters.ChatType.PRIVATE & filters.PHOTO, photo_received)],
            **exits.timeout,
        },
        fallbacks=[*exits.stop, *entry, *exits.stray],
        name="groupbuy_delivered",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )


def groupbuy_handlers() -> list[Any]:
    """Before setup's CSV handler: a CSV captioned "商家 ..." is a product list."""
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("merchant", merchant_command, filters=private),
        MessageHandler(
            private
            & filters.Document.FileExtension("csv")
            & filters.CaptionRegex(re.compile(CSV_CAPTION, re.IGNORECASE)),
            products_received,
        ),
        JOIN.handler(joined),
        PLUS.handler(plus),
        MINUS.handler(minus),
        VIEW.handler(viewed),
        CONFIRM.handler(confirmed),
        XLSX.handler(xlsx),
    ]
