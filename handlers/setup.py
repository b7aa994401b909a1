"""Setting up a community from the bot: staff send the same CSV file `paotui import` reads, and
get the building posters as a PDF."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import InputFile, Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.buttons import Button
from bot.i18n import N_, P_, Gettext, ngettext
from bot.services import audit, csvfile, places, setup
from handlers.answers import alert, answer, pressed
from handlers.callback_data import Callback
from handlers.context import AppContext
from handlers.csv_upload import read_csv
from handlers.keyboards import inline
from handlers.work import Work, attempt

POSTERS = Callback("su", "qr")
BAD_LINES = P_(
    "Nothing was imported: {n} bad line of {total}.",
    "Nothing was imported: {n} bad lines of {total}.",
)
POSTERS_SENT = P_(
    "{n} poster, one per building: print it and put it at the building's entrance.",
    "{n} posters, one per building: print them and put each at its entrance.",
)

MAX_BYTES = 1_000_000  # a district's buildings fit in far less
USAGE = N_(
    "Send me a CSV file (UTF-8) with one line per building and this first line:\n"
    "community,community_code,grid,compound,building,building_code,units\n"
    "Every line is checked first: if any is wrong, nothing is imported and I list the bad "
    "lines. Importing the same file again changes nothing."
)
HOTLINE_COLUMN = N_(
    "You may add a column hotline: the community's phone number, given to residents whose "
    "order nobody has taken yet."
)


async def _codes(
    update: Update, ctx: AppContext, telegram_id: int
) -> tuple[set[str] | None] | None:
    """The community codes this person may set up (inside the tuple: None for an admin, who
    may set up any); None, once told why, for anyone else."""

    async def codes(w: Work) -> tuple[set[str] | None]:
        return (await setup.allowed_codes(w.session, telegram_id),)

    return await attempt(update, ctx, codes, write=False)


async def setup_command(update: Update, ctx: AppContext) -> None:
    """/setup: how to import, and the posters button."""
    assert update.effective_user is not None and update.effective_message is not None
    if await _codes(update, ctx, update.effective_user.id) is None:
        return
    _ = await ctx.gettext()
    rows = [[Button(_("🖨 Building posters (PDF)"), POSTERS.data())]]
    await update.effective_message.reply_text(
        _(USAGE) + "\n" + _(HOTLINE_COLUMN), reply_markup=inline(rows)
    )


def _report(result: setup.ImportResult | places.ImportResult, _: Gettext) -> str:
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
        return "\n".join(lines[:40])
    if isinstance(result, places.ImportResult):
        return "\n".join(
            [
                _("Imported. Created, updated, unchanged:"),
                _("places: {c}").format(c=_counts(result.places)),
                _("buildings: {c}").format(c=_counts(result.buildings)),
            ]
        )
    return "\n".join(
        [
            _("Imported. Created, updated, unchanged:"),
            _("communities: {c}").format(c=_counts(result.communities)),
            _("grids: {c}").format(c=_counts(result.grids)),
            _("compounds: {c}").format(c=_counts(result.compounds)),
            _("buildings: {c}").format(c=_counts(result.buildings)),
        ]
    )


def _counts(c: setup.Counts) -> str:
    return f"{c.created} / {c.updated} / {c.unchanged}"


async def csv_received(update: Update, ctx: AppContext) -> None:
    """A CSV document in private chat from staff: import it, all or nothing."""
    msg = update.effective_message
    assert msg is not None and msg.document is not None and update.effective_user is not None
    allowed = await _codes(update, ctx, update.effective_user.id)
    if allowed is None:
        return
    (codes,) = allowed
    _ = await ctx.gettext()
    text = await read_csv(msg, _, MAX_BYTES, N_("This file is too large for a list of buildings."))
    if text is None:
        return
    if places.is_places_file(text):  # distribution points and checkpoints (issue 17)
        async with ctx.rt.db.session() as s:
            done = await places.import_csv(ctx.rt, s, text, codes, _=_)
            if not done.errors:
                await audit.record(
                    s,
                    ctx.rt.clock,
                    update.effective_user.id,
                    "places.imported",
                    msg.document.file_name or "",
                    rows=done.rows,
                )
        await msg.reply_text(_report(done, _))
        return
    async with ctx.rt.db.session() as s:
        # Community staff set up their own community only (codes; None for an admin).
        result = await setup.import_csv(ctx.rt, s, text, codes, _=_)
        if not result.errors:
            await audit.record(
                s,
                ctx.rt.clock,
                update.effective_user.id,
                "setup.imported",
                msg.document.file_name or "",
                rows=result.rows,
                buildings_created=result.buildings.created,
            )
    await msg.reply_text(_report(result, _))


async def posters(update: Update, ctx: AppContext) -> None:
    """su:qr: the posters of the buildings this person may set up, as one PDF."""
    q = pressed(update)
    assert update.effective_chat is not None

    async def posters_of(w: Work) -> list[setup.Poster]:
        codes = await setup.allowed_codes(w.session, q.from_user.id)
        if codes is None:
            return await setup.posters(w.session)
        return [p for code in sorted(codes) for p in await setup.posters(w.session, code)]

    items = await attempt(update, ctx, posters_of, write=False)
    if items is None:
        return
    _ = await ctx.gettext()
    if not items:
        await alert(update, _("There are no buildings yet. Send the CSV file first."))
        return
    await answer(q, _("Making the posters…"))
    # Drawing a few hundred pages (and reading the font) takes CPU seconds: off the event loop.
    pdf = await asyncio.to_thread(
        setup.posters_pdf, setup.for_bots(items, ctx.rt.settings), ctx.bot.username
    )
    await update.effective_chat.send_document(
        InputFile(pdf, filename="posters.pdf"),
        caption=ngettext(_, POSTERS_SENT, len(items)).format(n=len(items)),
    )


def setup_handlers() -> list[Any]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("setup", setup_command, filters=private),
        MessageHandler(private & filters.Document.FileExtension("csv"), csv_received),
        POSTERS.handler(posters),
    ]
