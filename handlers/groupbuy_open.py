"""/groupbuy by buttons: the merchant, the buildings (a whole compound at once), the items and
their limit per household (＋/－), the deadline typed, the delivery day, then ✅ — one message
edited at each step, ✖️ at each. /groupbuy with words is the typed form (handlers/groupbuys.py).
The answers so far live in user_data (saved: a restart resumes the flow); the final check is
the service's, whatever was pressed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import CommandHandler, ConversationHandler, MessageHandler, filters

from bot.buttons import Button, Rows
from bot.errors import STALE, Refused
from bot.i18n import N_, Gettext, local_time
from bot.services import notices
from bot.services.amounts import yuan
from bot.services.groupbuys import buys, choices, doors
from handlers.answers import alert, answer, edit_or_send, pressed
from handlers.callback_data import DAY, ID, Callback, one_of
from handlers.context import AppContext
from handlers.conversation_exits import Handler, conversation_exits
from handlers.groupbuys import groupbuy_command, opened_text
from handlers.keyboards import PRIVATE_TEXT, inline
from handlers.work import attempt

MERCHANT = Callback("gbn", "m", merchant_id=ID)
BUILDING = Callback("gbn", "b", building_id=ID)
COMPOUND = Callback("gbn", "c", compound_id=ID)
LIMIT = Callback("gbn", "l", product_id=ID, up=one_of(("0", "1")))
NEXT = Callback("gbn", "n")
DAY_CHOSEN = Callback("gbn", "d", day=DAY)
GO = Callback("gbn", "ok")
PAY = Callback("gbn", "p", mode=one_of(doors.PAYMENT))
STOP = Callback("gbn", "x")

CHOOSE, TYPE_DEADLINE = 80, 81
KEY = "groupbuy_new"  # {"m": merchant, "b": [building ids], "i": {product id: limit}, ...}

PICK_MERCHANT = N_("Open a group-buy. Which merchant?")
PICK_BUILDINGS = N_("For which buildings? (press to choose; 🏘 a whole compound)")
PICK_ITEMS = N_("Which items, and how many per household at most? (＋ to add an item)")
TYPE_WHEN = N_("Until when may residents sign up? Type HH:MM (today) or YYYY-MM-DD HH:MM.")
PICK_DAY = N_("Which day is it delivered?")
SURE = N_("Open this group-buy and announce it to the buildings' households?")
NO_MERCHANTS = N_(
    "No partner merchant serves your communities yet: community staff add one with /merchants."
)
NOTHING_CHOSEN = N_("Please choose at least one.")
STOPPED = N_("Stopped. No group-buy was opened.")
NEXT_LABEL = N_("➡️ Next")
GO_LABEL = N_("✅ Open the group-buy")
PAYMENT_LINE = N_("Payment: {how}")
PAYMENT_SWITCH = N_("Change to: {how}")
WHOLE = N_("🏘 All of {compound}")


def _stop_row(_: Gettext) -> list[Button]:
    return [Button(_("✖️ Cancel"), STOP.data())]


def _state(ctx: AppContext) -> dict[str, Any]:
    assert ctx.user_data is not None
    state = ctx.user_data.get(KEY)
    return state if isinstance(state, dict) else {}


async def start(update: Update, ctx: AppContext) -> int:
    """/groupbuy: with words, the typed form; alone, the buttons."""
    if ctx.args:
        await groupbuy_command(update, ctx)
        return ConversationHandler.END
    msg = update.effective_message
    assert msg is not None and update.effective_user is not None and ctx.user_data is not None
    uid = update.effective_user.id
    found = await attempt(
        update, ctx, lambda w: choices.merchant_choices(w.session, uid), write=False
    )
    if found is None:
        return ConversationHandler.END
    _ = await ctx.gettext()
    merchants = found
    if not merchants:
        await msg.reply_text(_(NO_MERCHANTS) + "\n\n" + _(buys.USAGE))
        return ConversationHandler.END
    ctx.user_data[KEY] = {"b": [], "i": {}}
    rows = [[Button(f"{m.name}（{m.kind}）", MERCHANT.data(merchant_id=m.id))] for m in merchants]
    await msg.reply_text(_(PICK_MERCHANT), reply_markup=inline([*rows, _stop_row(_)]))
    return CHOOSE


async def _buildings_screen(update: Update, ctx: AppContext) -> int:
    state = _state(ctx)
    uid = pressed(update).from_user.id
    found = await attempt(
        update,
        ctx,
        lambda w: choices.building_choices(w.session, uid, int(state["m"])),
        write=False,
    )
    if found is None:
        return CHOOSE
    compounds = found
    _ = await ctx.gettext()
    chosen = set(state["b"])
    rows: Rows = []
    for c in compounds:
        rows.append([Button(_(WHOLE).format(compound=c.name), COMPOUND.data(compound_id=c.id))])
        marks = [
            Button(("☑️ " if bid in chosen else "") + name, BUILDING.data(building_id=bid))
            for bid, name in c.buildings
        ]
        rows += [marks[i : i + 3] for i in range(0, len(marks), 3)]
    rows.append([Button(_(NEXT_LABEL), NEXT.data()), *_stop_row(_)])
    await answer(pressed(update))
    await edit_or_send(update, _(PICK_BUILDINGS), inline(rows))
    return CHOOSE


async def merchant_chosen(update: Update, ctx: AppContext) -> int:
    state = _state(ctx)
    state.update(m=MERCHANT.parse(pressed(update).data).merchant_id, b=[], i={}, step="b")
    return await _buildings_screen(update, ctx)


async def building_toggled(update: Update, ctx: AppContext) -> int:
    state = _state(ctx)
    bid = BUILDING.parse(pressed(update).data).building_id
    if state.get("step") != "b":
        return await _stale(update, ctx)
    state["b"] = [b for b in state["b"] if b != bid] if bid in state["b"] else [*state["b"], bid]
    return await _buildings_screen(update, ctx)


async def compound_chosen(update: Update, ctx: AppContext) -> int:
    state = _state(ctx)
    cid = COMPOUND.parse(pressed(update).data).compound_id
    if state.get("step") != "b":
        return await _stale(update, ctx)
    uid = pressed(update).from_user.id
    found = await attempt(
        update,
        ctx,
        lambda w: choices.building_choices(w.session, uid, int(state["m"])),
        write=False,
    )
    if found is None:
        return CHOOSE
    whole = [bid for c in found if c.id == cid for bid, _name in c.buildings]
    state["b"] = list(dict.fromkeys([*state["b"], *whole]))
    return await _buildings_screen(update, ctx)


async def _items_screen(update: Update, ctx: AppContext) -> int:
    state = _state(ctx)
    uid = pressed(update).from_user.id
    found = await attempt(
        update,
        ctx,
        lambda w: choices.product_choices(w.session, uid, int(state["m"])),
        write=False,
    )
    if found is None:
        return CHOOSE
    _ = await ctx.gettext()
    limits: dict[str, int] = state["i"]
    rows: Rows = [
        [
            Button("－", LIMIT.data(product_id=p.id, up="0")),
            Button(
                f"{p.name} ¥{yuan(p.price_fen)}/{p.unit} · {limits.get(str(p.id), 0)}",
                LIMIT.data(product_id=p.id, up="1"),
            ),
            Button("＋", LIMIT.data(product_id=p.id, up="1")),
        ]
        for p in found
    ]
    rows.append([Button(_(NEXT_LABEL), NEXT.data()), *_stop_row(_)])
    await answer(pressed(update))
    await edit_or_send(update, _(PICK_ITEMS), inline(rows))
    return CHOOSE


async def limit_changed(update: Update, ctx: AppContext) -> int:
    state = _state(ctx)
    values = LIMIT.parse(pressed(update).data)
    if state.get("step") != "i":
        return await _stale(update, ctx)
    key = str(values.product_id)
    limit = max(0, min(buys.MAX_LIMIT, state["i"].get(key, 0) + (1 if values.up == "1" else -1)))
    if limit:
        state["i"][key] = limit
    else:
        state["i"].pop(key, None)
    return await _items_screen(update, ctx)


async def next_pressed(update: Update, ctx: AppContext) -> int:
    state = _state(ctx)
    _ = await ctx.gettext()
    q = pressed(update)
    if state.get("step") == "b":
        if not state["b"]:
            await alert(update, _(NOTHING_CHOSEN))
            return CHOOSE
        state["step"] = "i"
        return await _items_screen(update, ctx)
    if state.get("step") == "i":
        if not state["i"]:
            await alert(update, _(NOTHING_CHOSEN))
            return CHOOSE
        state["step"] = "at"
        await answer(q)
        await edit_or_send(update, _(TYPE_WHEN), inline([_stop_row(_)]))
        return TYPE_DEADLINE
    return await _stale(update, ctx)


async def deadline_typed(update: Update, ctx: AppContext) -> int:
    msg = update.effective_message
    assert msg is not None
    state = _state(ctx)
    _ = await ctx.gettext()
    try:
        at = notices.parse_when(msg.text or "", ctx.rt.clock.now(), ctx.rt.timezone)
    except Refused as e:  # say what to type, and ask again
        await msg.reply_text(e.render(_) + "\n" + _(TYPE_WHEN))
        return TYPE_DEADLINE
    state.update(at=at.isoformat(), step="day")
    first = at.astimezone(ZoneInfo(ctx.rt.timezone)).date()
    days = [first + timedelta(days=n) for n in range(4)]
    rows = [[Button(d.strftime("%m-%d"), DAY_CHOSEN.data(day=d)) for d in days], _stop_row(_)]
    await msg.reply_text(_(PICK_DAY), reply_markup=inline(rows))
    return CHOOSE


async def day_chosen(update: Update, ctx: AppContext) -> int:
    state = _state(ctx)
    try:
        day: date = DAY_CHOSEN.parse(pressed(update).data).day  # no day: refused here
    except Refused:
        return await _stale(update, ctx)
    if state.get("step") != "day":
        return await _stale(update, ctx)
    state.update(day=day.isoformat(), step="ok")
    return await _sure(update, ctx, state)


async def _sure(update: Update, ctx: AppContext, state: dict[str, Any]) -> int:
    """The last step: the dates, how it is paid (a button switches it), ✅."""
    _ = await ctx.gettext()
    at = datetime.fromisoformat(state["at"])
    day = date.fromisoformat(state["day"])
    mode = state.get("pay", doors.ON_DELIVERY)
    other = doors.ONLINE if mode == doors.ON_DELIVERY else doors.ON_DELIVERY
    lines = [
        _(SURE),
        local_time(at, ctx.rt.timezone, "%m-%d %H:%M") + " → " + day.strftime("%m-%d"),
        _(PAYMENT_LINE).format(how=_(doors.PAYMENT[mode])),
    ]
    rows = [
        [Button(_(PAYMENT_SWITCH).format(how=_(doors.PAYMENT[other])), PAY.data(mode=other))],
        [Button(_(GO_LABEL), GO.data()), *_stop_row(_)],
    ]
    await answer(pressed(update))
    await edit_or_send(update, "\n".join(lines), inline(rows))
    return CHOOSE


async def payment_switched(update: Update, ctx: AppContext) -> int:
    state = _state(ctx)
    if state.get("step") != "ok":
        return await _stale(update, ctx)
    state["pay"] = PAY.parse(pressed(update).data).mode
    return await _sure(update, ctx, state)


async def go(update: Update, ctx: AppContext) -> int:
    state = _state(ctx)
    if state.get("step") != "ok":
        return await _stale(update, ctx)
    q = pressed(update)
    opened = await attempt(
        update,
        ctx,
        lambda w: buys.open_groupbuy(
            ctx.rt,
            w.session,
            q.from_user.id,
            int(state["m"]),
            [int(b) for b in state["b"]],
            datetime.fromisoformat(state["at"]),
            date.fromisoformat(state["day"]),
            {int(k): int(v) for k, v in state["i"].items()},
            payment=str(state.get("pay", doors.ON_DELIVERY)),
        ),
    )
    if opened is None:
        return CHOOSE
    assert ctx.user_data is not None
    ctx.user_data.pop(KEY, None)
    _ = await ctx.gettext()
    await answer(q)
    await edit_or_send(update, opened_text(_, opened), None)
    return ConversationHandler.END


async def _stale(update: Update, ctx: AppContext) -> int:
    await alert(update, (await ctx.gettext())(STALE))
    return CHOOSE


def build_open_conversation(timeout_s: float) -> ConversationHandler[AppContext]:
    entry: list[Handler] = [CommandHandler("groupbuy", start, filters=filters.ChatType.PRIVATE)]
    exits = conversation_exits(forget=(KEY,), stop_button=STOP, stopped=STOPPED, prefix="gbn")
    buttons: list[Any] = [
        MERCHANT.handler(merchant_chosen),
        BUILDING.handler(building_toggled),
        COMPOUND.handler(compound_chosen),
        LIMIT.handler(limit_changed),
        NEXT.handler(next_pressed),
        DAY_CHOSEN.handler(day_chosen),
        GO.handler(go),
        PAY.handler(payment_switched),
    ]
    return ConversationHandler(
        entry_points=entry,
        states={
            CHOOSE: buttons,
            TYPE_DEADLINE: [MessageHandler(PRIVATE_TEXT, deadline_typed)],
            **exits.timeout,
        },
        fallbacks=[*exits.stop, *entry, *exits.stray],
        name="groupbuy_new",
        allow_reentry=True,
        persistent=True,
        conversation_timeout=timeout_s,
    )
