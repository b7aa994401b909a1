"""No English inside the Chinese UI (issue 15, point 4): each main screen of each audience is
shown through the real bot in zh_CN, and every text a person sees there (each message, every
earlier version of an edited one, every button and menu label) is searched for Latin words.
Names, units, commands, usernames, links and the few words in ALLOWED are not English prose;
anything else fails the test with the screen and the text.

The screens are lists of steps, one list per audience, walked in order on one bot (a later step
may use what an earlier one made: an order, a claimed task). To add a screen, write an async
step ``(walk) -> None`` that does what the person does and waits until the bot has answered,
and append it to its audience's list with a name: whatever the bot showed or edited meanwhile
is checked under that name."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from bot.config import Settings
from bot.seed import DEMO
from handlers.keyboards import MENU_LANGUAGE
from tests.conftest import make_settings
from tests.factories import (
    GROUP_1,
    STAFF,
    VOLUNTEERS_1,
    Harness,
    Person,
    Z,
    buttons,
    register_by_buttons,
    text_of,
)
from tests.waiting import until

# Words that are not English prose: units and abbreviations Chinese uses as they are, the
# bot's brand, the names of the apps people use, and "English", the name the language menu
# gives the other language it offers (in its own tongue, so that who cannot read Chinese finds it).
ALLOWED = set("QR kg g ml ID PDF CSV UTF MB paotui Telegram Excel English".split())
# Whole labels kept bilingual on purpose: the menu's language button, for the same reason.
ALLOWED_LABELS = {Z(MENU_LANGUAGE)}
LATIN = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
NOT_PROSE = (
    re.compile(r"https?://\S+"),  # links
    re.compile(r"(?<![\w/])/[a-z_]+(?:@\w+)?"),  # commands: /orders, /start@paotui_bot
    re.compile(r"@\w+"),  # usernames
    re.compile(r"`[^`]*`"),  # a command to type, as `make run`
    re.compile(r"\b[a-z_]+(?:,[a-z_]+)+\b"),  # a CSV file's header line, to be typed as it is
    re.compile(r"\b[a-z_]+(?= 列)|(?<=列 )[a-z_]+\b"),  # a column: "units 列", "一列 hotline"
    re.compile(r"'[^'\n]*'"),  # what the person wrote, quoted back: "'=SUM(A1)' 以 '=' 开头"
    re.compile(r"\b[a-z]+_\w+\b"),  # identifiers people copy: building codes, usernames
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The walk is faster than a person: the flood guard would answer "too fast" in its place.
    return make_settings(database_url, limits={"messages_per_minute": 600})


def english_in(text: str, names: set[str]) -> list[str]:
    """The Latin words of ``text`` that are neither a name, a unit nor ALLOWED."""
    if text in ALLOWED_LABELS:
        return []
    for pattern in NOT_PROSE:
        text = pattern.sub(" ", text)
    for name in names:
        text = text.replace(name, " ")
    return [w for w in LATIN.findall(text) if w not in ALLOWED]


def _labels(markup: dict[str, Any] | None) -> list[str]:
    markup = markup or {}
    rows = markup.get("inline_keyboard", []) + markup.get("keyboard", [])
    return [b["text"] if isinstance(b, dict) else str(b) for row in rows for b in row]


def seen_texts(msg: dict[str, Any]) -> list[str]:
    """What a person saw of one message: its text or caption now, every earlier version, and
    every button of each."""
    out = [text_of(msg), *_labels(msg.get("reply_markup"))]
    for old in msg.get("edit_history") or []:
        out += [old.get("text") or old.get("caption") or "", *_labels(old.get("reply_markup"))]
    return [t for t in out if t]


@dataclass
class Walk:
    """One bot and the people walking its screens; what each step made, for the next."""

    h: Harness
    aunt: Person
    runner: Person
    boss: Person
    order_id: int = 0
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def chats(self) -> list[int]:
        return [self.aunt.user_id, self.runner.user_id, self.boss.user_id, GROUP_1]


Step = Callable[[Walk], Awaitable[None]]


# --- the resident ------------------------------------------------------------------------------


async def registration(w: Walk) -> None:
    await register_by_buttons(w.h, w.aunt)
    w.aunt.contact("13912345678")
    await w.aunt.expect(lambda m: "13912345678" in text_of(m))


async def menu(w: Walk) -> None:
    w.aunt.say("/start")  # registered: welcome back, with the menu keyboard
    await w.aunt.expect(lambda m: "keyboard" in (m.get("reply_markup") or {}))


async def resident_help(w: Walk) -> None:
    w.aunt.say("/help")
    await w.aunt.expect(lambda m: "/orders" in text_of(m) or "📋" in text_of(m))


async def order_form(w: Walk) -> None:
    """Every question of an errand, the summary with its ✏️ buttons, and the confirmation."""
    done = await w.h.order(w.aunt, "groceries", urgency="today")
    w.order_id = int(re.findall(r"#(\d+)", text_of(done))[0])


async def order_form_other_kinds(w: Walk) -> None:
    """The questions of medicine and gas (not sent: the household's cap stays free)."""
    for kind in ("medicine", "gas"):
        w.aunt.say("/order")
        kinds = await w.aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
        await w.aunt.press_data(kinds, f"d:cat:{kind}")
        await w.h.wait_edit(
            w.aunt.user_id,
            kinds["message_id"],
            lambda m: "d:cat:" not in str(m.get("reply_markup")),
        )
        w.aunt.say("/cancel")
        await w.aunt.expect(lambda m: not buttons(m))


async def my_orders(w: Walk) -> None:
    w.aunt.say("/orders")
    await w.aunt.expect(lambda m: f"#{w.order_id}" in text_of(m))


async def me(w: Walk) -> None:
    w.aunt.say(Z("👤 My info"))
    await w.aunt.expect(lambda m: "13912345678" in text_of(m))


async def at_the_door(w: Walk) -> None:
    """After the volunteer's steps: the resident's news, the doorstep photo, and ✅."""
    at_door = await w.h.emu.wait_for(
        w.aunt.user_id, lambda m: f"o:ok:{w.order_id}" in str(m.get("reply_markup"))
    )
    await w.aunt.press_data(at_door, f"o:ok:{w.order_id}")


async def repeat_setup(w: Walk) -> None:
    """🔁 on the finished order's card: how often, which weekday, what time, how long."""
    o = w.order_id
    card = await w.h.card(o, lambda m: f"rp:new:{o}" in str(m.get("reply_markup")))
    await w.aunt.press_data(card, f"rp:new:{o}")
    how = await w.aunt.expect(lambda m: f"rp:wk:{o}" in str(m.get("reply_markup")))
    for press, then in (
        (f"rp:wk:{o}", f"rp:r:{o}:w2"),
        (f"rp:r:{o}:w2", f"rp:t:{o}:w2:1100"),
        (f"rp:t:{o}:w2:1100", f"rp:ok:{o}:w2:1100:0"),
    ):
        await w.aunt.press_data(how, press)
        how = await w.h.wait_edit(
            w.aunt.user_id, how["message_id"], lambda m, t=then: t in str(m.get("reply_markup"))
        )
    await w.aunt.press_data(how, f"rp:ok:{o}:w2:1100:0")
    await w.h.wait_edit(w.aunt.user_id, how["message_id"], lambda m: not buttons(m))


async def repeat_until(w: Walk) -> None:
    """🔁 again: every month on the 31st, until a day typed (an unreadable one asked again)."""
    o = w.order_id
    card = await w.h.card(o, lambda m: f"rp:new:{o}" in str(m.get("reply_markup")))
    await w.aunt.press_data(card, f"rp:new:{o}")
    how = await w.aunt.expect(lambda m: f"rp:mo:{o}" in str(m.get("reply_markup")))
    for press, then in (
        (f"rp:mo:{o}", f"rp:r:{o}:m31"),
        (f"rp:r:{o}:m31", f"rp:t:{o}:m31:0800"),
        (f"rp:t:{o}:m31:0800", f"rp:until:{o}:m31:0800"),
        (f"rp:until:{o}:m31:0800", "rp:x"),
    ):
        await w.aunt.press_data(how, press)
        how = await w.h.wait_edit(
            w.aunt.user_id, how["message_id"], lambda m, t=then: t in str(m.get("reply_markup"))
        )
    w.aunt.say("明年吧")
    await w.aunt.expect(lambda m: "12-20" in text_of(m))
    w.aunt.say((w.h.rt.today() + timedelta(days=90)).isoformat())
    asked = await w.aunt.expect(lambda m: "rp:okd:" in str(m.get("reply_markup")))
    ok = next(d for _, d in buttons(asked) if d.startswith("rp:okd:"))
    await w.aunt.press_data(asked, ok)
    await w.h.wait_edit(w.aunt.user_id, asked["message_id"], lambda m: not buttons(m))


async def repeat_list(w: Walk) -> None:
    w.aunt.say("/orders")
    await w.aunt.expect(lambda m: "rp:pause:" in str(m.get("reply_markup")))


async def staff_repeats(w: Walk) -> None:
    w.boss.say("/repeats")
    await w.boss.expect(lambda m: "rp:pause:" in str(m.get("reply_markup")))


# --- the volunteer -----------------------------------------------------------------------------


async def task_post(w: Walk) -> None:
    """Posted when the order was sent (checked under that screen): only waited for here."""
    await w.h.emu.wait_for(GROUP_1, lambda m: f"#{w.order_id} " in text_of(m))


async def claimed_card(w: Walk) -> None:
    post = await w.h.emu.wait_for(GROUP_1, lambda m: f"#{w.order_id} " in text_of(m))
    w.runner.say("/help")  # volunteers talk to the bot privately
    await w.h.settle()
    await w.runner.press_data(post, f"o:claim:{w.order_id}", chat_id=GROUP_1)
    w.card = await w.h.emu.wait_for(
        w.runner.user_id, lambda m: f"o:buy:{w.order_id}" in str(m.get("reply_markup"))
    )


async def my_tasks(w: Walk) -> None:
    w.runner.say("/mytasks")
    await w.runner.expect(lambda m: f"#{w.order_id}" in text_of(m))


async def run_and_deliver(w: Walk) -> None:
    """The card through 🛒, 🚶 and 📦 with its proof (the claim is already made)."""
    from tests.factories import deliver_with_proof

    card = w.card
    for verb, nxt in (("buy", "go"), ("go", "done")):
        await w.runner.press_data(card, f"o:{verb}:{w.order_id}")
        card = await w.h.wait_edit(
            w.runner.user_id,
            card["message_id"],
            lambda m, n=nxt: f"o:{n}:{w.order_id}" in str(m.get("reply_markup")),
        )
    await deliver_with_proof(w.h, w.runner, card, w.order_id)


async def duty(w: Walk) -> None:
    w.runner.say("/duty")
    await w.runner.expect(lambda m: bool(buttons(m)))


async def shifts(w: Walk) -> None:
    w.runner.say("/shifts")
    await w.runner.expect(lambda m: True)


async def history(w: Walk) -> None:
    w.runner.say("/history")
    await w.runner.expect(lambda m: True)


async def group_tasks(w: Walk) -> None:
    last = max(m["message_id"] for m in w.h.emu.messages(GROUP_1))
    w.runner.say("/tasks", chat_id=GROUP_1)
    await w.h.emu.wait_for(GROUP_1, lambda m: m["outgoing"], 15.0, after_message_id=last)


# --- the staff ---------------------------------------------------------------------------------


async def staff_help(w: Walk) -> None:
    w.boss.say("/help")
    await w.boss.expect(lambda m: "/notice" in text_of(m))


async def stats(w: Walk) -> None:
    w.boss.say("/stats")
    await w.boss.expect(lambda m: "📊" in text_of(m))


async def notice_preview_and_send(w: Walk) -> None:
    """/notice: whom, the text, the preview; sent, and the resident's copy with its header."""
    w.boss.say("/notice")
    whom = await w.boss.expect(lambda m: any(d.startswith("n:a:") for _, d in buttons(m)))
    await w.boss.press_data(whom, "n:a:community")

    def answered() -> dict[str, Any] | None:  # the question edited, or a new message
        last = w.boss.chat()[-1]
        moved = last["message_id"] != whom["message_id"] or "n:a:" not in str(
            last.get("reply_markup")
        )
        return last if moved else None

    await until(lambda: answered() is not None, "the answer to the audience")
    # A community: chosen at once when there is one, else its button.
    last = answered()
    assert last is not None
    target = next((d for _, d in buttons(last) if d.startswith("n:t:")), None)
    if target:
        await w.boss.press_data(last, target)
        await w.h.wait_edit(
            w.boss.user_id, last["message_id"], lambda m: "n:t:" not in str(m.get("reply_markup"))
        )
    w.boss.say("明早7点核酸检测，请带好身份证。")
    preview = await w.boss.expect(lambda m: "n:send" in str(m.get("reply_markup")))
    await w.boss.press_data(preview, "n:send")
    await w.aunt.expect(lambda m: "明早7点" in text_of(m))


async def notices(w: Walk) -> None:
    w.boss.say("/notices")
    await w.boss.expect(lambda m: "明早7点" in text_of(m))


async def volunteers(w: Walk) -> None:
    w.boss.say("/volunteers")
    last = await w.boss.expect(lambda m: True)
    grid = next((d for _, d in buttons(last) if "1" in d), None)
    if grid:
        await w.boss.press_data(last, grid)


async def roster(w: Walk) -> None:
    w.boss.say("/roster")
    await w.boss.expect(lambda m: bool(buttons(m)))


async def setup_screen(w: Walk) -> None:
    w.boss.say("/setup")
    await w.boss.expect(lambda m: bool(buttons(m)))


async def setup_bad_file(w: Walk) -> None:
    """A CSV file with mistakes: each line's reasons, in Chinese (they were English)."""
    header = "community,community_code,grid,compound,building,building_code,units\n"
    bad = (
        header
        + ",xingfu,第一网格,幸福小区,9栋,xf9,0\n"  # no community name; 0 units
        + "幸福社区,xingfu,第一网格,=SUM(A1),9栋,xf 9,2\n"  # a formula; a bad code
        + "幸福社区,xingfu,第一网格,幸福小区,1栋,xf1,2,3\n"  # a cell too many
    )
    w.h.emu.send_document(w.boss.user_id, bad.encode(), file_name="b.csv", mime_type="text/csv")
    await w.boss.expect(lambda m: "第 2 行" in text_of(m))


async def care(w: Walk) -> None:
    w.boss.say("/care")
    await w.boss.expect(lambda m: True)
    w.boss.say("/care 13912345678")
    await w.boss.expect(lambda m: any(d.startswith("cr:") for _, d in buttons(m)))


async def phone_order(w: Walk) -> None:
    """📞 代下单: the compounds, the buildings, a building's households, a new one's question."""
    from handlers.keyboards import STAFF_PHONE_ORDER
    from handlers.phone_orders import QUESTIONS

    boss = w.boss.user_id
    w.boss.say(Z(STAFF_PHONE_ORDER))
    find = await w.boss.expect(lambda m: "ph:c:" in str(buttons(m)))
    await w.boss.press(find, "幸福小区")
    built = await w.h.wait_edit(boss, find["message_id"], lambda m: "ph:b:" in str(buttons(m)))
    await w.boss.press(built, "2栋")
    here = await w.h.wait_edit(boss, find["message_id"], lambda m: "ph:nb:" in str(buttons(m)))
    await w.boss.press(here, "➕")
    asked = Z(QUESTIONS[0][1])
    new = await w.h.wait_edit(boss, find["message_id"], lambda m: asked in text_of(m))
    await w.boss.press(new, "✖️")


RESIDENT_BEFORE: list[tuple[str, Step]] = [
    ("resident: /start and registration", registration),
    ("resident: menu", menu),
    ("resident: help", resident_help),
    ("resident: the order form, its questions and summary", order_form),
    ("resident: other kinds' questions", order_form_other_kinds),
    ("resident: /orders", my_orders),
    ("resident: 👤 my info", me),
]
VOLUNTEER: list[tuple[str, Step]] = [
    ("volunteer: the task's group post", task_post),
    ("volunteer: the claimed task's card", claimed_card),
    ("volunteer: /mytasks", my_tasks),
    ("volunteer: /duty", duty),
    ("volunteer: /shifts", shifts),
    ("volunteer: /tasks in the group", group_tasks),
    ("volunteer: bought, on the way, delivered", run_and_deliver),
    ("volunteer: /history", history),
]
RESIDENT_AFTER: list[tuple[str, Step]] = [
    ("resident: at the door, received", at_the_door),
    ("resident: 🔁 repeat regularly", repeat_setup),
    ("resident: 🔁 every month on the 31st, until a day typed", repeat_until),
    ("resident: /orders with a repeating order", repeat_list),
]


async def places_and_status(w: Walk) -> None:
    """/places after a places file, then ✏️ a point → a building → a status by buttons (the
    residents' notice is checked too)."""
    from bot.services import places

    async with w.h.rt.db.session() as s:
        await places.import_csv(
            w.h.rt,
            s,
            "community_code,place,kind,location,pickup_times,buildings\n"
            "xingfu,北门配送点,point,北门外,每天 9:00-11:00,xf1 xf2 xf3\n",
        )
    w.boss.say("/places")
    view = await w.boss.expect(lambda m: "bs:p:" in str(m.get("reply_markup")))
    await w.boss.press(view, "北门配送点")
    which = await w.boss.expect(lambda m: "bs:b:" in str(m.get("reply_markup")))
    await w.boss.press_data(which, next(d for _, d in buttons(which) if d.startswith("bs:b:")))
    statuses = await w.h.wait_edit(STAFF, which["message_id"], lambda m: "bs:s:" in str(m))
    await w.boss.press(statuses, "管控区")
    await w.h.wait_edit(STAFF, which["message_id"], lambda m: not buttons(m))


async def merchants_screen(w: Walk) -> None:
    """/merchants: the list (empty), then ➕ through the name, the kind, a contact id that is no
    number (said), the id and the confirmation, to the merchant added."""
    w.boss.say("/merchants")
    listing = await w.boss.expect(lambda m: "mcn:add" in data(m))
    await w.boss.press_data(listing, "mcn:add")
    await w.h.wait_edit(STAFF, listing["message_id"], lambda m: "mcn:add" not in data(m))
    w.boss.say("平安大药房")
    kind = await w.boss.expect(lambda m: "mcn:k:1" in data(m))
    await w.boss.press_data(kind, "mcn:k:1")
    await w.h.wait_edit(STAFF, kind["message_id"], lambda m: "mcn:k:1" not in data(m))
    w.boss.say("王老板")  # a name, not the id: asked again
    await w.boss.expect(lambda m: "mcn:x" in data(m))
    w.boss.say("6002")
    sure = await w.boss.expect(lambda m: "mcn:ok" in data(m))
    await w.boss.press_data(sure, "mcn:ok")
    await w.h.wait_edit(STAFF, sure["message_id"], lambda m: not buttons(m))


def data(msg: dict[str, Any]) -> list[str]:
    return [d for _, d in buttons(msg)]


STAFF_SCREENS: list[tuple[str, Step]] = [
    ("staff: help", staff_help),
    ("staff: /stats", stats),
    ("staff: /notice preview, sent", notice_preview_and_send),
    ("staff: /care", care),
    ("staff: /repeats", staff_repeats),
    ("staff: /notices", notices),
    ("staff: /volunteers", volunteers),
    ("staff: /roster", roster),
    ("staff: /setup", setup_screen),
    ("staff: /setup, a file with mistakes", setup_bad_file),
    ("staff: 📞 an order by phone", phone_order),
    ("staff: /places, a building's status by buttons", places_and_status),
    ("staff: /merchants, a merchant added by buttons", merchants_screen),
]
SCREENS = RESIDENT_BEFORE + VOLUNTEER + RESIDENT_AFTER + STAFF_SCREENS


def _state(h: Harness, chats: list[int]) -> dict[tuple[int, int], Any]:
    return {
        (chat, m["message_id"]): (m.get("edited"), text_of(m), str(m.get("reply_markup")))
        for chat in chats
        for m in h.emu.messages(chat)
        if m["outgoing"]
    }


async def test_every_main_screen_is_chinese(harness: Harness) -> None:
    h = harness
    w = Walk(h, h.person(1001, "周阿姨"), h.person(VOLUNTEERS_1[0]), h.person(STAFF))
    names = {"周阿姨", "王刚", "赵书记"}
    names |= {u.get("first_name", "") for u in h.emu.users.values() if isinstance(u, dict)}
    # Building codes are data staff typed (xf1), shown to be typed back (/setstatus xf1 …).
    names |= {code for *_rest, code, _units in (b for g in DEMO.grids for b in g.buildings)}
    found: list[str] = []
    shown: dict[str, int] = {}
    for name, step in SCREENS:
        for p in (w.aunt, w.runner, w.boss):  # each step waits for what it makes
            p.seen = max([m["message_id"] for m in p.chat()] or [0])
        before = _state(h, w.chats)
        await step(w)
        await h.settle()
        after = _state(h, w.chats)
        changed = [key for key, value in after.items() if before.get(key) != value]
        shown[name] = len(changed)
        for chat, message_id in changed:
            msg = next(m for m in h.emu.messages(chat) if m["message_id"] == message_id)
            for text in seen_texts(msg):
                words = english_in(text, names - {""})
                if words:
                    found.append(f"[{name}] {' '.join(words)!r} in {text!r}")
    # Each screen showed something (the group's post comes with the order that made it).
    silent = [name for name, n in shown.items() if not n]
    assert silent in ([], ["volunteer: the task's group post"]), f"showed nothing: {silent}"
    assert not found, "English in the Chinese UI:\n" + "\n".join(found)


def test_the_check_finds_english_and_passes_names_units_and_commands() -> None:
    assert english_in("✏️ What", set()) == ["What"]
    assert english_in("📢 Notice from the community\n\n明天停水", set()) == [
        "Notice",
        "from",
        "the",
        "community",
    ]
    assert english_in("1 tasks", set()) == ["tasks"]
    ok = "发送 /orders@paotui_bot 查看；扫 QR 码；2 kg 大米；https://t.me/paotui_bot?start=b_xf1"
    assert english_in(ok, set()) == []
    assert english_in("✅ 已由 Wang Gang 接单", {"Wang Gang"}) == []


async def test_the_sandbox_time_buttons_speak_chinese(harness: Harness) -> None:
    """The page's 🕒 buttons answer with a toast in the bot's language (it said "🕒 +1 h:
    escalation 1, nothing was due"), and the note under them is Chinese too."""
    import aiohttp

    from handlers.main import start_page

    h = harness
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt, "groceries", urgency="urgent")
    page = await start_page(h.emu, h.rt, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(page.url + "/api/state") as r:
                note = (await r.json())["clock_note"]
            toasts = []
            for minutes in (15, 60, 1440):
                async with http.post(page.url + "/api/time", json={"minutes": minutes}) as r:
                    toasts.append((await r.json())["note"])
    finally:
        await page.stop()
    # An urgent task left unclaimed is escalated: a toast says so.
    assert toasts[0].startswith("🕒 +15 分钟") and toasts[2].startswith("🕒 +1 天"), toasts
    assert any("催单升级" in t for t in toasts), toasts
    for text in [note, *toasts]:
        assert english_in(text, set()) == [], text


def test_every_sweep_part_has_a_chinese_toast() -> None:
    """Each part of the sweep (bot/sweep.PARTS) is named in the page's toast in the bot's
    language: a new part without a label showed its English name ("group-buy deadlines")."""
    from bot.i18n import gettext_for
    from bot.sweep import PARTS
    from handlers.main import SWEEP_LABELS

    _ = gettext_for("zh_CN")
    for name, _part in PARTS:
        assert name in SWEEP_LABELS, name
        assert english_in(_(SWEEP_LABELS[name]).format(n=1), set()) == [], name
