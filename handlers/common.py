"""Pieces every audience uses: the unit of work with the reader's language, keyboards,
the main menu, help, language, and the answers to input nobody expected."""

from __future__ import annotations

import html
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
    User,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden
from telegram.ext import ApplicationHandlerStop, ContextTypes, filters

from bot import limits
from bot.buttons import Button, Rows
from bot.errors import STALE  # the one stale-button sentence; handlers import it from here too
from bot.i18n import LANGUAGES, N_, Gettext, gettext_for
from bot.services import people, privacy
from handlers.context import AppContext

logger = logging.getLogger(__name__)

# Reply-keyboard labels of the resident's main menu; matched in both languages.
MENU_ORDER = N_("📝 Order")
MENU_MY_ORDERS = N_("📋 My orders")
MENU_ME = N_("👤 My info")
MENU_HELP = N_("❓ Help")
MENU_LANGUAGE = N_("🌐 Language")
MENU_LABELS = (MENU_ORDER, MENU_MY_ORDERS, MENU_ME, MENU_HELP, MENU_LANGUAGE)


def label_pattern(msgid: str) -> str:
    """An anchored regex matching a menu label in every language."""
    import re

    texts = {gettext_for(lang)(msgid) for lang in LANGUAGES}
    return "^(" + "|".join(re.escape(t) for t in sorted(texts)) + ")$"


# A menu label in any language: the reply keyboard keeps working while a conversation waits.
MENU_ANY = filters.Regex("|".join(label_pattern(label) for label in MENU_LABELS))
# New messages in private chat (an edit of an old message is not a new answer).
PRIVATE_MESSAGE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
PRIVATE_TEXT = PRIVATE_MESSAGE & filters.TEXT & ~filters.COMMAND & ~MENU_ANY
PRIVATE_OTHER = PRIVATE_MESSAGE & ~filters.COMMAND & ~MENU_ANY


def inline(rows: Rows | None) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in rows]
    )


def buttons(*rows: list[Button]) -> InlineKeyboardMarkup | None:
    return inline(list(rows))


def main_menu(_: Gettext) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [
            [KeyboardButton(_(MENU_ORDER)), KeyboardButton(_(MENU_MY_ORDERS))],
            [
                KeyboardButton(_(MENU_ME)),
                KeyboardButton(_(MENU_HELP)),
                KeyboardButton(_(MENU_LANGUAGE)),
            ],
        ],
        resize_keyboard=True,
        is_persistent=True,
    )


async def language(ctx: AppContext, session: AsyncSession, user: User | None) -> str:
    if user is None:
        return ctx.rt.default_language
    return await people.language_of(
        session, user.id, ctx.rt.default_language, client_hint=user.language_code
    )


@dataclass
class Work:
    session: AsyncSession
    _: Gettext
    lang: str


@asynccontextmanager
async def unit_of_work(update: Update, ctx: AppContext) -> AsyncIterator[Work]:
    """One unit of work per update (DESIGN rule 1), with the reader's gettext."""
    async with ctx.rt.db.session() as session:
        lang = await language(ctx, session, update.effective_user)
        yield Work(session, gettext_for(lang), lang)
    ctx.rt.wake_outbox()


async def translator(update: Update, ctx: AppContext) -> Gettext:
    async with ctx.rt.db.read() as session:
        return gettext_for(await language(ctx, session, update.effective_user))


async def who(update: Update, ctx: AppContext) -> tuple[Gettext, people.Roles | None]:
    """The reader's gettext and what they are to us."""
    user = update.effective_user
    async with ctx.rt.db.read() as s:
        _ = gettext_for(await language(ctx, s, user))
        roles = await people.roles_of(s, user.id) if user else None
    return _, roles


def is_private(update: Update) -> bool:
    return bool(update.effective_chat and update.effective_chat.type == ChatType.PRIVATE)


async def answer(q: CallbackQuery, text: str | None = None, show_alert: bool = False) -> None:
    """Answer a button press. A replayed update's query may be too old to answer: the work is
    done anyway, so that is logged, not raised."""
    try:
        await q.answer(text[:200] if text else None, show_alert=show_alert)
    except BadRequest as exc:
        logger.info("could not answer callback query: %s", exc)


async def alert(update: Update, text: str) -> None:
    """Answer a button press with a pop-up the user must dismiss."""
    if update.callback_query:
        await answer(update.callback_query, text, show_alert=True)


async def edit_or_send(update: Update, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Replace the message whose button was pressed; if it cannot be edited, send anew."""
    q = update.callback_query
    if q and q.message:
        try:
            await q.edit_message_text(text, reply_markup=markup)
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
            logger.info("edit failed (%s); sending a new message", exc)
    if update.effective_chat:
        await update.effective_chat.send_message(text, reply_markup=markup)


async def set_buttons(q: CallbackQuery, markup: InlineKeyboardMarkup | None) -> None:
    """Replace the buttons of the message whose button was pressed (None: remove them). The
    message may already have other buttons or none (a photo, a replayed press): logged, not
    raised."""
    try:
        await q.edit_message_reply_markup(markup)
    except BadRequest as exc:
        logger.info("buttons not changed: %s", exc)


def chunks(lines: list[str], limit: int) -> list[str]:
    """Lines joined into messages of at most ``limit`` characters, as Telegram counts them
    (UTF-16); a longer line is split, not cut (bot.limits)."""
    return limits.chunks(lines, limit)


HELP_RESIDENT = N_(
    "I am the community errand bot (跑腿). Volunteers of your grid run errands for you:\n"
    "• 📝 Order: groceries, medicine, a gas top-up or another errand\n"
    "• 📋 My orders: follow, cancel or confirm your orders, talk to the volunteer, report a "
    "problem, order again\n"
    "• 👤 My info: your address, people you order for, the care list\n"
    "• 🌐 Language: 中文 / English\n\n"
    "Deliveries are contactless: the volunteer knocks and leaves it at your door.\n"
    "Commands: /start /order /orders /me /language /cancel /help"
)
HELP_VOLUNTEER = N_(
    "Volunteers: new tasks appear in your grid's group. Press 🙋 to take one; the address "
    "comes to you here, privately. Move it along with the buttons: 🛒 Bought, 🚶 On the way, "
    "📦 Delivered (I then ask for a photo at the door and what you spent, with the receipt). "
    "/mytasks lists the tasks you are running."
)
HELP_VOLUNTEER_MORE = N_(
    "In the group, /tasks lists the open tasks. /history lists the tasks you finished. "
    "🚫 on a card closes a task that cannot be done, with the reason."
)
HELP_STAFF = N_(
    "Staff: /notice sends a notice (community, grid, building, care list, volunteers) now or "
    "at a set time; /notices shows who confirmed."
)
HELP_VOLUNTEER_SHIFTS = N_(
    "/shifts lists your shifts on the duty roster; 🔁 asks a colleague of your grid to take "
    "one. I remind you before each shift."
)
HELP_VOLUNTEER_DUTY = N_(
    "/duty: 🟢 go on duty (new tasks of your grid then also come to you here) or ⚪ off duty. "
    "A task nobody takes is sent again, and later to the whole community."
)
HELP_STAFF_ROSTER = N_(
    "/roster sets the duty roster of a grid: choose a day and a shift, then the volunteers."
)
HELP_STAFF_REPORTS = N_(
    "/stats shows today's orders, times to claim and deliver, and what waits unclaimed "
    "(/stats 2026-11-01 2026-11-23 for some days); /export sends the ledger (台账) as Excel."
)
HELP_STAFF_VOLUNTEERS = N_(
    "/volunteers lists a grid's volunteers: ✖️ suspends one (off duty, their tasks back to the "
    "group, no more tasks or addresses), ↩️ lets them work again."
)
HELP_STAFF_CARE = N_(
    "/care keeps the care list (包保): vulnerable households, who is responsible for each, "
    "home isolation. They are asked each morning whether all is well."
)


async def help_command(update: Update, ctx: AppContext) -> None:
    _, roles = await who(update, ctx)
    parts = [_(HELP_RESIDENT)]
    if roles and roles.volunteer_id:
        parts.append(
            "\n".join(
                _(m)
                for m in (
                    HELP_VOLUNTEER,
                    HELP_VOLUNTEER_DUTY,
                    HELP_VOLUNTEER_MORE,
                    HELP_VOLUNTEER_SHIFTS,
                )
            )
        )
    if roles and roles.is_staff:
        staff_help = (
            HELP_STAFF,
            HELP_STAFF_ROSTER,
            HELP_STAFF_VOLUNTEERS,
            HELP_STAFF_CARE,
            HELP_STAFF_REPORTS,
        )
        parts.append("\n".join(_(m) for m in staff_help))
    markup = main_menu(_) if roles and roles.resident_id and is_private(update) else None
    if update.effective_message:
        await update.effective_message.reply_text("\n\n".join(parts), reply_markup=markup)


LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}


async def language_command(update: Update, ctx: AppContext) -> None:
    _ = await translator(update, ctx)
    rows = [[Button(name, f"l:{code}") for code, name in LANGUAGE_NAMES.items()]]
    if update.effective_message:
        await update.effective_message.reply_text(
            _("Choose your language:"), reply_markup=inline(rows)
        )


async def language_chosen(update: Update, ctx: AppContext) -> None:
    q = update.callback_query
    assert q is not None and q.data is not None and update.effective_user
    code = q.data.removeprefix("l:")
    if code not in LANGUAGES:
        await alert(update, gettext_for(ctx.rt.default_language)(STALE))
        return
    async with ctx.rt.db.session() as s:
        await people.set_language(s, ctx.rt.clock, update.effective_user.id, code)
        roles = await people.roles_of(s, update.effective_user.id)
    _ = gettext_for(code)
    await answer(q)
    await edit_or_send(update, _("Language set: {name}").format(name=LANGUAGE_NAMES[code]), None)
    if roles.resident_id and update.effective_chat:
        await update.effective_chat.send_message(_("Main menu"), reply_markup=main_menu(_))


async def stale_button(update: Update, ctx: AppContext) -> None:
    """Garbage, forged or expired callback data: a clear alert, nothing changed."""
    _ = await translator(update, ctx)
    await alert(update, _(STALE))


async def unknown_command(update: Update, ctx: AppContext) -> None:
    if not is_private(update):
        return
    _ = await translator(update, ctx)
    if update.effective_message:
        await update.effective_message.reply_text(
            _("I do not know that command. Send /help to see what I can do.")
        )


async def nothing_to_cancel(update: Update, ctx: AppContext) -> None:
    _ = await translator(update, ctx)
    if update.effective_message:
        await update.effective_message.reply_text(_("There is nothing to cancel right now."))


async def unexpected_input(update: Update, ctx: AppContext) -> None:
    """Text or media nobody asked for, in a private chat: say what to do next."""
    if not is_private(update) or update.effective_message is None:
        return
    _, roles = await who(update, ctx)
    if roles and roles.resident_id:
        await update.effective_message.reply_text(
            _("I did not understand that. Please use the buttons below, or send /help."),
            reply_markup=main_menu(_),
        )
    else:
        await update.effective_message.reply_text(
            _("Welcome! Send /start to register your address, then you can order errands.")
        )


async def error_handler(update: object, ctx: ContextTypes.DEFAULT_TYPE) -> None:
    """Log first, then tell an operator chat (PTB errorhandlerbot), then the user."""
    logger.error("error while handling an update", exc_info=ctx.error)
    rt = ctx.application.bot_data.get("runtime")
    if rt is not None and rt.settings.bot.operator_chat_id:
        # No phone number or SQL parameter in it (issue 11 point 9): see privacy.error_report.
        tb = privacy.error_report(ctx.error) if ctx.error else ""
        try:
            await ctx.bot.send_message(
                rt.settings.bot.operator_chat_id, f"<pre>{html.escape(tb)}</pre>", parse_mode="HTML"
            )
        except (BadRequest, Forbidden):
            logger.warning("could not report the error to the operator chat")
    if isinstance(update, Update) and update.effective_user and rt is not None:
        _ = gettext_for(rt.default_language)
        text = _("Sorry, something went wrong on our side. Nothing was lost; please try again.")
        try:
            if update.callback_query:
                await answer(update.callback_query, text, show_alert=True)
            elif update.effective_chat and update.effective_chat.type == ChatType.PRIVATE:
                await update.effective_chat.send_message(text)
        except (BadRequest, Forbidden):
            pass


class FloodGuard:
    """At most N updates a minute from one person in private chat; past that, one friendly
    answer and the rest are ignored until the minute has passed (a stuck key, a child, a
    script). Group chats are not limited: a claim must never be refused for speed.

    Memory is bounded by the people seen in the last two minutes: once a window has passed,
    everyone whose window is empty is forgotten (a long-running bot meets many thousands)."""

    WINDOW = 60.0

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}
        self._pruned_at = float("-inf")

    def allow(self, user_id: int, now: float) -> tuple[bool, bool]:
        """(allowed, warn now)."""
        if now - self._pruned_at >= self.WINDOW:
            self._prune(now)
        q = self._seen.setdefault(user_id, deque())
        while q and q[0] <= now - self.WINDOW:
            q.popleft()
        if len(q) < self.per_minute:
            q.append(now)
            return True, False
        warn = self._warned.get(user_id, float("-inf")) <= now - self.WINDOW
        if warn:
            self._warned[user_id] = now
        return False, warn

    def _prune(self, now: float) -> None:
        """Forget everyone with nothing in their window (at most once a window: amortised O(1)
        per update)."""
        cutoff = now - self.WINDOW
        self._seen = {u: q for u, q in self._seen.items() if q and q[-1] > cutoff}
        self._warned = {u: t for u, t in self._warned.items() if t > cutoff}
        self._pruned_at = now

    def tracked(self) -> int:
        """How many people the guard remembers (for tests and the curious)."""
        return len(self._seen.keys() | self._warned.keys())


FLOOD_KEY = "flood_guard"


async def flood_guard(update: Update, ctx: AppContext) -> None:
    if not is_private(update) or update.effective_user is None:
        return
    guard: FloodGuard = ctx.application.bot_data[FLOOD_KEY]
    allowed, warn = guard.allow(update.effective_user.id, time.monotonic())
    if allowed:
        return
    if warn:
        _ = await translator(update, ctx)
        text = _("You are sending messages very fast. Please wait a minute, then try again.")
        if update.callback_query:
            await alert(update, text)
        elif update.effective_chat:
            await update.effective_chat.send_message(text)
    elif update.callback_query:
        await answer(update.callback_query)
    raise ApplicationHandlerStop
