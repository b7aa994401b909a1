"""Personal data stays with the people who need it (issue 11, points 1-3): what is asked in a
group is answered privately, and nothing about a resident reaches a group chat."""

from __future__ import annotations

from typing import Any

from bot.errors import STALE
from bot.services.orders import form
from handlers.privately import OPEN_PRIVATE_CHAT, SENT_PRIVATELY
from tests.factories import GROUP_1, GROUP_2, STAFF, VOLUNTEERS_1, Harness, Z, text_of
from tests.privacy_guard import Personal, find_leaks, group_leaks

AUNT_PHONE = "13800001001"


def _bot_posts(h: Harness, chat_id: int, after: int = 0) -> list[dict[str, Any]]:
    return [m for m in h.emu.messages(chat_id, after=after) if m["outgoing"]]


def _last_id(h: Harness, chat_id: int) -> int:
    return max((m["message_id"] for m in h.emu.messages(chat_id)), default=0)


async def _claimed_by(h: Harness, runner_id: int) -> dict[str, Any]:
    """周阿姨 orders, ``runner_id`` claims in the group; returns the runner's private card."""
    aunt = await h.register(1001, "周阿姨", phone=AUNT_PHONE, room="502")
    await h.order(aunt)
    runner = h.person(runner_id)
    runner.say("/help")
    post = await runner.expect_in(GROUP_1, "#1")
    await runner.press_data(post, "o:claim:1")
    card = await runner.expect(lambda m: AUNT_PHONE in text_of(m))
    await h.settle()
    return card


async def test_mytasks_in_a_group_answers_privately(harness: Harness) -> None:
    h = harness
    runner_id = VOLUNTEERS_1[0]
    await _claimed_by(h, runner_id)
    runner = h.person(runner_id)
    before = _last_id(h, GROUP_1)

    runner.say("/mytasks", chat_id=GROUP_1)

    card = await runner.expect(lambda m: AUNT_PHONE in text_of(m))
    assert "周阿姨" in text_of(card) and "502" in text_of(card)
    assert any(
        b["callback_data"] == "o:buy:1"
        for row in card["reply_markup"]["inline_keyboard"]
        for b in row
    )
    said = await h.emu.wait_for(GROUP_1, Z(SENT_PRIVATELY), after_message_id=before)
    assert said["reply_to_message"]["from"]["id"] == runner_id  # a reply: the group sees to whom
    await h.settle()
    for m in _bot_posts(h, GROUP_1, after=before):
        assert AUNT_PHONE not in text_of(m) and "周阿姨" not in text_of(m)
        assert "502" not in text_of(m)


async def test_a_residents_menu_in_a_group_answers_privately(harness: Harness) -> None:
    """📋 and 👤 typed in a group (the reply keyboard follows the resident everywhere)."""
    h = harness
    aunt = await h.register(1001, "周阿姨", phone=AUNT_PHONE, room="502")
    await h.order(aunt)
    await aunt.expect_in(GROUP_1, "#1")
    await h.settle()
    h.emu.add_member(GROUP_1, 1001)  # she is in the building's group chat too
    before = _last_id(h, GROUP_1)

    aunt.say(Z("📋 My orders"), chat_id=GROUP_1)
    detail = await aunt.expect(lambda m: "#1" in text_of(m) and "502" in text_of(m))
    assert "周阿姨" in text_of(detail)
    aunt.say(Z("👤 My info"), chat_id=GROUP_1)
    info = await aunt.expect(lambda m: AUNT_PHONE in text_of(m))
    assert "502" in text_of(info)
    aunt.say("/me", chat_id=GROUP_1)  # a command that used to be ignored in a group
    await aunt.expect(lambda m: AUNT_PHONE in text_of(m))

    await h.settle()
    posts = _bot_posts(h, GROUP_1, after=before)
    assert [text_of(m) for m in posts] == [_zh(SENT_PRIVATELY)] * 3
    # 📝 in a group starts the order form in the private chat, where it can be answered.
    aunt.say(Z("📝 Order"), chat_id=GROUP_1)
    kinds = await aunt.expect(Z("What kind of errand?"))
    await aunt.press_data(kinds, "d:cat:medicine")
    what = _zh(form.KIND_STEPS["medicine"][0].prompt)
    await h.wait_edit(1001, kinds["message_id"], lambda m: what in text_of(m))
    aunt.say("布洛芬 2盒")
    await aunt.expect(Z("Which pharmacy? Type its name, or choose:"))
    assert [m for m in _bot_posts(h, GROUP_1, after=before) if "药" in text_of(m)] == []


async def test_someone_the_bot_cannot_write_to_is_asked_to_open_the_chat(
    harness: Harness,
) -> None:
    """A volunteer who never pressed Start: the bot may not write to them (403), so the group
    is told to open the private chat first, and still sees no personal data."""
    h = harness
    await _claimed_by(h, VOLUNTEERS_1[0])
    shy = h.person(VOLUNTEERS_1[1])  # in the group, never talked to the bot
    before = _last_id(h, GROUP_1)

    shy.say("/mytasks", chat_id=GROUP_1)

    hint = _zh(OPEN_PRIVATE_CHAT).format(bot="paotui_bot")
    said = await h.emu.wait_for(GROUP_1, hint, after_message_id=before)
    assert said["reply_to_message"]["from"]["id"] == shy.user_id
    await h.settle()
    assert shy.chat() == []
    assert [text_of(m) for m in _bot_posts(h, GROUP_1, after=before)] == [hint]


def _zh(msgid: str) -> str:
    from bot.i18n import gettext_for

    return gettext_for("zh_CN")(msgid)


def test_every_command_is_answered_privately_or_is_safe_in_a_group() -> None:
    """A new command must say where it may answer: in the private chat only (then a group's
    copy is answered privately), or in a group with nothing personal in its answer."""
    from handlers.app import COMMANDS
    from handlers.privately import GROUP_COMMANDS, PRIVATE_COMMANDS

    assert not set(PRIVATE_COMMANDS) & set(GROUP_COMMANDS)
    assert {name for name, _ in COMMANDS} <= set(PRIVATE_COMMANDS) | set(GROUP_COMMANDS)


# --- the guard every end-to-end test runs (tests/privacy_guard.py) --------------------------

ZHOU = Personal("周阿姨", AUNT_PHONE, "1", "502")
WU = Personal("吴大爷", "+86 139 1234 5678", "2", "1202")


def test_the_guard_sees_a_phone_however_it_is_written() -> None:
    for text in (
        "电话13800001001",
        "138 0000 1001",
        "138-0000-1001",
        "138.0000.1001",
        "138/0000/1001",
        "138_0000_1001",
        "138，0000，1001",
        "138–0000–1001",
        "１３８００００１００１",
        "一三八零零零零一零零一",
        "①③⑧⓪⓪⓪⓪①⓪⓪①",
        "¹³⁸⁰⁰⁰⁰¹⁰⁰¹",
        "1\u200b3\u200b8\u200b0000\u200b1001",
        "138OOOO1OO1",
    ):
        assert find_leaks(text, [ZHOU]) == [f"phone {AUNT_PHONE}"], text
    assert find_leaks("call 13912345678", [ZHOU, WU]) == ["phone +86 139 1234 5678"]


def test_the_guard_sees_a_name_and_a_room() -> None:
    assert find_leaks("周阿姨要两颗白菜", [ZHOU]) == ["name 周阿姨"]
    assert find_leaks("送到 1-502", [ZHOU]) == ["room 502"]
    assert find_leaks("住五〇二室", [ZHOU]) == ["room 502"]
    assert find_leaks("幸福小区 1栋 502", [ZHOU]) == ["room 502"]
    assert find_leaks("4栋1202号", [WU]) == ["room 1202"]
    # A runner's name is public in the group, even when a resident has the same name.
    assert find_leaks("✅ 已由 周阿姨 接单", [ZHOU], {"周阿姨"}) == []


def test_the_guard_passes_what_a_group_may_see() -> None:
    post = (
        "新任务 🥬 #502 买菜\n📍 幸福小区 1栋\n⏱ 今天内送到 · 发布于 15:02\n"
        "📝 两颗白菜，一盒鸡蛋，500ml牛奶\n¥35.5 · 5楼 · 取件码 1234"
    )
    assert find_leaks(post, [ZHOU, WU]) == []


async def test_a_test_that_makes_the_bot_leak_fails(harness: Harness) -> None:
    """The bot really posts a resident's phone and room to a group (through the outbox, as
    any group post goes): the guard the harness runs at the end of every test reports it."""
    from bot import outbox
    from models import OutboxMessage

    h = harness
    await h.register(1001, "周阿姨", phone=AUNT_PHONE, room="502")
    async with h.rt.db.session() as s:
        post = outbox.enqueue(
            s, h.rt.clock, chat_id=GROUP_1, text="新任务 📍 幸福小区", is_group=True
        )
        await s.flush()
        outbox.enqueue_edit(s, h.rt.clock, original=post, text="新任务 📍 1-502 ☎ 138 0000 1001")
    h.rt.wake_outbox()
    await h.settle()
    await h.emu.wait_for(GROUP_1, "1-502")
    # The edit is the leak; the final text is then made clean again: every version counts.
    async with h.rt.db.session() as s:
        original = await s.get(OutboxMessage, post.id)
        assert original is not None
        outbox.enqueue_edit(s, h.rt.clock, original=original, text="新任务 📍 幸福小区")
    h.rt.wake_outbox()
    await h.settle()
    await h.emu.wait_for(GROUP_1, lambda m: text_of(m) == "新任务 📍 幸福小区" and m["edited"] == 2)

    leaks = await group_leaks(h.rt, h.group_log)
    assert len(leaks) == 1
    assert f"phone {AUNT_PHONE}" in leaks[0] and "room 502" in leaks[0]
    h.group_log.clear()  # reported here; the harness's own check at the end then passes


# --- what a group sees of an order --------------------------------------------------------


async def test_contact_details_in_a_description_never_reach_a_group(harness: Harness) -> None:
    """周阿姨 writes her phone (disguised), her room and her WeChat into the description. The
    grid's group, and the other grid's group the task is escalated to, see the errand without
    them; the volunteer who claims it still gets her real address and phone privately."""
    h = harness
    phone = "13800138000"
    aunt = await h.register(1001, "周阿姨", unit="2", room="501", phone=phone)
    text = "2斤鸡蛋，一瓶酱油。周阿姨 电话138.0013.8000 住3栋2单元501室 加微信 zhou_ayi_1960"
    await h.order(aunt, "groceries", text, "normal")
    # The form asked her not to write them (the question's second line).
    asked = _zh(form.KIND_STEPS["groceries"][0].prompt).split("\n")[1]
    assert any(asked in text_of(m) for m in aunt.chat())

    secrets = ("138", "0013", "8000", "501", "3栋2单元", "zhou_ayi", "1960", "周阿姨")
    post = await aunt.expect_in(GROUP_1, "#1")
    assert "2斤鸡蛋，一瓶酱油" in text_of(post) and "加微信" in text_of(post)
    assert [s for s in secrets if s in text_of(post)] == []

    # Nobody takes it: it is offered to the whole community, in the other grid's group.
    for _ in range(8):
        h.advance(minutes=61)
        await h.sweep()
        if any("o:claim:1" in str(m.get("reply_markup")) for m in h.emu.messages(GROUP_2)):
            break
    wide = await h.emu.wait_for(GROUP_2, lambda m: "o:claim:1" in str(m.get("reply_markup")))
    assert "2斤鸡蛋，一瓶酱油" in text_of(wide)
    assert [s for s in secrets if s in text_of(wide)] == []

    runner = h.person(VOLUNTEERS_1[0])
    runner.say("/help")
    await runner.press_data(post, "o:claim:1")
    card = await runner.expect(lambda m: phone in text_of(m))
    assert "周阿姨" in text_of(card) and "2-501" in text_of(card)
    assert text in text_of(card)  # the runner reads the description as she wrote it
    await h.settle()
    # ... and the guard of every test checks each version of every group message at the end.


async def test_a_forged_button_in_a_group_cannot_show_a_card_there(harness: Harness) -> None:
    """The runner forges "details" on the group's post of her own task: the answer (her card,
    with the resident's phone) would replace the post for the whole group. It is refused."""
    h = harness
    runner_id = VOLUNTEERS_1[0]
    await _claimed_by(h, runner_id)
    post = next(m for m in h.emu.messages(GROUP_1) if m["outgoing"] and "#1" in text_of(m))
    before = text_of(post)

    for data in ("o:detail:1", "o:buy:1", "v:tasks", "p:me"):
        qid = h.emu.press(runner_id, GROUP_1, post["message_id"], data, force=True)
        ans = await h.emu.wait_callback_answer(qid, 10.0)
        assert ans is not None and Z(STALE) in ans["text"]
    await h.settle()
    now = next(m for m in h.emu.messages(GROUP_1) if m["message_id"] == post["message_id"])
    assert text_of(now) == before and AUNT_PHONE not in text_of(now)
    async with h.rt.db.read() as s:
        from models import Order

        order = await s.get(Order, 1)
        assert order is not None and order.status == "claimed"  # 🛒 was not applied


async def test_staff_and_volunteer_commands_in_a_group_are_answered_privately(
    harness: Harness,
) -> None:
    """/history, /orders, /care, /notices, /stats sent in a group: each answer (which can list
    households, names and phones) arrives in the sender's private chat, the group only hears
    where it went."""
    h = harness
    await _claimed_by(h, VOLUNTEERS_1[0])
    boss = await h.register(STAFF, "赵书记", phone="13900009001", room="301")
    h.emu.add_member(GROUP_1, STAFF)
    runner = h.person(VOLUNTEERS_1[0])
    before = _last_id(h, GROUP_1)
    asked = [(runner, "/history"), (boss, "/orders"), (boss, "/care"), (boss, "/notices")]
    asked.append((boss, "/stats"))

    for person, command in asked:
        mine = len(person.chat())
        person.say(command, chat_id=GROUP_1)
        await h.emu.wait_for(
            GROUP_1,
            lambda m, p=person, c=command: (
                text_of(m) == _zh(SENT_PRIVATELY)
                and m["reply_to_message"]["from"]["id"] == p.user_id
                and m["reply_to_message"]["text"] == c
            ),
            after_message_id=before,
        )
        assert len(person.chat()) > mine, command  # the answer itself is in the private chat
    await h.settle()
    acks = [text_of(m) for m in _bot_posts(h, GROUP_1, after=before)]
    assert acks == [_zh(SENT_PRIVATELY)] * len(asked)
