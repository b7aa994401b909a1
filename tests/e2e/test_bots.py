"""One deployment, a bot per community: two bots (A serves 幸福社区, B serves 和平社区) on one
database against the emulator. Residents register through their own community's bot (another
community's poster is sent to its own bot), an order in B flows through bot B only, a district
notice from an admin reaches every household of both communities through its own community's
bot exactly once, the admin's /stats covers both, and update ids that the two bots share are
each processed (the inbox is keyed by bot). Volunteers sign up for their bot's grids; posters
link to their community's bot."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import OffsetClock
from bot.config import BotEntry
from bot.db import Database
from bot.runtime import Runtime
from bot.seed import DEMO, Demo, DemoGrid, ensure_admins, seed_demo
from bot.services import residents, setup
from handlers.bots import Bots, BotSpec
from handlers.main import open_private_chats, populate_emulator
from handlers.transport import CALLS_IN_TRANSACTION
from models import ChatBot, Grid, InboxUpdate, OutboxMessage, OutboxStatus, Resident
from tests.child_bot import ChildBot
from tests.conftest import EXAMPLE
from tests.factories import Harness, Person, Z, buttons, text_of
from tests.waiting import until

pytest_plugins = ["tests.postgres"]

TOKEN_A = "100000201:BOT-A-TOKEN"
TOKEN_B = "100000202:BOT-B-TOKEN"
HEPING = Demo(
    community="和平社区",
    code="heping",
    grids=[
        DemoGrid(
            "东网格",
            -1002000000001,
            "和平社区·东网格 跑腿群",
            [("和平花园", "1栋", "hpg1", 2), ("和平花园", "2栋", "hpg2", 1)],
            [(3001, "孙强"), (3002, "周敏")],
        )
    ],
    staff=[(9101, "钱主任")],
    residents=[(1101, "郑阿姨")],
)
ADMIN = 9999  # district staff: no community
GROUP_A, GROUP_B = DEMO.grids[0].group_chat_id, HEPING.grids[0].group_chat_id
NEEDLE = "全区通知：明天全员核酸"


class BotView:
    """The emulator as one bot's users see it: every call on that bot's chats."""

    def __init__(self, emu: Any, token: str) -> None:
        self.emu, self.token = emu, token

    def __getattr__(self, name: str) -> Any:
        return getattr(self.emu, name)

    def send_text(self, *a: Any, **k: Any) -> Any:
        return self.emu.send_text(*a, token=self.token, **k)

    def send_contact(self, *a: Any, **k: Any) -> Any:
        return self.emu.send_contact(*a, token=self.token, **k)

    def press(self, *a: Any, **k: Any) -> Any:
        return self.emu.press(*a, token=self.token, **k)

    def messages(self, *a: Any, **k: Any) -> Any:
        return self.emu.messages(*a, token=self.token, **k)

    async def wait_for(self, *a: Any, **k: Any) -> Any:
        return await self.emu.wait_for(*a, token=self.token, **k)


@dataclass
class District:
    bots: Bots
    rt: Runtime
    emu: Any
    a: Harness
    b: Harness

    async def settle(self) -> None:
        await self.bots.idle()
        await self.bots.drain()


@pytest.fixture
async def district(
    rt: Runtime, emu: Any, request: pytest.FixtureRequest
) -> AsyncIterator[District]:
    rt.settings = rt.settings.model_copy(
        update={
            "bots": [
                BotEntry(name="a", token_env="A", username="paotui_a_bot", communities=["xingfu"]),
                BotEntry(name="b", token_env="B", username="paotui_b_bot", communities=["heping"]),
            ]
        }
    )
    async with rt.db.session() as s:
        await seed_demo(s, rt.clock, HEPING)
        await ensure_admins(s, rt.clock, [ADMIN])
    populate_emulator(emu, TOKEN_A, DEMO, username="paotui_a_bot")
    populate_emulator(emu, TOKEN_B, HEPING, username="paotui_b_bot")
    # The volunteers and staff of each community have started their own bot (not the other).
    open_private_chats(emu, TOKEN_A, DEMO)
    open_private_chats(emu, TOKEN_B, HEPING)
    emu.create_user(ADMIN, first_name="区管理员")
    bots = Bots(
        rt,
        [
            BotSpec("a", TOKEN_A, "paotui_a_bot", frozenset({"xingfu"})),
            BotSpec("b", TOKEN_B, "paotui_b_bot", frozenset({"heping"})),
        ],
        base_url=emu.base_url,
        base_file_url=emu.base_file_url,
        time_scale=emu.time_scale,
    )
    a, b = bots.services
    await bots.adopt()  # the people seeded above, known before they write
    for service in bots.services:
        await service.start()
    CALLS_IN_TRANSACTION.clear()
    d = District(
        bots, rt, emu, Harness(a, rt, BotView(emu, TOKEN_A)), Harness(b, rt, BotView(emu, TOKEN_B))
    )
    try:
        yield d
    finally:
        for service in bots.services:
            await service.stop()
        await bots.close()
    assert not CALLS_IN_TRANSACTION, CALLS_IN_TRANSACTION
    for token in (TOKEN_A, TOKEN_B):
        assert not emu.bot(token).limiter.refused_ever, "a bot exceeded Telegram's limits"


async def _register_by_link(p: Person, code: str, phone: str) -> None:
    """/start b_<code> of a poster, then unit 1 (if asked), room, name and phone."""
    p.say(f"/start b_{code}")
    unit = await p.expect(lambda m: "r:u:" in str(m.get("reply_markup")) or "302" in text_of(m))
    if "r:u:" in str(unit.get("reply_markup")):
        await p.press_data(unit, "r:u:1")
        await p.expect(Z("Your room number? For example 302."))
    p.say("101")
    await p.expect(Z("How should the volunteer call you? (your name, e.g. 周阿姨)"))
    p.say(f"住户{p.user_id}")
    await p.expect(lambda m: "📱" in str(m.get("reply_markup")) or "phone" in str(m))
    p.contact(phone)


async def _registered(rt: Runtime, tid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        async with rt.db.read() as s:
            if await s.scalar(select(Resident.id).where(Resident.telegram_id == tid)):
                return
        assert time.monotonic() < deadline, f"{tid} never registered"
        await asyncio.sleep(0.05)


async def _more_households(d: District, h: Harness, ids: list[int], code: str) -> None:
    """Households registered by the service, each having talked to its own bot once."""
    from bot.services import directory

    for tid in ids:
        p = h.person(tid, f"住户{tid}")
        p.say("/help")
        await p.expect(lambda m: True)  # its bot has it
        async with d.rt.db.session() as s:
            b = await directory.building_by_code(s, code)
            assert b is not None
            await residents.register(
                s,
                d.rt.clock,
                telegram_id=tid,
                name=f"住户{tid}",
                phone=f"1380000{tid:04d}",
                building_id=b.id,
                unit="1",
                room="101",
            )


def _sent_by(emu: Any, token: str, chat_id: int) -> list[dict[str, Any]]:
    """What this bot wrote in a chat (a group: the messages it sent there)."""
    bot_id = emu.bot(token).id
    return [
        m
        for m in emu.messages(chat_id, token=token)
        if m["outgoing"] and m.get("from", {}).get("id") == bot_id
    ]


async def test_a_bot_per_community(district: District) -> None:
    d, emu = district, district.emu
    # Registration through the community's own bot: B serves one community, so no choice of
    # community; a poster of A's building sent to B names A's bot.
    stranger = d.b.person(1102, "冯先生")
    stranger.say("/start b_xf1")
    await stranger.expect(lambda m: "@paotui_a_bot" in text_of(m) and "幸福社区" in text_of(m))
    zheng = d.b.person(1101, "郑阿姨")
    zheng.say("/start")
    compounds = await zheng.expect(Z("Which compound (小区)?"))
    assert [label for label, _ in buttons(compounds)] == ["和平花园"]
    zhou = d.a.person(1001, "周阿姨")
    await _register_by_link(zhou, "xf1", "13800001001")
    wu = d.b.person(1103, "吴先生")
    await _register_by_link(wu, "hpg2", "13800001103")
    await _registered(d.rt, 1001)
    await _registered(d.rt, 1103)
    await _more_households(d, d.a, [1004, 1005], "xf2")
    await _more_households(d, d.b, [1104, 1105], "hpg1")
    await d.settle()
    async with d.rt.db.read() as s:
        mapped = {chat: bot for chat, bot in await s.execute(select(ChatBot.chat_id, ChatBot.bot))}
    assert {mapped[t] for t in (1001, 1004, 1005)} == {"a"}
    assert {mapped[t] for t in (1101, 1102, 1103, 1104, 1105)} == {"b"}

    # A volunteer signing up with bot B chooses among B's grids only; a forged press for A's
    # grid is refused.
    helper = d.b.person(3101, "小冯")
    helper.say("/volunteer")
    await helper.expect(lambda m: "/cancel" in text_of(m))
    helper.say("小冯")
    await helper.expect(
        Z("Your phone number? Only staff and the residents whose task you take can see it.")
    )
    helper.contact("13600003101")
    grids = await helper.expect(lambda m: any(d.startswith("j:g:") for _, d in buttons(m)))
    async with d.rt.db.read() as s:
        grid_ids = {name: gid for name, gid in await s.execute(select(Grid.name, Grid.id))}
    assert [data for _, data in buttons(grids)] == [f"j:g:{grid_ids['东网格']}"]
    forged = await helper.press_data(grids, f"j:g:{grid_ids['第一网格']}", force=True)
    assert forged is not None and forged.get("show_alert")

    # An order in B: through bot B only; its task posted in B's group by bot B.
    before_a = emu.stats(TOKEN_A)["sent"]
    wu_b = Person(d.b.emu, 1103, seen=max(m["message_id"] for m in wu.chat()))
    await d.b.order(wu_b)
    post = await emu.wait_for(GROUP_B, lambda m: "o:claim:" in str(m.get("reply_markup")))
    assert post["from"]["id"] == emu.bot(TOKEN_B).id
    # A volunteer of B claims in the group: the task card reaches them privately from bot B
    # (their private chat, new to the deployment, goes through the group's bot).
    claim = next(data for _, data in buttons(post) if data.startswith("o:claim:"))
    await Person(d.b.emu, 3001).press_data(post, claim)
    await d.settle()
    assert _sent_by(emu, TOKEN_B, 3001), "the runner's card from bot B"
    assert emu.stats(TOKEN_A)["sent"] == before_a, "bot A sent nothing for B's order"
    assert not _sent_by(emu, TOKEN_A, GROUP_B)

    # A district notice from an admin (through bot A): every household of both communities
    # gets it once, from its own community's bot.
    admin = d.a.person(ADMIN)
    admin.say("/notice")
    whom = await admin.expect(lambda m: "n:a:everyone" in str(buttons(m)))
    await admin.press_data(whom, "n:a:everyone")
    await until(
        lambda: any(not buttons(m) for m in emu.messages(ADMIN, token=TOKEN_A)[-1:]),
        "the notice's question",
    )
    admin.say(NEEDLE)
    preview = await admin.expect(lambda m: "n:send" in str(buttons(m)))
    await admin.press_data(preview, "n:send")
    await d.settle()
    households = {"a": [1001, 1004, 1005], "b": [1103, 1104, 1105]}
    for name, token, other in (("a", TOKEN_A, TOKEN_B), ("b", TOKEN_B, TOKEN_A)):
        for tid in households[name]:
            mine = [m for m in _sent_by(emu, token, tid) if NEEDLE in text_of(m)]
            theirs = [m for m in _sent_by(emu, other, tid) if NEEDLE in text_of(m)]
            assert (len(mine), len(theirs)) == (1, 0), (tid, name, len(mine), len(theirs))
    assert all(s.dispatcher.sent_count for s in d.bots.services), "each bot sent its own"
    for group, other in ((GROUP_A, TOKEN_B), (GROUP_B, TOKEN_A)):
        assert not [m for m in _sent_by(emu, other, group) if NEEDLE in text_of(m)]

    # The admin's /stats covers both communities (B's grid and its order); A's staff sees A's.
    admin.say("/stats")
    stats = await admin.expect(lambda m: "📊" in text_of(m))
    assert "东网格" in text_of(stats) and "：1 单" in text_of(stats).splitlines()[0]
    boss_a = d.a.person(DEMO.staff[0][0])
    boss_a.say("/stats")
    theirs = await boss_a.expect(lambda m: "📊" in text_of(m))
    assert "东网格" not in text_of(theirs) and "：0 单" in text_of(theirs).splitlines()[0]
    async with d.rt.db.read() as s:
        failed = await s.scalar(
            select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.FAILED).limit(1)
        )
    assert failed is None, "every message went through a bot its chat started"

    # Each community's posters link to its own bot.
    async with d.rt.db.read() as s:
        posters = setup.for_bots(await setup.posters(s), d.rt.settings)
    assert {p.code: p.bot for p in posters if p.code in ("xf1", "hpg1")} == {
        "xf1": "paotui_a_bot",
        "hpg1": "paotui_b_bot",
    }
    assert setup.start_link("paotui_b_bot", "hpg1") == "https://t.me/paotui_b_bot?start=b_hpg1"

    # Both bots numbered their updates from 1: the same ids, each processed once per bot.
    async with d.rt.db.read() as s:
        rows = list(await s.execute(select(InboxUpdate.bot, InboxUpdate.update_id)))
        left = await s.scalar(
            select(InboxUpdate.update_id).where(InboxUpdate.processed_at.is_(None)).limit(1)
        )
    ids = {name: {uid for bot, uid in rows if bot == name} for name in ("a", "b")}
    assert ids["a"] & ids["b"] and left is None
    assert 1 in ids["a"] and 1 in ids["b"]


def _child_env(rt: Runtime, emu: Any, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAOTUI_")}
    return {
        **env,
        "PAOTUI_CONFIG": str(config),
        "PAOTUI_BOT_A_TOKEN": TOKEN_A,
        "PAOTUI_BOT_B_TOKEN": TOKEN_B,
        "PAOTUI_BOT__API_BASE_URL": emu.base_url,
        "PAOTUI_BOT__API_FILE_URL": emu.base_file_url,
        "PAOTUI_BOT__POLL_TIMEOUT": "2",
        "PAOTUI_DATABASE__URL": rt.settings.database.url,
        "PAOTUI_REPORTS__DAILY_SUMMARY_AT": "",
    }


def _config(tmp_path: Path, b_serves: str) -> Path:
    bots = "".join(
        f'\n[[bots]]\nname = "{n}"\ntoken_env = "PAOTUI_BOT_{n.upper()}_TOKEN"\n'
        f'username = "paotui_{n}_bot"\ncommunities = ["{code}"]\n'
        for n, code in (("a", "xingfu"), ("b", b_serves))
    )
    path = tmp_path / "config.toml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8") + bots, encoding="utf-8")
    return path


@pytest.mark.long
async def test_paotui_run_serves_each_community_through_its_bot(
    rt: Runtime, emu: Any, tmp_path: Path
) -> None:
    """The real `paotui run` with two `[[bots]]` and their tokens in the environment: each bot
    answers its own community's people; a community no bot serves stops the start (exit 2)."""
    async with rt.db.session() as s:
        await seed_demo(s, rt.clock, HEPING)
    populate_emulator(emu, TOKEN_A, DEMO, username="paotui_a_bot")
    populate_emulator(emu, TOKEN_B, HEPING, username="paotui_b_bot")
    async with ChildBot(_child_env(rt, emu, _config(tmp_path, "nowhere"))) as child:
        assert child.proc is not None
        assert await asyncio.wait_for(child.proc.wait(), 90) == 2
    assert any("no bot serves the communities heping" in line for line in child.lines)
    async with ChildBot(_child_env(rt, emu, _config(tmp_path, "heping"))) as child:
        await child.wait_line("bot started as @paotui_b_bot")
        for token, tid in ((TOKEN_A, 1001), (TOKEN_B, 1101)):
            emu.send_text(tid, "/help", token=token)
            reply = await emu.wait_for(tid, lambda m: True, 30, token=token)
            assert reply["from"]["id"] == emu.bot(token).id
        assert await child.stop() == 0


@pytest.mark.long
async def test_two_instances_share_out_the_bots(pg_rt: Runtime, pg_url: str, emu: Any) -> None:
    """PostgreSQL, two instances of a two-bot deployment: the first leads both bots until the
    second starts, then each leads one (both bots answer); when one stops, the other leads
    both again."""
    async with pg_rt.db.session() as s:
        await seed_demo(s, pg_rt.clock, HEPING)
    populate_emulator(emu, TOKEN_A, DEMO, username="paotui_a_bot")
    populate_emulator(emu, TOKEN_B, HEPING, username="paotui_b_bot")
    specs = [
        BotSpec("a", TOKEN_A, "paotui_a_bot", frozenset({"xingfu"})),
        BotSpec("b", TOKEN_B, "paotui_b_bot", frozenset({"heping"})),
    ]
    runtimes = [pg_rt, Runtime(pg_rt.settings, Database(pg_url), OffsetClock())]
    instances: list[Bots] = []

    def leads() -> list[int]:
        return [sum(s.leadership.leading for s in bots.services) for bots in instances]

    try:
        for rt in runtimes:
            bots = Bots(
                rt,
                specs,
                base_url=emu.base_url,
                base_file_url=emu.base_file_url,
                time_scale=emu.time_scale,
            )
            instances.append(bots)
            for service in bots.services:
                service.leader_check_seconds = 0.3
                await service.start()
            if len(instances) == 1:
                assert leads() == [2]
        await until(lambda: sorted(leads()) == [1, 1], "each instance leading one bot", 20)
        for token, tid in ((TOKEN_A, 1001), (TOKEN_B, 1101)):
            emu.send_text(tid, "/help", token=token)
            reply = await emu.wait_for(tid, lambda m: True, 30, token=token)
            assert reply["from"]["id"] == emu.bot(token).id
        for service in instances[0].services:
            await service.stop()
        await instances[0].close()
        await until(lambda: leads()[1] == 2, "the other instance leading both", 20)
    finally:
        for bots in instances:
            for service in bots.services:
                await service.stop()
            await bots.close()
        await runtimes[1].db.dispose()
