"""Staff: /stats (today, a day or a range, with 今天/昨天/近7天 buttons) and /export (the
ledger as an XLSX workbook and the orders as CSV), each for the staff member's own scope."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.buttons import Button, Rows
from bot.errors import Refused
from bot.i18n import N_, Gettext
from bot.services import audit, reports
from handlers.callback_data import DAY
from handlers.common import STALE, alert, answer, edit_or_send, inline, translator, unit_of_work
from handlers.context import AppContext

logger = logging.getLogger(__name__)

TODAY = N_("Today")
YESTERDAY = N_("Yesterday")
LAST_7 = N_("Last 7 days")
EXPORT = N_("📥 Export the ledger")
EXPORT_CAPTION = N_("📒 Ledger {period}: orders, order events, volunteers, notices, audit log.")
CSV_CAPTION = N_("The orders as CSV (opens in Excel).")


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
        scope = await reports.require_scope(s, telegram_id)
        st = await reports.stats_for(ctx.rt, s, scope.grid_ids, day_from, day_to)
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


async def _send_ledger(
    update: Update, ctx: AppContext, telegram_id: int, day_from: date, day_to: date
) -> None:
    """Build the ledger of the staff member's scope, record the export in the audit log (same
    transaction), then send the workbook and the CSV to their private chat. Refused
    (NOT_STAFF) for anyone else, before anything is sent."""
    async with unit_of_work(update, ctx) as w:
        scope = await reports.require_scope(w.session, telegram_id)
        sheets = await reports.ledger(w.session, scope, day_from, day_to, ctx.rt.timezone)
        await audit.record(
            w.session,
            ctx.rt.clock,
            telegram_id,
            "report.exported",
            f"{day_from}..{day_to}",
            orders=len(sheets[0].rows),
        )
        _ = w._
    period = _period(day_from, day_to)
    await ctx.bot.send_document(
        chat_id=telegram_id,
        document=reports.workbook_bytes(sheets),
        filename=reports.file_name(day_from, day_to, "xlsx"),
        caption=_(EXPORT_CAPTION).format(period=period),
    )
    await ctx.bot.send_document(
        chat_id=telegram_id,
        document=reports.csv_bytes(sheets[0]),
        filename=reports.file_name(day_from, day_to, "csv"),
        caption=_(CSV_CAPTION),
    )


async def export_command(update: Update, ctx: AppContext) -> None:
    user, msg = update.effective_user, update.effective_message
    assert user is not None and msg is not None
    _ = await translator(update, ctx)
    try:
        day_from, day_to = reports.parse_days(list(ctx.args or []), ctx.rt.today(), "/export")
        await _send_ledger(update, ctx, user.id, day_from, day_to)
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
        await _send_ledger(update, ctx, q.from_user.id, day_from, day_to)
    except Refused as e:
        await alert(update, e.render(_))
        return
    await answer(q)


def report_handlers() -> list[Any]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("stats", stats_command, filters=private),
        CommandHandler("export", export_command, filters=private),
        CallbackQueryHandler(stats_pressed, pattern=r"^rp:s:(today|yesterday|7d)$"),
        CallbackQueryHandler(export_pressed, pattern=rf"^rp:x:{DAY}:{DAY}$"),
    ]
