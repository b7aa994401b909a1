"""Group-buys under concurrency (issue 17), on SQLite and on a real PostgreSQL server: twenty
＋ at once by one household count twenty (none lost), or stop exactly at the limit; two
households pressing at once each keep their own count; twenty sweeps at once close a
group-buy once and owe staff one summary each; cards shown while it closes are all closed in
the end (kept and edited, or sent closed)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.runtime import Runtime
from bot.services.groupbuys import buys, merchants, orders, texts
from models import GroupBuy, GroupBuyItem, GroupBuyLine, Merchant, OutboxMessage
from tests.factories import STAFF
from tests.unit.test_caps_concurrent import ATTEMPTS, _resident

if TYPE_CHECKING:
    from tests.postgres import Cluster  # noqa: F401  (the plugin below provides its fixtures)

pytest_plugins = ["tests.postgres"]


@pytest.fixture(params=["sqlite", "postgres"])
def any_rt(request: pytest.FixtureRequest) -> Runtime:
    rt: Runtime = request.getfixturevalue("rt" if request.param == "sqlite" else "pg_rt")
    return rt


async def _open(rt: Runtime, limit: int) -> dict[str, int]:
    """爱心超市 and its list; a group-buy for 幸福小区 2栋; its items' ids by name."""
    async with rt.db.session() as s:
        await merchants.add(
            s,
            rt.clock,
            None,
            name="爱心超市",
            kind="超市",
            contact_telegram_id=555,
            communities=["xingfu"],
        )
    async with rt.db.session() as s:
        m = await s.scalar(select(Merchant))
        assert m is not None
        result = await merchants.import_products(
            s, rt.clock, None, m, "name,unit,price\n白菜,斤,3.50\n鸡蛋,盒,12\n"
        )
        assert not result.errors
    local = rt.clock.now().astimezone(ZoneInfo(rt.timezone)) + timedelta(hours=2)
    day = (local + timedelta(days=1)).strftime("%Y-%m-%d")
    async with rt.db.session() as s:
        await buys.open_from_args(
            rt,
            s,
            STAFF,
            [
                "爱心超市",
                "xf2",
                local.strftime("%Y-%m-%d"),
                local.strftime("%H:%M"),
                day,
                f"白菜:{limit}",
                "鸡蛋",
            ],
        )
    async with rt.db.read() as s:
        return {i.name: i.id for i in await s.scalars(select(GroupBuyItem))}


async def _press(rt: Runtime, tid: int, item_id: int) -> buys.Card:
    async with rt.db.session() as s:
        return await buys.change(rt, s, tid, item_id, 1)


async def _quantity(rt: Runtime, item_id: int) -> int:
    async with rt.db.read() as s:
        return int(
            await s.scalar(
                select(func.coalesce(func.sum(GroupBuyLine.quantity), 0)).where(
                    GroupBuyLine.item_id == item_id
                )
            )
            or 0
        )


async def test_twenty_presses_at_once_lose_no_count(any_rt: Runtime) -> None:
    rt = any_rt
    await _resident(rt, 1001, "501")
    await _resident(rt, 1002, "502")
    items = await _open(rt, 99)
    cards = await asyncio.gather(
        *(_press(rt, 1001 if i % 2 else 1002, items["白菜"]) for i in range(ATTEMPTS))
    )
    assert all(c.note is None for c in cards)
    assert await _quantity(rt, items["白菜"]) == ATTEMPTS
    async with rt.db.read() as s:
        rows = (await s.scalars(select(GroupBuyLine.quantity))).all()
    assert sorted(rows) == [ATTEMPTS // 2, ATTEMPTS // 2]  # one line per household


async def test_presses_at_once_stop_exactly_at_the_limit(any_rt: Runtime) -> None:
    rt = any_rt
    await _resident(rt, 1001)
    items = await _open(rt, 5)
    cards = await asyncio.gather(*(_press(rt, 1001, items["白菜"]) for _ in range(ATTEMPTS)))
    assert await _quantity(rt, items["白菜"]) == 5
    assert sum(c.note == texts.AT_LIMIT for c in cards) == ATTEMPTS - 5


async def test_twenty_sweeps_at_once_close_it_once(any_rt: Runtime) -> None:
    rt = any_rt
    await _resident(rt, 1001)
    items = await _open(rt, 5)
    await _press(rt, 1001, items["鸡蛋"])
    rt.clock.advance(timedelta(hours=2, minutes=1))  # type: ignore[attr-defined]
    fired = await asyncio.gather(*(orders.close_due(rt) for _ in range(ATTEMPTS)))
    assert sum(fired) == 1
    async with rt.db.read() as s:
        gb = await s.scalar(select(GroupBuy))
        assert gb is not None and gb.status == "closed"
        summaries = await s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.chat_id == STAFF, OutboxMessage.text.contains("团购 #1"))
        )
    assert summaries == 1
    # After the deadline a press changes nothing.
    late = await _press(rt, 1001, items["鸡蛋"])
    assert late.note == texts.CLOSED_ALERT and not late.is_open
    assert await _quantity(rt, items["鸡蛋"]) == 1


async def _show_card(rt: Runtime, card: buys.Card, tid: int) -> None:
    from bot.services.groupbuys import kept

    async with rt.db.session() as s:
        await kept.send_card(rt, s, card, tid)


async def test_cards_shown_while_it_closes_are_all_closed(any_rt: Runtime) -> None:
    """Cards read open just before the deadline and sent while the sweep closes it: each
    one is either kept and edited closed by the close, or sent closed; none keeps ＋/－."""
    from models import OutboxKind

    rt = any_rt
    await _resident(rt, 1001)
    items = await _open(rt, 5)
    await _press(rt, 1001, items["鸡蛋"])
    async with rt.db.read() as s:
        gb = await s.scalar(select(GroupBuy))
        assert gb is not None
        resident = await buys._household(s, 1001, gb)
        card = await buys.card_of(rt, s, gb, resident.id)
    assert card.is_open
    rt.clock.advance(timedelta(hours=2, minutes=1))  # type: ignore[attr-defined]
    jobs = [_show_card(rt, card, 1001) for _ in range(ATTEMPTS)]
    await asyncio.gather(*jobs[: ATTEMPTS // 2], orders.close_due(rt), *jobs[ATTEMPTS // 2 :])
    async with rt.db.read() as s:
        sent = list(
            await s.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.chat_id == 1001, OutboxMessage.kind == OutboxKind.SEND
                )
            )
        )
        edited = set(
            await s.scalars(
                select(OutboxMessage.edit_of).where(
                    OutboxMessage.chat_id == 1001, OutboxMessage.kind == OutboxKind.EDIT
                )
            )
        )
    cards = [m for m in sent if "鸡蛋 ×1" in m.text]
    assert len(cards) == ATTEMPTS
    with_buttons = [m for m in cards if m.buttons]
    assert all(m.id in edited for m in with_buttons)
    assert all("gb:a:" not in str(m.buttons) for m in cards if m.id not in edited)
