"""The composition root: builds the Application and registers every handler, in one place.

The same functions are called by `paotui run` and by the test fixtures, so the tests run the real
wiring (STYLE 1). Handlers are registered here, never in post_init (which only runs from
run_polling/run_webhook).
"""

from __future__ import annotations

import warnings
from typing import Any

from telegram import BotCommand, BotCommandScopeAllPrivateChats, Update
from telegram.ext import (
    AIORateLimiter,
    ApplicationBuilder,
    BaseRateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import sweep
from bot.chat_state import ChatStateStore
from bot.i18n import N_, gettext_for
from bot.runtime import Runtime
from handlers import (
    admin,
    alerts,
    callback_data,
    care,
    delivery,
    error_handler,
    fallbacks,
    flood_guard,
    groupbuy_doors,
    groupbuy_list,
    groupbuy_open,
    groupbuy_packing,
    groupbuys,
    help,
    keyboards,
    language,
    membership,
    menus,
    merchants,
    my_info,
    my_orders,
    notice_receipts,
    notices,
    order_conversation,
    ordering,
    payments,
    phone_orders,
    places,
    privately,
    registration,
    relay,
    repeats,
    reports,
    resident_input,
    roster,
    setup,
    staff,
    volunteer,
    waiting,
)
from handlers.context import RUNTIME_KEY, AppContext, AppType
from handlers.persistence import DbPersistence

# Our conversations track per chat and user on purpose (a press on an old message of the same
# conversation is checked by its callback data); PTB warns about that choice on every start.
warnings.filterwarnings("ignore", message=".*per_message=False.*", category=PTBUserWarning)


def build_application(
    rt: Runtime,
    *,
    token: str,
    base_url: str,
    base_file_url: str,
    rate_limiter: BaseRateLimiter[Any] | None = None,
) -> AppType:
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(base_file_url)
        .context_types(ContextTypes(context=AppContext))
        # Direct replies to a user's own press go out at once, within the overall budget they
        # share with the outbox dispatcher (BotService passes that shared limiter).
        .rate_limiter(rate_limiter or AIORateLimiter(max_retries=3))
        # We poll ourselves: each update is stored in the inbox before it is acknowledged.
        .updater(None)
        # Forms in progress live in our database, so a restart resumes them.
        .persistence(DbPersistence(ChatStateStore(rt.db, rt.clock)))
        .build()
    )
    app.bot_data[RUNTIME_KEY] = rt
    # A change of role (approved, suspended, made staff) brings the new menu at once.
    rt.menu_of = keyboards.menu_json
    register_handlers(app, rt)
    # Timers are data; one periodic sweep acts on what is due (DESIGN rule 3).
    assert app.job_queue is not None, "python-telegram-bot[job-queue] is required"
    app.job_queue.run_repeating(
        run_sweep, interval=float(rt.settings.escalation.sweep_seconds), first=1.0, name="sweep"
    )
    return app


# Passes of the JobQueue's sweep finished by this Application (a test awaits the first).
SWEEPS_DONE = "sweeps_done"
# bot_data: a callable saying whether this instance leads (handlers.runner); only the leader
# sweeps, so that several instances on one database sweep once per tick in total.
LEADS = "leads"


async def run_sweep(ctx: AppContext) -> None:
    leads = ctx.bot_data.get(LEADS)
    if leads is not None and not leads():
        return
    await sweep.run_once(ctx.rt)
    ctx.bot_data[SWEEPS_DONE] = ctx.bot_data.get(SWEEPS_DONE, 0) + 1


def register_handlers(app: AppType, rt: Runtime) -> None:
    """Order matters! Within group 0 the first matching handler wins:
    1. the conversations, so a user in the middle of one has their input read by it;
       the order form first, so /start or the menu inside it ends it cleanly;
    2. commands and buttons that work anywhere;
    3. the catch-alls: an unknown button gets an alert, unexpected input a hint."""
    timeout = float(rt.settings.limits.conversation_timeout_seconds)
    # Group -2 runs first, for every update: someone flooding the bot is stopped there.
    app.bot_data[flood_guard.FLOOD_KEY] = flood_guard.FloodGuard(
        rt.settings.limits.messages_per_minute
    )
    app.add_handler(TypeHandler(Update, flood_guard.flood_guard), group=-2)
    # Then button data with spaces or control characters, which no button of ours carries.
    app.add_handler(TypeHandler(Update, callback_data.odd_data_guard), group=-1)
    # The bot's own place in groups (a group upgraded, the bot removed) in a group of its own
    # (1): these service updates are followed whatever group 0 does with them, and they
    # shadow no other handler of my_chat_member (e.g. a user blocking the bot).
    for handler in membership.membership_handlers():
        app.add_handler(handler, group=1)

    # Group -3, before everything: a forged button pressed in a group is refused (whatever it
    # answers would be edited into the group's message). Then, first in group 0: a private
    # matter asked in a group (/mytasks, 📋 ...) is answered in the private chat, before any
    # conversation or menu handler could answer it in the group.
    app.add_handler(CallbackQueryHandler(privately.group_button_guard), group=-3)
    for handler in privately.private_answer_handlers():
        app.add_handler(handler)
    app.add_handler(order_conversation.build_order_conversation(timeout))
    app.add_handler(notices.build_notice_conversation(timeout))
    app.add_handler(registration.build_registration_conversation(timeout))
    app.add_handler(relay.build_relay_conversation(timeout))
    app.add_handler(volunteer.build_join_conversation(timeout))
    app.add_handler(delivery.build_delivery_conversation(timeout))  # 📦 asks for the proof
    app.add_handler(care.build_care_conversation(timeout))  # 👤/🏠 on the care list
    app.add_handler(payments.build_payqr_conversation(timeout))  # a volunteer's QR code
    app.add_handler(repeats.build_repeat_conversation(timeout))  # 🔁 a typed time
    app.add_handler(groupbuys.build_delivered_conversation(timeout))  # 📦 asks for a photo
    app.add_handler(groupbuy_open.build_open_conversation(timeout))  # /groupbuy by buttons
    app.add_handler(groupbuy_doors.build_problem_conversation(timeout))  # ⚠️ then a note
    app.add_handler(groupbuy_packing.build_batch_conversation(timeout))  # 📷 one photo
    app.add_handler(merchants.build_merchant_conversation(timeout))  # /merchants, ➕, 👤

    private = filters.ChatType.PRIVATE
    app.add_handler(CommandHandler("help", help.help_command))
    app.add_handler(
        MessageHandler(
            filters.Regex(keyboards.label_pattern(keyboards.MENU_HELP)), help.help_command
        )
    )
    app.add_handler(CommandHandler("language", language.language_command))
    app.add_handler(
        MessageHandler(
            filters.Regex(keyboards.label_pattern(keyboards.MENU_LANGUAGE)),
            language.language_command,
        )
    )
    app.add_handler(language.CHOSEN.handler(language.language_chosen))
    app.add_handler(CommandHandler("cancel", fallbacks.nothing_to_cancel, filters=private))
    app.add_handler(relay.relay_command())
    for handler in (
        *ordering.outside_handlers(),
        *phone_orders.outside_handlers(),
        *my_orders.my_orders_handlers(),
        *my_info.my_info_handlers(),
        *volunteer.volunteer_handlers(),
        *staff.staff_handlers(),
        *notice_receipts.notice_handlers(),
        *roster.roster_handlers(),
        *admin.admin_handlers(),
        *care.care_handlers(),
        *groupbuys.groupbuy_handlers(),  # before setup: a CSV captioned 商家 is a product list
        *groupbuy_list.groupbuy_list_handlers(),
        *groupbuy_packing.packing_handlers(),
        *groupbuy_doors.door_handlers(),
        *merchants.merchant_handlers(),
        *setup.setup_handlers(),
        *menus.menu_handlers(),
        *alerts.alert_handlers(),
        *reports.report_handlers(),
        *resident_input.resident_input_handlers(),
        *waiting.waiting_handlers(),
        *payments.payment_handlers(),
        *repeats.repeat_handlers(),
        *places.places_handlers(),
    ):
        app.add_handler(handler)

    # Last: any button data no handler above takes (forged, garbled, or from an old version of
    # the bot) gets the stale-button alert; the patterns above admit only real values.
    app.add_handler(CallbackQueryHandler(fallbacks.stale_button))
    app.add_handler(MessageHandler(filters.COMMAND, fallbacks.unknown_command))
    # Text or a photo during an order is offered to its volunteer, never dropped; without an
    # order under way it falls through to the hint below.
    app.add_handler(resident_input.input_handler())
    app.add_handler(MessageHandler(private & ~filters.COMMAND, fallbacks.unexpected_input))
    app.add_error_handler(error_handler.error_handler)


COMMANDS = (
    ("start", N_("Register or change your address")),
    ("order", N_("Order an errand")),
    ("orders", N_("My orders")),
    ("groupbuys", N_("Group-buys (团购) open for my building")),
    ("me", N_("My address, people I order for, care list")),
    ("volunteer", N_("Sign up as a volunteer")),
    ("duty", N_("Volunteers: go on or off duty")),
    ("mytasks", N_("Volunteers: the tasks I am running")),
    ("history", N_("Volunteers: my finished tasks")),
    ("shifts", N_("Volunteers: my shifts, swap one")),
    ("payqr", N_("Volunteers: my payment QR code")),
    ("notice", N_("Staff: send a notice")),
    ("notices", N_("Staff: recent notices, who confirmed")),
    ("setup", N_("Staff: import buildings from a CSV file, print posters")),
    ("roster", N_("Staff: set the duty roster")),
    ("volunteers", N_("Staff: suspend or reinstate volunteers")),
    ("staff", N_("Admins: add or remove staff")),
    ("outbox", N_("Admins: messages waiting to be sent")),
    ("care", N_("Staff: the care list (包保)")),
    ("stats", N_("Staff: what is going on today, or in some days")),
    ("export", N_("Staff: the ledger (台账) as an Excel file")),
    ("unpaid", N_("Staff: deliveries whose money is not yet received")),
    ("repeats", N_("Staff: the repeating orders of your households")),
    ("groupbuy", N_("Staff: open a group-buy (团购) of a partner merchant")),
    ("merchants", N_("Staff: partner merchants, add one or change its contact")),
    ("merchant", N_("Partner merchants: my group-buy orders")),
    ("gbcheck", N_("Staff: a group-buy's receipts, problems and payments")),
    ("places", N_("Staff: distribution points, checkpoints, buildings' status")),
    ("setstatus", N_("Staff: set a building's status (封控区 / 管控区 / 防范区)")),
    ("language", "中文 / English"),
    ("help", N_("What this bot does")),
    ("cancel", N_("Stop what you are doing")),
)


async def publish_commands(app: AppType) -> None:
    """The command menu in both languages (Telegram picks by the client's language)."""
    scope = BotCommandScopeAllPrivateChats()
    for lang, code in (("zh_CN", None), ("en", "en")):
        _ = gettext_for(lang)
        cmds = [BotCommand(name, _(desc)) for name, desc in COMMANDS]
        await app.bot.set_my_commands(cmds, scope=scope, language_code=code)
