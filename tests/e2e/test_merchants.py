"""Issue 17 follow-up: community staff add and manage partner merchants in the bot (/merchants),
not only with `paotui merchant add`. Added by typing and by buttons (a bad name or id asked
again, ✖️ at a step, a stale ✅); seen in /merchants with its products, communities and contact;
its product list imported in the bot and a group-buy opened with it; its contact learning their
id from /merchant and told when added or replaced; another community's staff neither seeing nor
changing it; grid leaders and residents refused; taken off a community only when no group-buy
of it is unfinished there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.i18n import gettext_for
from bot.seed import ensure_admins
from bot.services.groupbuys import merchant_staff as ms
from handlers import merchants as h_m
from handlers.groupbuys import CONTACT_OF, NOT_A_CONTACT
from handlers.privately import SENT_PRIVATELY
from models import AuditEntry, Community, Merchant, MerchantCommunity, Staff, StaffRole
from tests.conftest import make_settings
from tests.e2e.test_groupbuys import GOOD_CSV, import_by_bot
from tests.factories import GROUP_1, GROUP_2, STAFF, Harness, Person, Z, buttons, text_of

ZH = gettext_for("zh_CN")
CONTACT, CONTACT_2 = 6101, 6102
ADMIN, B_STAFF = 9100, 7001  # an admin; community staff of 阳光社区


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, limits={"messages_per_minute": 600})


def data(msg: dict[str, Any]) -> list[str]:
    return [d for _, d in buttons(msg)]


async def served(h: Harness) -> dict[str, tuple[str, int, list[str]]]:
    """Each merchant: kind, contact, the codes of the communities it serves."""
    async with h.rt.db.read() as s:
        out: dict[str, tuple[str, int, list[str]]] = {}
        for m in await s.scalars(select(Merchant).order_by(Merchant.id)):
            codes = await s.scalars(
                select(Community.code)
                .join(MerchantCommunity, MerchantCommunity.community_id == Community.id)
                .where(MerchantCommunity.merchant_id == m.id)
                .order_by(Community.id)
            )
            out[m.name] = (m.kind, m.contact_telegram_id, list(codes))
        return out


async def community_b(h: Harness) -> Person:
    """阳光社区 with its own community staff, and an admin (both have talked to the bot)."""
    async with h.rt.db.session() as s:
        await ensure_admins(s, h.rt.clock, [ADMIN])
        c = Community(code="yangguang", name="阳光社区", created_at=h.rt.clock.now())
        s.add(c)
        await s.flush()
        s.add(Staff(telegram_id=B_STAFF, name="孙主任", role=StaffRole.COMMUNITY,
                    community_id=c.id, created_at=h.rt.clock.now()))  # fmt: skip
    for tid, name in ((B_STAFF, "孙主任"), (ADMIN, "管理员")):
        p = h.person(tid, name)
        p.say("/help")
        await p.expect(lambda m: True)
    return h.person(B_STAFF)


async def started(h: Harness, user_id: int, name: str) -> Person:
    """Someone who has talked to the bot (so it may write to them)."""
    p = h.person(user_id, name)
    p.say("/help")
    await p.expect(lambda m: True)
    return p


def no_id_in_groups(h: Harness, *ids: int) -> None:
    for group in (GROUP_1, GROUP_2):
        for m in h.emu.messages(group):
            assert not any(str(i) in text_of(m) for i in ids), text_of(m)


async def test_staff_add_a_merchant_by_typing_then_import_and_open_a_group_buy(
    harness: Harness,
) -> None:
    h = harness
    staff = h.person(STAFF)
    boss = await started(h, CONTACT, "刘老板")
    # Not a merchant's contact yet: /merchant tells them their id, for the staff.
    boss.say("/merchant")
    told = await boss.expect(lambda m: str(CONTACT) in text_of(m))
    assert text_of(told) == ZH(NOT_A_CONTACT).format(id=CONTACT)
    assert "请把这个号码告诉社区工作人员：6101" in text_of(told)

    # None yet: the empty list says how to add one.
    staff.say("/merchants")
    empty = await staff.expect(lambda m: Z(h_m.NONE_YET) in text_of(m))
    # Typed in Chinese as the screen shows it ("add" works too, below).
    assert "/merchants 添加" in text_of(empty) and data(empty) == [h_m.ADD.data()]

    # Bad input: told, nothing added.
    staff.say("/merchants add 爱心超市 超市 abc")
    await staff.expect(Z(ms.NOT_AN_ID))
    staff.say("/merchants add 爱心超市")
    await staff.expect(lambda m: "/merchants 添加" in text_of(m))
    staff.say("/merchants add 爱心超市 超市 6101 nowhere")
    await staff.expect(lambda m: "nowhere" in text_of(m))
    assert await served(h) == {}

    staff.say("/merchants 添加 爱心超市 超市 6101")
    added = await staff.expect(lambda m: "✅ 已添加" in text_of(m))
    assert "爱心超市（超市）" in text_of(added) and "幸福社区" in text_of(added)
    assert await served(h) == {"爱心超市": ("超市", CONTACT, ["xingfu"])}
    async with h.rt.db.read() as s:
        audit = await s.scalar(select(AuditEntry).where(AuditEntry.action == "merchant.added"))
        assert audit is not None and audit.actor_telegram_id == STAFF
    # The contact is told, privately, what they now are and how the product list comes.
    news = await boss.expect(lambda m: "爱心超市" in text_of(m))
    assert text_of(news) == ZH(ms.CONTACT_TOLD).format(merchant="爱心超市", communities="幸福社区")
    assert "商家 爱心超市" in text_of(news)
    boss.say("/merchant")
    mine = await boss.expect(lambda m: "爱心超市" in text_of(m))
    assert ZH(CONTACT_OF).format(merchants="爱心超市") in text_of(mine)

    # Its product list, sent in the bot; /merchants counts it, 📦 shows it.
    await import_by_bot(h, staff, GOOD_CSV)
    staff.say("/merchants")
    listing = await staff.expect(lambda m: ZH(h_m.TITLE).format(n=1) in text_of(m))
    assert "• 爱心超市（超市） · 3 种商品 · 幸福社区 · 联系人：6101" in text_of(listing)
    await staff.press(listing, ZH(h_m.PRODUCTS_LABEL).format(merchant="爱心超市"))
    products = await h.wait_edit(
        STAFF, listing["message_id"], lambda m: "白菜 ¥3.50/斤" in text_of(m)
    )
    assert "商家 爱心超市" in text_of(products)
    await staff.press(products, Z(h_m.BACK_LABEL))
    await h.wait_edit(STAFF, listing["message_id"], lambda m: "3 种商品" in text_of(m))

    # A group-buy with it, as staff open one.
    await h.register(3001, "甲", "xf1", "1", "101")
    deadline = (h.rt.clock.now() + timedelta(hours=3)).astimezone(ZoneInfo(h.rt.timezone))
    day = (deadline + timedelta(days=1)).strftime("%Y-%m-%d")
    staff.say(f"/groupbuy 爱心超市 xf1 {deadline:%Y-%m-%d %H:%M} {day} 白菜:3")
    await staff.expect(lambda m: "团购 #1" in text_of(m))

    # Re-added with another contact: updated (as the CLI does); both contacts told.
    other = await started(h, CONTACT_2, "王店长")
    staff.say("/merchants add 爱心超市 超市 6102")
    await staff.expect(lambda m: "✅ 已更新" in text_of(m))
    assert await served(h) == {"爱心超市": ("超市", CONTACT_2, ["xingfu"])}
    await other.expect(ZH(ms.CONTACT_TOLD).format(merchant="爱心超市", communities="幸福社区"))
    await boss.expect(ZH(ms.CONTACT_ENDED).format(merchant="爱心超市"))
    # /merchants sent in a group is answered in the private chat; the group sees no id.
    h.emu.add_member(GROUP_1, STAFF)
    staff.say("/merchants", chat_id=GROUP_1)
    await staff.expect(lambda m: "联系人：6102" in text_of(m))
    await h.emu.wait_for(GROUP_1, ZH(SENT_PRIVATELY))
    await h.settle()
    no_id_in_groups(h, CONTACT, CONTACT_2)


async def test_staff_add_a_merchant_by_buttons(harness: Harness) -> None:
    h = harness
    staff = h.person(STAFF)
    boss = await started(h, CONTACT, "刘老板")
    staff.say("/merchants")
    empty = await staff.expect(lambda m: Z(h_m.NONE_YET) in text_of(m))

    # ✖️ at the first step: nothing added.
    ask_name = ZH(h_m.ASK_NAME).format(community="幸福社区")
    await staff.press(empty, Z(h_m.ADD_LABEL))  # the list becomes the first question
    ask = await h.wait_edit(STAFF, empty["message_id"], lambda m: ask_name in text_of(m))
    await staff.press(ask, Z("✖️ Cancel"))
    await h.wait_edit(STAFF, ask["message_id"], lambda m: Z(h_m.STOPPED) in text_of(m))
    staff.say("放心药店")  # the flow is over: not taken as a name
    await h.settle()
    assert await served(h) == {}

    staff.say("/merchants")
    empty = await staff.expect(lambda m: Z(h_m.NONE_YET) in text_of(m))
    await staff.press(empty, Z(h_m.ADD_LABEL))
    await h.wait_edit(STAFF, empty["message_id"], lambda m: ask_name in text_of(m))
    staff.say("药" * 65)  # too long: said, and asked again
    again = await staff.expect(
        lambda m: ZH(h_m.ASK_NAME).format(community="幸福社区") in text_of(m)
    )
    assert "64" in text_of(again)
    staff.say("放心药店")
    kind = await staff.expect(ZH(h_m.ASK_KIND).format(merchant="放心药店"))
    await h.settle()
    await h.restart()  # the answers so far are kept: the flow goes on after a restart
    await staff.press(kind, "药店")
    await h.wait_edit(
        STAFF,
        kind["message_id"],
        lambda m: ZH(h_m.ASK_CONTACT).format(merchant="放心药店") in text_of(m),
    )
    staff.say("61o1")  # not a number: asked again, the name and kind kept
    bad = await staff.expect(lambda m: Z(ms.NOT_AN_ID) in text_of(m))
    assert ZH(h_m.ASK_CONTACT).format(merchant="放心药店") in text_of(bad)
    staff.say("６１０１")  # full-width, as a Chinese keyboard may type it: read as 6101
    sure = await staff.expect(lambda m: h_m.OK.data() in data(m))
    assert "放心药店（药店） · 幸福社区" in text_of(sure) and "6101" in text_of(sure)
    assert await served(h) == {}
    await staff.press(sure, Z(h_m.ADD_OK))
    await h.wait_edit(STAFF, sure["message_id"], lambda m: "✅ 已添加" in text_of(m))
    assert await served(h) == {"放心药店": ("药店", CONTACT, ["xingfu"])}
    await boss.expect(lambda m: "放心药店" in text_of(m))
    # The finished flow's ✅ acts on nothing.
    stale = await staff.press_data(sure, h_m.OK.data(), force=True)
    assert stale is not None and stale.get("show_alert")
    assert await h.count(Merchant) == 1

    # 👤: a new contact, a bad id asked again.
    staff.say("/merchants")
    listing = await staff.expect(lambda m: "放心药店" in text_of(m))
    await staff.press(listing, ZH(h_m.CONTACT_LABEL).format(merchant="放心药店"))
    await h.wait_edit(
        STAFF,
        listing["message_id"],
        lambda m: ZH(h_m.ASK_CONTACT).format(merchant="放心药店") in text_of(m),
    )
    staff.say("abc")
    await staff.expect(lambda m: Z(ms.NOT_AN_ID) in text_of(m))
    staff.say("6102")
    await staff.expect(lambda m: "6102" in text_of(m) and "放心药店" in text_of(m))
    assert (await served(h))["放心药店"][1] == CONTACT_2
    await boss.expect(ZH(ms.CONTACT_ENDED).format(merchant="放心药店"))


async def test_other_communities_and_grid_leaders(harness: Harness) -> None:
    h = harness
    staff = h.person(STAFF)
    b_staff = await community_b(h)
    staff.say("/merchants add 爱心超市 超市 6101")
    await staff.expect(lambda m: "✅ 已添加" in text_of(m))

    # 阳光社区's staff: not in their list, its buttons refused, its name not theirs to take.
    b_staff.say("/merchants")
    await b_staff.expect(ZH(h_m.NONE_YET))
    for forged in ("mc:p:1", "mc:rm:1:1", "mc:rmy:1:1", "mcn:ct:1"):
        said = await b_staff.press_data(b_staff.chat()[-1], forged, force=True)
        assert said is not None and said.get("show_alert"), forged
    b_staff.say("/merchants add 爱心超市 超市 7777")
    await b_staff.expect(ZH(ms.NAME_TAKEN).format(merchant="爱心超市"))
    b_staff.say("/merchants add 爱心超市 超市 7777 xingfu")
    await b_staff.expect(Z(ms.NOT_YOUR_COMMUNITY))
    assert await served(h) == {"爱心超市": ("超市", CONTACT, ["xingfu"])}
    # … nor by buttons: the name is refused at its step and asked again.
    b_staff.say("/merchants")
    empty = await b_staff.expect(ZH(h_m.NONE_YET))
    await b_staff.press(empty, Z(h_m.ADD_LABEL))
    ask_name = ZH(h_m.ASK_NAME).format(community="阳光社区")
    await h.wait_edit(B_STAFF, empty["message_id"], lambda m: ask_name in text_of(m))
    b_staff.say("爱心超市")
    again = await b_staff.expect(lambda m: ask_name in text_of(m))
    assert ZH(ms.NAME_TAKEN).format(merchant="爱心超市") in text_of(again)
    b_staff.say("/cancel")
    await b_staff.expect(ZH(h_m.STOPPED))
    b_staff.say("/merchants add 阳光菜店 菜店 7001")  # 孙主任 is its contact himself
    await b_staff.expect(lambda m: "✅ 已添加" in text_of(m) and "阳光社区" in text_of(m))
    staff.say("/merchants")
    mine = await staff.expect(lambda m: ZH(h_m.TITLE).format(n=1) in text_of(m))
    assert "阳光菜店" not in text_of(mine)

    # A grid leader and a resident are refused with a clear message.
    leader = await h.add_grid_leader(8001, "钱组长", 1)
    leader.say("/merchants")
    await leader.expect(Z(ms.NOT_MANAGER))
    resident = await h.register(3001, "甲", "xf1", "1", "101")
    resident.say("/merchants")
    await resident.expect(Z(ms.NOT_MANAGER))

    # An admin sees them all (in English, as they asked), and names the community by button.
    from bot.services import people

    async with h.rt.db.session() as s:
        await people.set_language(s, h.rt.clock, ADMIN, "en")
    admin = h.person(ADMIN)
    admin.say("/merchants")
    both = await admin.expect(lambda m: "🏪 Partner merchants (2):" in text_of(m))
    assert "• 阳光菜店 (菜店) · 0 products · 阳光社区 · contact: 孙主任 (7001)" in text_of(both)
    assert "➕ Add a merchant" in str(buttons(both))
    await admin.press(both, "📦 阳光菜店: products")
    await h.wait_edit(ADMIN, both["message_id"], lambda m: "阳光菜店 has no products" in text_of(m))
    admin.say("/merchants add 平安药房 药店 6102")
    which = await admin.expect("Add a partner merchant. For which community?")
    await admin.press(which, "阳光社区")
    sure = await h.wait_edit(ADMIN, which["message_id"], lambda m: h_m.OK.data() in data(m))
    await admin.press(sure, "✅ Add")
    await h.wait_edit(ADMIN, which["message_id"], lambda m: "✅ Added: 平安药房" in text_of(m))
    assert (await served(h))["平安药房"] == ("药店", CONTACT_2, ["yangguang"])


async def test_taken_off_a_community_only_without_an_unfinished_group_buy(
    harness: Harness,
) -> None:
    h = harness
    staff = h.person(STAFF)
    for line in ("爱心超市 超市 6101", "放心药店 药店 6102"):
        staff.say(f"/merchants add {line}")
        await staff.expect(lambda m: "✅ 已添加" in text_of(m))
    await import_by_bot(h, staff, GOOD_CSV)
    await h.register(3001, "甲", "xf1", "1", "101")
    deadline = (h.rt.clock.now() + timedelta(hours=3)).astimezone(ZoneInfo(h.rt.timezone))
    day = (deadline + timedelta(days=1)).strftime("%Y-%m-%d")
    staff.say(f"/groupbuy 爱心超市 xf1 {deadline:%Y-%m-%d %H:%M} {day} 白菜:3")
    await staff.expect(lambda m: "团购 #1" in text_of(m))

    staff.say("/merchants")
    listing = await staff.expect(lambda m: ZH(h_m.TITLE).format(n=2) in text_of(m))
    off = ZH(h_m.REMOVE_LABEL)
    refused = await staff.press(listing, off.format(merchant="爱心超市", community="幸福社区"))
    assert refused is not None and refused.get("show_alert")
    assert ZH(ms.STILL_OPEN).format(merchant="爱心超市", community="幸福社区", id=1) in refused.get(
        "text", ""
    )
    await staff.press(listing, off.format(merchant="放心药店", community="幸福社区"))
    sure = await h.wait_edit(
        STAFF,
        listing["message_id"],
        lambda m: h_m.REMOVE_YES.data(merchant_id=2, community_id=1) in data(m),
    )
    assert ZH(h_m.SURE_REMOVE).format(merchant="放心药店", community="幸福社区") in text_of(sure)
    await staff.press(sure, Z(h_m.YES_REMOVE))
    after = await h.wait_edit(
        STAFF,
        listing["message_id"],
        lambda m: ZH(h_m.REMOVED).format(merchant="放心药店", community="幸福社区") in text_of(m),
    )
    assert ZH(h_m.TITLE).format(n=1) in text_of(after)
    assert await served(h) == {
        "爱心超市": ("超市", CONTACT, ["xingfu"]),
        "放心药店": ("药店", CONTACT_2, []),
    }
    # A second press of the old ✖️ Yes acts on nothing.
    again = await staff.press_data(
        sure, h_m.REMOVE_YES.data(merchant_id=2, community_id=1), force=True
    )
    assert again is not None and again.get("show_alert")
    async with h.rt.db.read() as s:
        gone = await s.scalar(select(AuditEntry).where(AuditEntry.action == "merchant.removed"))
        assert gone is not None and gone.actor_telegram_id == STAFF
