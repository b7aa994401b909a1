"""Factories and the user's side of a chat, in one place (PTB tests/auxil style)."""

from __future__ import annotations

import asyncio
import functools
import re
import struct
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot import sweep
from bot.clock import OffsetClock
from bot.i18n import gettext_for, ngettext
from bot.runtime import Runtime
from bot.seed import DEMO
from bot.services import residents
from bot.services.orders import form
from tests.waiting import until

# A complete answer for each kind of errand (urgency is given separately).
ANSWERS: dict[str, dict[str, str]] = {
    "groceries": {
        "description": "两颗白菜，一盒鸡蛋",
        "budget": "100",
        "substitutes": "yes",
        "time_window": "any",
        "payment": "cash",
    },
    "medicine": {
        "description": "布洛芬 1盒",
        "pharmacy": "any",
        "hospital": "no",
        "chronic": "no",
        "time_window": "any",
        "payment": "cash",
    },
    "gas": {
        "gas_account": "12345678",
        "amount": "100",
        "provider": "unknown",
        "time_window": "any",
        "payment": "prepaid",
    },
    "other": {
        "subtype": "parcel",
        "description": "取快递 顺丰 3号柜 取件码 1234",
        "time_window": "any",
        "payment": "prepaid",
    },
}
GROUP_1 = DEMO.grids[0].group_chat_id
GROUP_2 = DEMO.grids[1].group_chat_id
VOLUNTEERS_1 = [tid for tid, _ in DEMO.grids[0].volunteers]
VOLUNTEERS_2 = [tid for tid, _ in DEMO.grids[1].volunteers]
STAFF = DEMO.staff[0][0]
# The ledger workbook's sheets, in order, as a Chinese-speaking staff member gets them.
LEDGER_SHEETS = [
    "订单",
    "订单记录",
    "志愿者",
    "通知",
    "通知回执",
    "关爱名单",
    "楼栋状态",
    "操作记录",
]


_ZH = gettext_for("zh_CN")


@functools.cache
def _plurals() -> dict[str, str]:
    """The catalog's plural messages: English plural -> singular."""
    from babel.messages.pofile import read_po

    from bot.i18n import po_path

    with po_path("zh_CN").open("rb") as fh:
        catalog = read_po(fh, locale="zh_CN")
    return {m.id[1]: m.id[0] for m in catalog if isinstance(m.id, tuple)}


# How long a test waits for the bot's answer: met on a 2-core machine shared with other work
# (15 s was not always enough there); a passing test never waits it out.
WAIT = 30.0


def Z(msgid: str | tuple[str, str]) -> str:
    """A piece of the zh_CN text users see for ``msgid`` (or a ``P_`` plural): the longest run
    without placeholders or line breaks. Fails if the string is not translated."""
    if isinstance(msgid, tuple):
        text = ngettext(_ZH, msgid, 2)
        msgid = msgid[1]
    else:
        text = _ZH(msgid)
        if text == msgid and msgid in _plurals():  # a P_ plural named by its English plural
            text = ngettext(_ZH, (_plurals()[msgid], msgid), 2)
    assert text != msgid or not any(c.isascii() and c.isalpha() for c in msgid), (
        f"no zh_CN translation for {msgid!r}"
    )
    pieces = re.split(r"\{\w*\}|\n", text)
    return max((p.strip() for p in pieces), key=len)


def buttons(msg: dict[str, Any]) -> list[tuple[str, str]]:
    markup = msg.get("reply_markup") or {}
    return [
        (b["text"], b.get("callback_data", ""))
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]


def button_data(msg: dict[str, Any]) -> list[str]:
    """The callback data of a message's inline buttons, in order."""
    return [d for _, d in buttons(msg)]


def text_of(msg: dict[str, Any]) -> str:
    return msg.get("text") or msg.get("caption") or ""


@dataclass
class Person:
    """One Telegram user in the emulator, reading their own private chat."""

    emu: Any
    user_id: int
    seen: int = 0  # last bot message id consumed in the private chat

    def chat(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        return [m for m in self.emu.messages(chat_id or self.user_id) if m["outgoing"]]

    def say(self, text: str, chat_id: int | None = None) -> dict[str, Any]:
        return self.emu.send_text(self.user_id, text, chat_id=chat_id)

    def contact(self, phone: str) -> dict[str, Any]:
        return self.emu.send_contact(self.user_id, phone)

    async def expect(self, match: Any, timeout: float = WAIT) -> dict[str, Any]:
        """The next bot message in the private chat (after those already seen) matching."""
        msg = await self.emu.wait_for(self.user_id, match, timeout, after_message_id=self.seen)
        self.seen = max(self.seen, msg["message_id"])
        return msg

    async def expect_in(self, chat_id: int, match: Any, timeout: float = WAIT) -> dict[str, Any]:
        return await self.emu.wait_for(chat_id, match, timeout)

    async def press(
        self, msg: dict[str, Any], label: str, chat_id: int | None = None, timeout: float = 10.0
    ) -> dict[str, Any] | None:
        """Press the button whose label contains ``label`` (or whose data equals it)."""
        choices = buttons(msg)
        data = next((d for t, d in choices if label in t or d == label), None)
        assert data is not None, f"no button {label!r} in {choices}"
        return await self.press_data(msg, data, chat_id=chat_id, timeout=timeout)

    async def press_data(
        self,
        msg: dict[str, Any],
        data: str,
        chat_id: int | None = None,
        timeout: float = 10.0,
        force: bool = False,
    ) -> dict[str, Any] | None:
        chat = chat_id if chat_id is not None else msg["chat"]["id"]
        qid = self.emu.press(self.user_id, chat, msg["message_id"], data, force=force)
        return await self.emu.wait_callback_answer(qid, timeout)


def bot_service(rt: Runtime, emu: Any, token: str) -> Any:
    """The real bot service against the emulator, on the emulator's clock (as `paotui run`
    builds it against Telegram). Imported here: telegram reads PTB_TIMEDELTA at import, which
    tests/conftest.py sets first."""
    from handlers.runner import BotService

    return BotService(
        rt,
        token=token,
        base_url=emu.base_url,
        base_file_url=emu.base_file_url,
        time_scale=emu.time_scale,
    )


@dataclass
class Harness:
    service: Any
    rt: Runtime
    emu: Any
    people: dict[int, Person] = field(default_factory=dict)
    group_log: Any = None  # tests.privacy_guard.GroupLog: what the bot showed the groups

    def person(self, user_id: int, name: str | None = None) -> Person:
        if user_id not in self.people:
            if name is not None or user_id not in self.emu.users:
                self.emu.create_user(user_id, first_name=name or f"User{user_id}")
            self.people[user_id] = Person(self.emu, user_id)
        return self.people[user_id]

    async def settle(self, timeout: float = 30.0) -> None:
        """Every update processed and every owed message sent."""
        await asyncio.wait_for(self.service.idle(), timeout)
        await self.service.dispatcher.drain(timeout)

    async def own_the_sweep(self) -> None:
        """From here only the test sweeps: the JobQueue's first pass (due a second after the
        start) has run, and its later ones are off. Else a pass of its own between the test's
        ``advance`` and ``sweep`` fires first what the test's sweep counts (met under load)."""
        from handlers.app import SWEEPS_DONE

        app = self.service.app
        await until(lambda: app.bot_data.get(SWEEPS_DONE, 0) >= 1, "the JobQueue's first sweep", 60)
        assert app.job_queue is not None
        for job in app.job_queue.get_jobs_by_name("sweep"):
            job.enabled = False

    def advance(self, **delta: float) -> None:
        """Move the bot's clock forward (timedelta keywords: minutes=16, hours=2)."""
        assert isinstance(self.rt.clock, OffsetClock)
        self.rt.clock.advance(timedelta(**delta))

    async def sweep(self) -> dict[str, int]:
        """Run the periodic sweep now (as the JobQueue does), then deliver what it owed."""
        fired = await sweep.run_once(self.rt)
        await self.settle()
        return fired

    async def restart(self, settings: Any = None) -> None:
        """Stop the bot and start a new one on the same database, as after a crash; with
        ``settings``, the new one runs on them (as after a change to the config)."""
        old = self.service
        await old.stop()
        if settings is not None:
            self.rt.settings = settings
        self.service = bot_service(self.rt, self.emu, old.app.bot.token)
        await self.service.start()

    async def add_grid_leader(self, telegram_id: int, name: str, grid_id: int) -> Person:
        """A grid leader (网格长) of ``grid_id``, as `/staff add` makes one; them, as a person."""
        from models import Staff, StaffRole

        async with self.rt.db.session() as s:
            s.add(
                Staff(
                    telegram_id=telegram_id,
                    name=name,
                    role=StaffRole.GRID_LEADER,
                    grid_id=grid_id,
                    created_at=self.rt.clock.now(),
                )
            )
        return self.person(telegram_id, name)

    async def count(self, model: Any, *where: Any) -> int:
        async with self.rt.db.read() as s:
            return int(await s.scalar(select(func.count()).select_from(model).where(*where)))

    async def register(
        self,
        user_id: int,
        name: str,
        building_code: str = "xf1",
        unit: str = "1",
        room: str = "101",
        phone: str = "13800000000",
        settle: bool = True,
    ) -> Person:
        """A resident registered through the service (the UI flow has its own test)."""
        from bot.services import directory

        p = self.person(user_id, name)
        # The user has talked to the bot once, so it may write to them (as on Telegram). The
        # reply is waited for: settle() below cannot see an update not yet fetched, and a reply
        # landing later was read as the registration's (met in CI on a busy machine).
        before = max([m["message_id"] for m in p.chat()] or [0])
        p.say("/help")
        await self.emu.wait_for(user_id, lambda m: True, WAIT, after_message_id=before)
        async with self.rt.db.session() as s:
            b = await directory.building_by_code(s, building_code)
            assert b is not None
            await residents.register(
                s,
                self.rt.clock,
                telegram_id=user_id,
                name=name,
                phone=phone,
                building_id=b.id,
                unit=unit,
                room=room,
            )
        if settle:
            await self.settle()
            p.seen = max([m["message_id"] for m in p.chat()] or [0])
        return p

    async def form_summary(self, user_id: int, kinds: dict[str, Any]) -> dict[str, Any]:
        """The order form's summary (the message with its ✅ button), shown after ``kinds``,
        the message that asked which kind of errand."""
        return await self.emu.wait_for(
            user_id,
            lambda m: any(d.startswith("d:ok:") for _, d in buttons(m)),
            WAIT,
            after_message_id=kinds["message_id"] - 1,
        )

    async def order_by_service(self, resident: int, runner: int | None = None) -> int:
        """``resident`` orders groceries through the service, not the chat (the form has its
        own tests), and ``runner``, if given, takes it; the order's id. Nothing is waited for
        but the outbox's wake-up."""
        from bot.services.orders import drafts, transitions

        async with self.rt.db.session() as s:
            d = await drafts.start_draft(self.rt, s, resident)
            await drafts.update_draft(
                self.rt,
                s,
                d.id,
                resident,
                category="groceries",
                urgency="today",
                **ANSWERS["groceries"],
            )
            order_id = (await drafts.submit_draft(self.rt, s, d.id, resident)).order.id
            if runner is not None:
                await transitions.claim(self.rt, s, order_id, runner)
        self.rt.wake_outbox()
        return order_id

    async def answer_form(
        self,
        p: Person,
        kinds: dict[str, Any],
        category: str,
        ans: dict[str, str],
        lang: str = "zh_CN",
        *,
        by_phone: bool = False,
    ) -> dict[str, Any]:
        """From the form's first question (``kinds``), choose ``category`` and answer every
        question with ``ans`` (a button where one fits, else typed); returns the summary.
        ``by_phone``: an order taken by phone, whose questions are about the household."""
        await p.press_data(kinds, f"d:cat:{category}")
        tr = gettext_for(lang)
        for st in form.steps_for(category):
            prompt = tr(st.prompt_for(by_phone))
            current = await self.emu.wait_for(
                p.user_id,
                lambda m, t=prompt: t in text_of(m),
                WAIT,
                after_message_id=kinds["message_id"] - 1,
            )
            value = ans[st.key]
            if value in {c.value for c in st.choices}:
                await p.press_data(current, f"d:v:{value}")
            else:
                p.say(value)
        return await self.form_summary(p.user_id, kinds)

    async def order(
        self,
        p: Person,
        category: str = "groceries",
        text: str | None = None,
        urgency: str = "today",
        lang: str = "zh_CN",
        **answers: str,
    ) -> dict[str, Any]:
        """Order through the chat, answering every question of the form; returns the
        resident's confirmation message."""
        ans = {**ANSWERS[category], "urgency": urgency, **answers}
        if text is not None:
            ans["description"] = text
        self.past_the_evening(ans)
        p.say("/order")
        kinds = await p.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
        summary = await self.answer_form(p, kinds, category, ans, lang)
        confirm = next(d for _, d in buttons(summary) if d.startswith("d:ok:"))
        await p.press_data(summary, confirm)
        # The summary stays (without its buttons); the order's live card comes below it.
        await self.wait_edit(p.user_id, summary["message_id"], lambda m: not buttons(m))
        card = await self.emu.wait_for(
            p.user_id,
            lambda m: any(d.startswith("o:cancel:") for _, d in buttons(m)),
            WAIT,
            after_message_id=summary["message_id"],
        )
        p.seen = max(p.seen, max(m["message_id"] for m in p.chat()))
        return card

    async def card(self, order_id: int, pred: Any = None, timeout: float = WAIT) -> dict[str, Any]:
        """The resident's live card of an order, as the chat shows it now (once ``pred``
        holds: the outbox may still be editing it)."""
        from models import Order, OutboxMessage

        deadline = time.monotonic() + timeout
        while True:
            async with self.rt.db.read() as s:
                row = (
                    await s.execute(
                        select(OutboxMessage.chat_id, OutboxMessage.message_id)
                        .join(Order, Order.resident_card_id == OutboxMessage.id)
                        .where(Order.id == order_id)
                    )
                ).first()
            if row is not None and row[1] is not None:
                for m in self.emu.messages(row[0]):
                    if m["message_id"] == row[1] and (pred is None or pred(m)):
                        return m
            if time.monotonic() > deadline:
                raise TimeoutError(f"the card of order {order_id} never matched")
            await asyncio.sleep(0.02)

    def past_the_evening(self, answers: dict[str, str]) -> None:
        """After the day's last time window (21:00 local) "today" is not offered, nor a window
        that has ended: a test run in the evening that orders for today (the default) moves the
        bot's clock to the next morning first, so that it does not depend on the hour it runs."""
        from bot.services.orders.drafts import local_clock

        step = {s.key: s for s in form.COMMON_STEPS}
        now = local_clock(self.rt)
        urgency_ok = answers.get("urgency") in {
            c.value for c in form.offered(step["urgency"], answers, now)
        }
        window_ok = answers.get("time_window") in {
            c.value for c in form.offered(step["time_window"], answers, now)
        }
        if urgency_ok and window_ok:
            return
        # A bot in a child process keeps its own clock: its tests order "normal" instead.
        assert self.service is not None, "the evening: order 'normal' from a child bot's test"
        today = datetime.combine(self.rt.today(), dtime(8), tzinfo=ZoneInfo(self.rt.timezone))
        self.advance(seconds=(today + timedelta(days=1) - self.rt.clock.now()).total_seconds())

    async def wait_edit(
        self, chat_id: int, message_id: int, pred: Any, timeout: float = WAIT
    ) -> dict[str, Any]:
        """Wait until a given message (after edits) satisfies ``pred``."""
        deadline = time.monotonic() + timeout
        while True:
            for m in self.emu.messages(chat_id):
                if m["message_id"] == message_id and pred(m):
                    return m
            if time.monotonic() > deadline:
                current = [m for m in self.emu.messages(chat_id) if m["message_id"] == message_id]
                raise TimeoutError(f"message {message_id} in {chat_id} never matched: {current}")
            await asyncio.sleep(0.02)


async def run_to_door(
    h: Harness,
    order_id: int,
    runner_id: int,
    group: int,
    *,
    amount: str = "35.5",
    receipt: bool = True,
) -> dict[str, Any]:
    """A volunteer claims the task in the group and runs it to the door with the card's
    buttons, then 📦 with the proof the config asks for (a photo at the door, ``amount``, a
    receipt photo or Skip); returns the runner's card, as edited once delivered."""
    runner = h.person(runner_id)
    if not any(not m["outgoing"] for m in h.emu.messages(runner_id)):
        runner.say("/help")  # has a private chat with the bot, as approved volunteers do
    post = await h.emu.wait_for(
        group,
        lambda m: (
            f"#{order_id} " in text_of(m) and any(d == f"o:claim:{order_id}" for _, d in buttons(m))
        ),
    )
    await runner.press_data(post, f"o:claim:{order_id}")
    card = await h.emu.wait_for(
        runner_id, lambda m: f"o:rel:{order_id}" in str(m.get("reply_markup"))
    )
    # A task with nothing to buy (a parcel to pick up) has no 🛒 step.
    bought = f"o:buy:{order_id}" in str(card.get("reply_markup"))
    for verb, nxt in (("buy", "go"), ("go", "done"))[0 if bought else 1 :]:
        await runner.press_data(card, f"o:{verb}:{order_id}")
        card = await h.wait_edit(
            runner_id,
            card["message_id"],
            lambda m, n=nxt: f"o:{n}:{order_id}" in str(m.get("reply_markup")),
        )
    await deliver_with_proof(h, runner, card, order_id, amount=amount, receipt=receipt)
    return await h.wait_edit(
        runner_id, card["message_id"], lambda m: "o:done" not in str(m.get("reply_markup"))
    )


async def deliver_with_proof(
    h: Harness,
    runner: Person,
    card: dict[str, Any],
    order_id: int,
    *,
    amount: str = "35.5",
    receipt: bool = True,
) -> dict[str, Any]:
    """Press 📦 on the card and answer the proof-of-delivery questions the config asks (in
    zh_CN); returns the runner's "marked delivered" message."""
    from handlers import delivery

    asked = h.rt.settings.delivery
    await runner.press_data(card, f"o:done:{order_id}")
    if asked.doorstep_photo:
        await runner.expect(
            lambda m: f"#{order_id} " in text_of(m) and _ZH(delivery.ASK_PHOTO) in text_of(m)
        )
        h.emu.send_photo(runner.user_id, b"\x89PNG goods at the door")
    if asked.ask_amount:
        await runner.expect(_ZH(delivery.ASK_AMOUNT))
        runner.say(amount)
        if residents_owe(amount):
            prompt = await runner.expect(_ZH(delivery.ASK_RECEIPT))
            if receipt:
                h.emu.send_photo(runner.user_id, b"\x89PNG receipt")
            else:
                await runner.press(prompt, _ZH(delivery.SKIP))
    done = _ZH(delivery.DELIVERED).format(id=order_id)
    return await runner.expect(lambda m: text_of(m).startswith(done))


def door_photo(h: Harness) -> str:
    """A photo the emulator knows, as the proof of a delivery made through the services."""
    return h.emu.store_file("photo", b"\x89PNG at the door").file_id


def residents_owe(amount: str) -> bool:
    """Whether the runner typed a non-zero amount (then a receipt is asked for)."""
    from bot.services.amounts import parse_fen

    return parse_fen(amount) > 0


def png(width: int, height: int, rgb: tuple[int, int, int] = (0, 0, 0)) -> bytes:
    """A small but valid PNG of one colour, so the emulator and the page read real pictures."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def register_by_buttons(h: Harness, person: Person) -> dict[str, Any]:
    """The registration walked as a resident does it (the demo's 幸福小区 2栋 3单元 502, named
    周阿姨), up to the phone question, which is returned."""
    from handlers.registration import PHONE_WHY, WELCOME

    person.say("/start")
    await person.expect(Z(WELCOME))
    compounds = await person.expect(Z("Which compound (小区)?"))
    await person.press(compounds, "幸福小区")
    buildings = await h.wait_edit(
        person.user_id, compounds["message_id"], lambda m: "1栋" in str(m.get("reply_markup"))
    )
    await person.press(buildings, "2栋")
    units = await h.wait_edit(
        person.user_id,
        compounds["message_id"],
        lambda m: Z("{place}. Which unit (单元)?") in text_of(m),
    )
    await person.press(units, "3")
    await person.expect(Z("Your room number? For example 302."))
    person.say("502")
    await person.expect(Z("How should the volunteer call you? (your name, e.g. 周阿姨)"))
    person.say("周阿姨")
    return await person.expect(Z(PHONE_WHY))
