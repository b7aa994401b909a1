"""Staff: /stats (today, a day or a range, with 今天/昨天/近7天 buttons) and /export (the
ledger as an XLSX workbook and the orders as CSV), each for the staff member's own scope."""

from __future__ import annotations

import contextlib
import logging
from datetime import date
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.buttons import Button, Rows
from bot.errors import Refused
from bot.i18n import N_, Gettext
from bot.services import audit, reports
from bot.services.scope import Scope, grid_ids, require_staff
from handlers.callback_data import DAY
from handlers.common import STALE, alert, answer, edit_or_send, inline, translator
from handlers.context import AppContext

logger = logging.getLogger(__name__)

TODAY = N_("Today")
YESTERDAY = N_("Yesterday")
LAST_7 = N_("Last 7 days")
EXPORT = N_("📥 Export the ledger")
EXPORT_CAPTION = N_("📒 Ledger {period}: orders, order events, volunteers, notices, audit log.")
CSV_CAPTION = N_("The orders as CSV (opens in Excel).")
PREPARING = N_("⏳ Preparing the ledger {period}. The files follow in a moment.")
ALREADY_PREPARING = N_("Your ledger is being prepared, please wait a moment.")
EXPORT_FAILED = N_("Sorry, the ledger could not be prepared. Please try again.")
# bot_data key: the staff members whose export is being prepared now.
EXPORTS_RUNNING = "exports_running"


def _compact(d: date) -> str:
    return d.strftime("%Y%m%d")


def _period(day_from: date, day_to: date) -> str:
    if day_from == day_to:
        return day_from.isoformat()
    return f"{day_from.isoformat()} – {day_to.isoformat()}"


def _buttons(day_from: date, day_to: date, _: Gettext) -> Rows:
    return [
        [
            Button(_(TODAY), "rp:s:today"),
            Button(_(YESTERDAY), "rp:s:yesterday"),
            Button(_(LAST_7), "rp:s:7d"),
        ],
        [Button(_(EXPORT), f"rp:x:{_compact(day_from)}:{_compact(day_to)}")],
    ]


async def _stats_text(
    ctx: AppContext, telegram_id: int, day_from: date, day_to: date, _: Gettext
) -> str:
    """The stats of a staff member's scope; Refused (NOT_STAFF) for anyone else."""
    async with ctx.rt.db.read() as s:
        scope = await require_staff(s, telegram_id)
        st = await reports.stats_for(ctx.rt, s, await grid_ids(s, scope), day_from, day_to)
    return reports.render_stats(st, _)


async def stats_command(update: Update, ctx: AppContext) -> None:
    user, msg = update.effective_user, update.effective_message
    assert user is not None and msg is not None
    _ = await translator(update, ctx)
    try:
        day_from, day_to = reports.parse_days(list(ctx.args or []), ctx.rt.today(), "/stats")
        text = await _stats_text(ctx, user.id, day_from, day_to, _)
    except Refused as e:
        await msg.reply_text(e.render(_))
        return
    await msg.reply_text(text, reply_markup=inline(_buttons(day_from, day_to, _)))


async def stats_pressed(update: Update, ctx: AppContext) -> None:
    q = update.callback_query
    assert q is not None and q.data is not None
    _ = await translator(update, ctx)
    days = reports.preset(q.data.split(":")[2], ctx.rt.today())
    if days is None:
        await alert(update, _(STALE))
        return
    try:
        text = await _stats_text(ctx, q.from_user.id, *days, _)
    except Refused as e:
        await alert(update, e.render(_))
        return
    await answer(q)
    await edit_or_send(update, text, inline(_buttons(*days, _)))


def _running(ctx: AppContext) -> set[int]:
    """Who has an export being prepared now, in this process. A normal stop waits for a
    running export (PTB awaits its create_task tasks); a crash loses it, and the person
    presses again."""
    running: set[int] = ctx.bot_data.setdefault(EXPORTS_RUNNING, set())
    return running


async def _start_export(
    update: Update, ctx: AppContext, telegram_id: int, day_from: date, day_to: date, _: Gettext
) -> None:
    """Check the scope (Refused: NOT_STAFF, before anything is said), say "preparing" at once,
    and prepare the files in the background, so this update (and the bot) is free again at
    once. One export at a time per person: a second one while the first runs is only told to
    wait."""
    async with ctx.rt.db.read() as s:
        scope = await require_staff(s, telegram_id)
    running = _running(ctx)
    q = update.callback_query
    if telegram_id in running:
        if q is not None:
            await alert(update, _(ALREADY_PREPARING))
        else:
            await ctx.bot.send_message(telegram_id, _(ALREADY_PREPARING))
        return
    running.add(telegram_id)
    try:
        period = _period(day_from, day_to)
        if q is not None:
            await answer(q)
        await ctx.bot.send_message(telegram_id, _(PREPARING).format(period=period))
        ctx.application.create_task(
            _export(ctx, telegram_id, scope, day_from, day_to, _),
            name=f"export-{telegram_id}",
        )
    except BaseException:
        running.discard(telegram_id)
        raise


async def _export(
    ctx: AppContext,
    telegram_id: int,
    scope: Scope,
    day_from: date,
    day_to: date,
    _: Gettext,
) -> None:
    """Read the ledger (async), build the files in a worker thread, record the export in the
    audit log (committed before anything is sent), then send the workbook and the CSV to the
    staff member's private chat. On failure they are told to try again."""
    rt = ctx.rt
    try:
        async with rt.db.read() as s:
            files = await reports.export(s, scope, day_from, day_to, rt.timezone)
        async with rt.db.session() as s:
            await audit.record(
                s,
                rt.clock,
                telegram_id,
                "report.exported",
                f"{day_from}..{day_to}",
                orders=files.orders,
            )
        await ctx.bot.send_document(
            chat_id=telegram_id,
            document=files.xlsx,
            filename=reports.file_name(day_from, day_to, "xlsx"),
            caption=_(EXPORT_CAPTION).format(period=_period(day_from, day_to)),
        )
        await ctx.bot.send_document(
            chat_id=telegram_id,
            document=files.csv,
            filename=reports.file_name(day_from, day_to, "csv"),
            caption=_(CSV_CAPTION),
        )
    except Exception:
        logger.exception("an export of the ledger failed")
        with contextlib.suppress(TelegramError):
            await ctx.bot.send_message(telegram_id, _(EXPORT_FAILED))
    finally:
        _running(ctx).discard(telegram_id)


async def export_command(update: Update, ctx: AppContext) -> None:
    user, msg = update.effective_user, update.effective_message
    assert user is not None and msg is not None
    _ = await translator(update, ctx)
    try:
        day_from, day_to = reports.parse_days(list(ctx.args or []), ctx.rt.today(), "/export")
        await _start_export(update, ctx, user.id, day_from, day_to, _)
    except Refused as e:
        await msg.reply_text(e.render(_))


async def export_pressed(update: Update, ctx: AppContext) -> None:
    q = update.callback_query
    assert q is not None and q.data is not None
    _ = await translator(update, ctx)
    try:
        first, last = (date.fromisoformat(x) for x in q.data.split(":")[2:4])
        day_from, day_to = reports.check_days(first, last)
    except (ValueError, Refused):
        await alert(update, _(STALE))
        return
    try:
        await _start_export(update, ctx, q.from_user.id, day_from, day_to, _)
    except Refused as e:
        await alert(update, e.render(_))


def report_handlers() -> list[Any]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("stats", stats_command, filters=private),
        CommandHandler("export", export_command, filters=private),
        CallbackQueryHandler(stats_pressed, pattern=r"^rp:s:(today|yesterday|7d)$"),
        CallbackQueryHandler(export_pressed, pattern=rf"^rp:x:{DAY}:{DAY}$"),
    ]
