"""Staff: /stats (today, a day or a range, with 今天/昨天/近7天 buttons) and /export (the
ledger as an XLSX workbook and the orders as CSV), each for the staff member's own scope, in
their language; the files go only to their private chat."""

from __future__ import annotations

import contextlib
import logging
from datetime import date, timedelta
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import CommandHandler, filters

from bot.buttons import Button, Rows
from bot.errors import STALE, Refused
from bot.i18n import N_, Gettext, gettext_for
from bot.runtime import Runtime
from bot.services import audit, reports
from bot.services.scope import Scope, grid_ids, require_staff
from handlers.answers import alert, answer, edit_or_send, pressed
from handlers.callback_data import DAY, Callback, one_of
from handlers.context import AppContext
from handlers.keyboards import inline
from handlers.work import Work, attempt

logger = logging.getLogger(__name__)

TODAY = N_("Today")
YESTERDAY = N_("Yesterday")
LAST_7 = N_("Last 7 days")
EXPORT = N_("📥 Export the ledger")
EXPORT_CAPTION = N_(
    "📒 Ledger {period}: orders, order events, volunteers, notices, care list, audit log."
)
CSV_CAPTION = N_("The orders as CSV (opens in Excel).")
PREPARING = N_("⏳ Preparing the ledger {period}. The files follow in a moment.")
ALREADY_PREPARING = N_("Your ledger is being prepared, please wait a moment.")
EXPORT_FAILED = N_("Sorry, the ledger could not be prepared. Please try again.")
TOO_BIG = N_(
    "The ledger {period} is {mb} MB, more than Telegram lets a bot send ({limit} MB). Please "
    "export fewer days, e.g. /export {first} {last}."
)
IN_PARTS = N_(
    "The ledger {period} is large: it comes in {n} parts, each a range of days with its own "
    "workbook and CSV."
)
# Telegram's limit on a document a bot sends (a month of a district's ledger is over it).
DOCUMENT_LIMIT = 50 * 1000 * 1000
# bot_data key: the staff members whose export is being prepared now.
EXPORTS_RUNNING = "exports_running"


PRESET = Callback("rp", "s", preset=one_of(("today", "yesterday", "7d")))
EXPORT_BUTTON = Callback("rp", "x", first=DAY, last=DAY)


def _period(day_from: date, day_to: date) -> str:
    if day_from == day_to:
        return day_from.isoformat()
    return f"{day_from.isoformat()} – {day_to.isoformat()}"


WHICH_PERIOD = N_("📤 The ledger of which days?")
THIS_MONTH = N_("This month")
LAST_MONTH = N_("Last month")


def export_choices(today: date, _: Gettext) -> Rows:
    """The periods a secretary hands in: a day, a week, a month."""
    yesterday = today - timedelta(days=1)
    first = today.replace(day=1)
    last_month_end = first - timedelta(days=1)

    def button(label: str, day_from: date, day_to: date) -> Button:
        return Button(_(label), EXPORT_BUTTON.data(first=day_from, last=day_to))

    return [
        [button(TODAY, today, today), button(YESTERDAY, yesterday, yesterday)],
        [button(LAST_7, today - timedelta(days=6), today), button(THIS_MONTH, first, today)],
        [button(LAST_MONTH, last_month_end.replace(day=1), last_month_end)],
    ]


async def export_menu(update: Update, ctx: AppContext) -> None:
    """📤 from the staff menu: which days (typed, /export takes them: /export 2026-11-01
    2026-11-30)."""
    user, msg = update.effective_user, update.effective_message
    assert user is not None and msg is not None
    if await attempt(update, ctx, lambda w: require_staff(w.session, user.id), write=False) is None:
        return
    _ = await ctx.gettext()
    await msg.reply_text(_(WHICH_PERIOD), reply_markup=inline(export_choices(ctx.rt.today(), _)))


def _buttons(day_from: date, day_to: date, _: Gettext) -> Rows:
    return [
        [
            Button(_(TODAY), PRESET.data(preset="today")),
            Button(_(YESTERDAY), PRESET.data(preset="yesterday")),
            Button(_(LAST_7), PRESET.data(preset="7d")),
        ],
        [Button(_(EXPORT), EXPORT_BUTTON.data(first=day_from, last=day_to))],
    ]


async def _stats_text(w: Work, telegram_id: int, day_from: date, day_to: date, rt: Runtime) -> str:
    """The stats of a staff member's scope; Refused (NOT_STAFF) for anyone else."""
    scope = await require_staff(w.session, telegram_id)
    grids = await grid_ids(w.session, scope)
    st = await reports.stats_for(rt, w.session, grids, day_from, day_to, w._)
    return reports.render_stats(st, w._)


async def stats_command(update: Update, ctx: AppContext) -> None:
    user, msg = update.effective_user, update.effective_message
    assert user is not None and msg is not None
    args = list(ctx.args or [])

    async def stats(w: Work) -> tuple[str, date, date]:
        day_from, day_to = reports.parse_days(args, ctx.rt.today(), "/stats")
        return await _stats_text(w, user.id, day_from, day_to, ctx.rt), day_from, day_to

    shown = await attempt(update, ctx, stats, write=False)
    if shown is None:
        return
    text, day_from, day_to = shown
    _ = await ctx.gettext()
    await msg.reply_text(text, reply_markup=inline(_buttons(day_from, day_to, _)))


async def stats_pressed(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    _ = await ctx.gettext()
    days = reports.preset(PRESET.parse(q.data).preset, ctx.rt.today())
    if days is None:
        await alert(update, _(STALE))
        return
    text = await attempt(
        update, ctx, lambda w: _stats_text(w, q.from_user.id, *days, ctx.rt), write=False
    )
    if text is None:
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
        language = await ctx.language()
        if q is not None:
            await answer(q)
        await ctx.bot.send_message(telegram_id, _(PREPARING).format(period=period))
        ctx.application.create_task(
            _export(ctx, telegram_id, scope, day_from, day_to, language),
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
    language: str,
) -> None:
    """Build the ledger's files in child processes, in parts of whole days small enough for
    Telegram (one part if it fits: `reports.part_ranges`), and send each part's workbook and CSV
    to the staff member's private chat as soon as it is ready, in order of the days, each named
    for its days, in the staff member's language. Each part is recorded in the audit log
    (committed before it is sent). On failure they are told to try again."""
    rt = ctx.rt
    _ = gettext_for(language)
    try:
        async with rt.db.read() as s:
            ranges = await reports.part_ranges(s, scope, day_from, day_to, rt.timezone)
            url = reports.database_url(s)
        if len(ranges) > 1:
            await ctx.bot.send_message(
                telegram_id,
                _(IN_PARTS).format(period=_period(day_from, day_to), n=len(ranges)),
            )
        parts = reports.export_parts(url, scope, ranges, rt.timezone, language)
        async with contextlib.aclosing(parts):
            async for part in parts:
                if not await _send_part(ctx, telegram_id, part, _):
                    return
    except Exception:
        logger.exception("an export of the ledger failed")
        with contextlib.suppress(TelegramError):
            await ctx.bot.send_message(telegram_id, _(EXPORT_FAILED))
    finally:
        _running(ctx).discard(telegram_id)


async def _send_part(ctx: AppContext, telegram_id: int, part: reports.Part, _: Gettext) -> bool:
    """Record one part of an export in the audit log and send its two files; False (and the
    staff member told its size) if they are too big for Telegram."""
    rt, files = ctx.rt, part.files
    biggest = max(len(files.xlsx), len(files.csv))
    if biggest > DOCUMENT_LIMIT:
        await ctx.bot.send_message(telegram_id, _too_big(part.day_from, part.day_to, biggest, _))
        return False
    async with rt.db.session() as s:
        await audit.record(
            s,
            rt.clock,
            telegram_id,
            "report.exported",
            f"{part.day_from}..{part.day_to}",
            orders=files.orders,
        )
    await ctx.bot.send_document(
        chat_id=telegram_id,
        document=files.xlsx,
        filename=reports.file_name(part.day_from, part.day_to, "xlsx", _),
        caption=_(EXPORT_CAPTION).format(period=_period(part.day_from, part.day_to)),
    )
    await ctx.bot.send_document(
        chat_id=telegram_id,
        document=files.csv,
        filename=reports.file_name(part.day_from, part.day_to, "csv", _),
        caption=_(CSV_CAPTION),
    )
    return True


def _too_big(day_from: date, day_to: date, size: int, _: Gettext) -> str:
    """Files over Telegram's limit: their size, and a range of days that might fit (as many
    days from the first as the limit's share of the size)."""
    days = (day_to - day_from).days + 1
    fit = max(1, days * DOCUMENT_LIMIT // size - 1)
    return _(TOO_BIG).format(
        period=_period(day_from, day_to),
        mb=-(-size // 1_000_000),
        limit=DOCUMENT_LIMIT // 1_000_000,
        first=day_from.isoformat(),
        last=min(day_to, day_from + timedelta(days=fit - 1)).isoformat(),
    )


async def export_command(update: Update, ctx: AppContext) -> None:
    user, msg = update.effective_user, update.effective_message
    assert user is not None and msg is not None
    _ = await ctx.gettext()
    try:
        day_from, day_to = reports.parse_days(list(ctx.args or []), ctx.rt.today(), "/export")
        await _start_export(update, ctx, user.id, day_from, day_to, _)
    except Refused as e:
        await msg.reply_text(e.render(_))


async def export_pressed(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    _ = await ctx.gettext()
    try:
        values = EXPORT_BUTTON.parse(q.data)  # eight digits that are no day: refused here
        day_from, day_to = reports.check_days(values.first, values.last)
    except Refused:
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
        PRESET.handler(stats_pressed),
        EXPORT_BUTTON.handler(export_pressed),
    ]
