"""/merchants: community staff manage their partner merchants (爱心商家) in the bot. The list
(kind, products, communities, contact) with 📦 products, 👤 a new contact and ✖️ off a community
(asked first) per merchant; ➕ adds one by buttons (community when there is a choice, name,
kind, the contact's Telegram id, ✅), or typed: /merchants add 爱心超市 超市 6001 [community].
The flow's answers live in user_data (saved: a restart resumes it); every step is checked again
by the service (bot/services/groupbuys/merchant_staff.py). Private chat only: a contact's id
never goes to a group."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import CommandHandler, ConversationHandler, MessageHandler, filters

from bot.buttons import Button, Rows
from bot.errors import STALE, Refused
from bot.i18n import N_, P_, Gettext, ngettext
from bot.services.amounts import yuan
from bot.services.groupbuys import merchant_staff, merchants
from bot.services.groupbuys.merchant_staff import Row
from handlers.answers import alert, answer, edit_or_send, pressed
from handlers.callback_data import ID, Callback, one_of
from handlers.context import AppContext
from handlers.conversation_exits import Handler, conversation_exits
from handlers.keyboards import PRIVATE_TEXT, inline
from handlers.work import Work, attempt, reading

# The list's buttons (outside the flow).
LIST = Callback("mc", "list")
PRODUCTS = Callback("mc", "p", merchant_id=ID)
REMOVE = Callback("mc", "rm", merchant_id=ID, community_id=ID)
REMOVE_YES = Callback("mc", "rmy", merchant_id=ID, community_id=ID)
# The flow's buttons: adding one, or a new contact.
ADD = Callback("mcn", "add")
CONTACT = Callback("mcn", "ct", merchant_id=ID)
COMMUNITY = Callback("mcn", "cm", community_id=ID)
KIND = Callback("mcn", "k", kind=one_of(str(i) for i in range(len(merchants.KINDS))))
OK = Callback("mcn", "ok")
STOP = Callback("mcn", "x")

ASK = 95
MAX_WITH_BUTTONS = 30  # merchants with buttons on the list (2-3 each, of Telegram's 100)
KEY = "merchant_new"  # {"step": c|n|k|t|ok, "c": community, "n", "k", "t": contact, "m": id}

# The kinds' labels, in the order of merchants.KINDS (the word kept is the Chinese one).
KIND_LABELS = (N_("Supermarket"), N_("Pharmacy"), N_("Greengrocer"), N_("Other"))
TITLE = N_("🏪 Partner merchants ({n}):")
PRODUCT_COUNT = P_("{n} product", "{n} products")
CONTACT_IS = N_("contact: {who}")
NONE_YET = N_(
    "No partner merchant serves your communities yet. Press ➕ Add a merchant, or type it."
)
USAGE = N_(
    "To add one by typing: /merchants add NAME KIND TELEGRAM-ID [COMMUNITY]\n"
    "for example /merchants add 爱心超市 超市 123456789\n"
    "The contact person gets their Telegram id by sending /merchant to me."
)
ADD_LABEL = N_("➕ Add a merchant")
PRODUCTS_LABEL = N_("📦 {merchant}: products")
CONTACT_LABEL = N_("👤 {merchant}: new contact")
REMOVE_LABEL = N_("✖️ {merchant}: off {community}")
BACK_LABEL = N_("↩️ Back to the list")
NO_PRODUCTS = N_("{merchant} has no products yet.")
PRODUCTS_TITLE = N_("{merchant}'s products:")
HOW_TO_IMPORT = N_(
    "To import or update the list, send me a CSV file (name,unit,price) with the caption "
    "商家 {merchant}."
)
SURE_REMOVE = N_(
    "Take {merchant} off {community}? Its past group-buys stay in the ledger; it can be added "
    "again."
)
YES_REMOVE = N_("✖️ Yes, take it off")
KEEP = N_("↩️ Keep")
REMOVED = N_("Taken off {community}: {merchant}.")
ASK_COMMUNITY = N_("Add a partner merchant. For which community?")
ASK_NAME = N_("Add a partner merchant to {community}. Type its name (for example 爱心超市).")
ASK_KIND = N_("What kind of merchant is {merchant}? Press one, or type it.")
ASK_CONTACT = N_(
    "Type the Telegram id of {merchant}'s contact person. They get it by sending /merchant "
    "to me; group-buy orders then come to them there."
)
SURE_ADD = N_("Add this merchant?\n{merchant} · {community}\nContact: {who}")
ADD_OK = N_("✅ Add")
ADDED = N_("✅ Added: {merchant} for {community}; contact {who}.")
UPDATED = N_("✅ Updated: {merchant} for {community}; contact {who}.")
TOLD = N_(
    "The contact is told in private if they have talked to me (else /merchant tells them). "
    "Send the product list as a CSV file (name,unit,price) with the caption 商家 {merchant}."
)
CONTACT_SET = N_("✅ {merchant}'s contact is now {who}; they are told in private.")
USE_BUTTONS = N_("Please use the buttons above, or send /cancel to stop.")
STOPPED = N_("Stopped. No merchant was changed.")


def _stop(_: Gettext) -> list[Button]:
    return [Button(_("✖️ Cancel"), STOP.data())]


def _who(r: Row) -> str:
    return f"{r.contact_name} ({r.contact_id})" if r.contact_name else str(r.contact_id)


def _listing(_: Gettext, rows: list[Row]) -> tuple[str, Rows]:
    if not rows:
        return _(NONE_YET) + "\n\n" + _(USAGE), [[Button(_(ADD_LABEL), ADD.data())]]
    lines = [_(TITLE).format(n=len(rows))]
    buttons: Rows = []
    for n, r in enumerate(rows):
        parts = [
            _("{name} ({kind})").format(name=r.name, kind=r.kind),
            ngettext(_, PRODUCT_COUNT, r.products).format(n=r.products),
            _(", ").join(name for _id, name in r.communities) or "—",
            _(CONTACT_IS).format(who=_who(r)),
        ]
        lines.append("• " + " · ".join(parts))
        if n >= MAX_WITH_BUTTONS:  # Telegram takes at most 100 buttons on one message
            continue
        buttons.append(
            [
                Button(_(PRODUCTS_LABEL).format(merchant=r.name), PRODUCTS.data(merchant_id=r.id)),
                Button(_(CONTACT_LABEL).format(merchant=r.name), CONTACT.data(merchant_id=r.id)),
            ]
        )
        buttons += [
            [
                Button(
                    _(REMOVE_LABEL).format(merchant=r.name, community=name),
                    REMOVE.data(merchant_id=r.id, community_id=cid),
                )
            ]
            for cid, name in r.removable
        ]
    buttons.append([Button(_(ADD_LABEL), ADD.data())])
    lines += ["", _(USAGE)]
    return "\n".join(lines), buttons


async def _list_now(update: Update, ctx: AppContext, note: str | None = None) -> None:
    """The pressed message becomes the list as it is now (for a manager)."""
    uid = pressed(update).from_user.id
    found = await attempt(
        update, ctx, lambda w: merchant_staff.listing(w.session, uid), write=False
    )
    if found is None:
        return
    _ = await ctx.gettext()
    text, rows = _listing(_, found)
    await answer(pressed(update))
    await edit_or_send(update, (note + "\n\n" if note else "") + text, inline(rows))


async def merchants_command(update: Update, ctx: AppContext) -> int:
    """/merchants: the list; /merchants add ...: the typed form."""
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None
    uid = update.effective_user.id
    words = list(ctx.args or [])
    if words and words[0].lower() in ("add", "添加"):
        return await _typed_add(update, ctx, words[1:])
    found = await attempt(
        update, ctx, lambda w: merchant_staff.listing(w.session, uid), write=False
    )
    if found is None:
        return ConversationHandler.END
    _ = await ctx.gettext()
    if words:  # not a word /merchants knows: say how
        await msg.reply_text(_(USAGE))
        return ConversationHandler.END
    text, rows = _listing(_, found)
    await msg.reply_text(text, reply_markup=inline(rows))
    return ConversationHandler.END


async def _typed_add(update: Update, ctx: AppContext, words: list[str]) -> int:
    """NAME KIND ID [COMMUNITY]: added at once; without a community where there is a choice,
    the community's buttons come, then ✅."""
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None and ctx.user_data is not None
    uid = update.effective_user.id

    async def check(w: Work) -> dict[str, Any]:
        scope = await merchant_staff.require_manager(w.session, uid)
        if len(words) not in (3, 4):
            raise Refused(USAGE)
        name = merchants.check_name(words[0])
        kind = merchant_staff.check_kind(words[1])
        contact = merchant_staff.parse_contact(words[2])
        if len(words) == 4:
            cid: int | None = await merchant_staff.community_ref(w.session, scope, words[3])
        else:
            cid = await merchant_staff.own_community(w.session, scope)
        return {"c": cid, "n": name, "k": kind, "t": contact}

    state = await attempt(update, ctx, check, write=False)
    if state is None:
        return ConversationHandler.END
    if state["c"] is None:  # an admin, or staff of several communities: which one?
        ctx.user_data[KEY] = {**state, "step": "c"}
        return await _ask(update, ctx)
    return await _add(update, ctx, state)


async def _add(update: Update, ctx: AppContext, state: dict[str, Any]) -> int:
    uid = update.effective_user.id if update.effective_user else 0
    added = await attempt(
        update,
        ctx,
        lambda w: merchant_staff.add(
            ctx.rt,
            w.session,
            uid,
            name=str(state["n"]),
            kind=str(state["k"]),
            contact=int(state["t"]),
            community_id=int(state["c"]),
        ),
    )
    if added is None:
        return ASK if ctx.user_data and KEY in ctx.user_data else ConversationHandler.END
    assert ctx.user_data is not None
    ctx.user_data.pop(KEY, None)
    _ = await ctx.gettext()
    text = _(ADDED if added.created else UPDATED).format(
        merchant=_("{name} ({kind})").format(name=added.info.name, kind=added.info.kind),
        community=added.community,
        who=added.info.contact_telegram_id,
    )
    text += "\n" + _(TOLD).format(merchant=added.info.name)
    if update.callback_query is not None:
        await answer(update.callback_query)
        await edit_or_send(update, text, None)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    return ConversationHandler.END


def _state(ctx: AppContext) -> dict[str, Any]:
    assert ctx.user_data is not None
    state = ctx.user_data.get(KEY)
    return state if isinstance(state, dict) else {}


async def _ask(update: Update, ctx: AppContext, note: str | None = None) -> int:
    """The question of the flow's step now (a press edits its message; typed text is answered
    anew); ``note`` (what was wrong with the last answer) comes first."""
    state = _state(ctx)
    _ = await ctx.gettext()
    step = state.get("step")
    rows: Rows = []
    if step == "c":
        uid = update.effective_user.id if update.effective_user else 0

        async def choices(w: Work) -> list[tuple[int, str]]:
            return await merchant_staff.communities_of(
                w.session, await merchant_staff.require_manager(w.session, uid)
            )

        found = await attempt(update, ctx, choices, write=False)
        if found is None:
            return ConversationHandler.END
        text = _(ASK_COMMUNITY)
        rows = [[Button(name, COMMUNITY.data(community_id=cid))] for cid, name in found]
    elif step == "n":
        text = _(ASK_NAME).format(community=state.get("cn", ""))
    elif step == "k":
        text = _(ASK_KIND).format(merchant=state["n"])
        rows = [[Button(_(label), KIND.data(kind=str(i))) for i, label in enumerate(KIND_LABELS)]]
    elif step == "t":
        text = _(ASK_CONTACT).format(merchant=state["n"])
    else:
        text = _(SURE_ADD).format(
            merchant=_("{name} ({kind})").format(name=state["n"], kind=state["k"]),
            community=state.get("cn", ""),
            who=state["t"],
        )
        rows = [[Button(_(ADD_OK), OK.data())]]
    if note:
        text = note + "\n" + text
    markup = inline([*rows, _stop(_)])
    if update.callback_query is not None:
        await answer(update.callback_query)
        await edit_or_send(update, text, markup)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text, reply_markup=markup)
    return ASK


async def _community_name(update: Update, ctx: AppContext, cid: int) -> str | None:
    uid = update.effective_user.id if update.effective_user else 0

    async def name(w: Work) -> str:
        scope = await merchant_staff.require_manager(w.session, uid)
        for found, label in await merchant_staff.communities_of(w.session, scope):
            if found == cid:
                return label
        raise Refused(STALE)

    return await attempt(update, ctx, name, write=False)


def _next_step(state: dict[str, Any]) -> str:
    for key in ("c", "n", "k", "t"):
        if state.get(key) is None:
            return key
    return "ok"


async def add_pressed(update: Update, ctx: AppContext) -> int:
    """➕: the flow starts at the community (when there is a choice) or at the name."""
    assert ctx.user_data is not None
    uid = pressed(update).from_user.id

    async def own(w: Work) -> tuple[int | None]:
        scope = await merchant_staff.require_manager(w.session, uid)
        return (await merchant_staff.own_community(w.session, scope),)

    got = await attempt(update, ctx, own, write=False)
    if got is None:
        return ConversationHandler.END
    state: dict[str, Any] = {"c": got[0], "n": None, "k": None, "t": None}
    if got[0] is not None:
        state["cn"] = await _community_name(update, ctx, got[0])
    state["step"] = _next_step(state)
    ctx.user_data[KEY] = state
    return await _ask(update, ctx)


async def contact_pressed(update: Update, ctx: AppContext) -> int:
    """👤: a new contact for this merchant."""
    assert ctx.user_data is not None
    q = pressed(update)
    mid = CONTACT.parse(q.data).merchant_id
    row = await attempt(
        update, ctx, lambda w: merchant_staff.row_of(w.session, q.from_user.id, mid), write=False
    )
    if row is None:
        return ConversationHandler.END
    ctx.user_data[KEY] = {"m": mid, "n": row.name, "step": "t"}
    return await _ask(update, ctx)


async def community_chosen(update: Update, ctx: AppContext) -> int:
    state = _state(ctx)
    if state.get("step") != "c":
        return await _stale(update, ctx)
    cid = COMMUNITY.parse(pressed(update).data).community_id
    name = await _community_name(update, ctx, cid)
    if name is None:
        return ASK
    state.update(c=cid, cn=name)
    state["step"] = _next_step(state)
    return await _ask(update, ctx)


async def kind_chosen(update: Update, ctx: AppContext) -> int:
    state = _state(ctx)
    if state.get("step") != "k":
        return await _stale(update, ctx)
    state["k"] = merchants.KINDS[int(KIND.parse(pressed(update).data).kind)]
    state["step"] = _next_step(state)
    return await _ask(update, ctx)


async def typed(update: Update, ctx: AppContext) -> int:
    """The name, the kind or the contact's id, as the step asks; a bad one is asked again."""
    msg = update.effective_message
    assert msg is not None
    state = _state(ctx)
    step = state.get("step")
    _ = await ctx.gettext()
    text = msg.text or ""
    uid = update.effective_user.id if update.effective_user else 0
    try:
        if step == "n":
            async with reading(ctx) as w:
                state["n"] = await merchant_staff.name_free(w.session, uid, text)
        elif step == "k":
            state["k"] = merchant_staff.check_kind(text)
        elif step == "t":
            state["t"] = merchant_staff.parse_contact(text)
        else:
            await msg.reply_text(_(USE_BUTTONS))
            return ASK
    except Refused as e:
        return await _ask(update, ctx, note=e.render(_))
    if step == "t" and state.get("m") is not None:
        return await _set_contact(update, ctx, state)
    state["step"] = _next_step(state)
    return await _ask(update, ctx)


async def _set_contact(update: Update, ctx: AppContext, state: dict[str, Any]) -> int:
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None and ctx.user_data is not None
    uid = update.effective_user.id
    info = await attempt(
        update,
        ctx,
        lambda w: merchant_staff.set_contact(
            ctx.rt, w.session, uid, int(state["m"]), int(state["t"])
        ),
    )
    ctx.user_data.pop(KEY, None)
    if info is None:
        return ConversationHandler.END
    _ = await ctx.gettext()
    await msg.reply_text(_(CONTACT_SET).format(merchant=info.name, who=info.contact_telegram_id))
    return ConversationHandler.END


async def ok_pressed(update: Update, ctx: AppContext) -> int:
    state = _state(ctx)
    if state.get("step") != "ok":
        return await _stale(update, ctx)
    return await _add(update, ctx, state)


async def _stale(update: Update, ctx: AppContext) -> int:
    await alert(update, (await ctx.gettext())(STALE))
    return ASK


# --- the list's buttons ---------------------------------------------------------------------


async def products_pressed(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    mid = PRODUCTS.parse(q.data).merchant_id

    async def read(w: Work) -> tuple[Row, list[tuple[str, str, int]]]:
        row = await merchant_staff.row_of(w.session, q.from_user.id, mid)
        items = await merchants.products(w.session, mid)
        return row, [(p.name, p.unit, p.price_fen) for p in items]

    got = await attempt(update, ctx, read, write=False)
    if got is None:
        return
    row, items = got
    _ = await ctx.gettext()
    if items:
        lines = [_(PRODUCTS_TITLE).format(merchant=row.name)]
        lines += [f"• {name} ¥{yuan(fen)}/{unit}" for name, unit, fen in items]
    else:
        lines = [_(NO_PRODUCTS).format(merchant=row.name)]
    lines += ["", _(HOW_TO_IMPORT).format(merchant=row.name)]
    await answer(q)
    await edit_or_send(update, "\n".join(lines), inline([[Button(_(BACK_LABEL), LIST.data())]]))


async def remove_pressed(update: Update, ctx: AppContext) -> None:
    """✖️: asked first; one with a group-buy not finished is refused at once, saying so."""
    q = pressed(update)
    values = REMOVE.parse(q.data)
    mid, cid = values.merchant_id, values.community_id
    names = await attempt(
        update,
        ctx,
        lambda w: merchant_staff.check_removable(w.session, q.from_user.id, mid, cid),
        write=False,
    )
    if names is None:
        return
    _ = await ctx.gettext()
    rows = [
        [
            Button(_(YES_REMOVE), REMOVE_YES.data(merchant_id=mid, community_id=cid)),
            Button(_(KEEP), LIST.data()),
        ]
    ]
    await answer(q)
    await edit_or_send(
        update, _(SURE_REMOVE).format(merchant=names[0], community=names[1]), inline(rows)
    )


async def remove_confirmed(update: Update, ctx: AppContext) -> None:
    q = pressed(update)
    values = REMOVE_YES.parse(q.data)
    done = await attempt(
        update,
        ctx,
        lambda w: merchant_staff.remove(
            ctx.rt, w.session, q.from_user.id, values.merchant_id, values.community_id
        ),
    )
    if done is None:  # refused (the alert said why): the list as it is now
        await _list_now(update, ctx)
        return
    _ = await ctx.gettext()
    await _list_now(update, ctx, _(REMOVED).format(merchant=done[0], community=done[1]))


async def back_pressed(update: Update, ctx: AppContext) -> None:
    await _list_now(update, ctx)


def build_merchant_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    entry: list[Handler] = [
        CommandHandler("merchants", merchants_command, filters=filters.ChatType.PRIVATE),
        ADD.handler(add_pressed),
        CONTACT.handler(contact_pressed),
    ]
    exits = conversation_exits(
        forget=(KEY,),
        stop_button=STOP,
        stopped=STOPPED,
        prefix="mcn",
    )
    return ConversationHandler(
        entry_points=entry,
        states={
            ASK: [
                COMMUNITY.handler(community_chosen),
                KIND.handler(kind_chosen),
                OK.handler(ok_pressed),
                MessageHandler(PRIVATE_TEXT, typed),
            ],
            **exits.timeout,
        },
        fallbacks=[*exits.stop, *entry, *exits.stray],
        name="merchant_new",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )


def merchant_handlers() -> list[Any]:
    return [
        PRODUCTS.handler(products_pressed),
        REMOVE.handler(remove_pressed),
        REMOVE_YES.handler(remove_confirmed),
        LIST.handler(back_pressed),
    ]
