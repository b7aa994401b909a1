"""A flaky Telegram (issue 11): every n-th Bot API call is answered 502 Bad Gateway. The bot
still starts, answers every press and message (retrying briefly, then through the outbox), and
a resident can register and order from start to finish while a volunteer claims the task."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.runtime import Runtime
from bot.services.orders import form
from handlers.help import HELP_RESIDENT, HELP_VOLUNTEER
from handlers.my_info import CARE_TEXT
from handlers.registration import PHONE_WHY, WELCOME
from models import Order, OrderDraft, OutboxMessage, OutboxStatus, Resident
from tests.child_bot import ChildBot
from tests.factories import GROUP_1, VOLUNTEERS_1, Harness, Person, Z, buttons, text_of

ROOT = Path(__file__).resolve().parents[2]


async def test_bot_starts_while_telegram_answers_bad_gateway(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    h.emu.fail_every(2)  # getMe, setMyCommands and deleteWebhook all meet a 502 at least once
    with caplog.at_level(logging.WARNING, logger="handlers.runner"):
        await asyncio.wait_for(h.restart(), 60)
    assert "waiting for Telegram: deleteWebhook failed (Bad Gateway)" in caplog.text
    assert h.emu.stats()["injected_failures"] >= 3
    h.emu.fail_every(5)
    aunt = h.person(1001, "周阿姨")
    aunt.say("/start")
    await aunt.expect(Z(WELCOME), timeout=30)


@pytest.mark.long
# At Telegram's own speed: the /help must find the /me reply still owed in the outbox (a second
# after the last message to the chat); on the fast clock the outbox may have sent it already,
# and the /help then rightly goes directly (in order, but not as a second row).
@pytest.mark.realtime
async def test_a_reply_that_meets_bad_gateways_still_arrives_in_order(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    # The answer to register's /help is out of the way first.
    await h.emu.wait_for(1001, Z(HELP_RESIDENT), 15)
    aunt.seen = max(m["message_id"] for m in aunt.chat())
    # Its three tries meet 502s: the reply cannot go directly, nor can the next one before it.
    h.emu.fail_next(3, status=502)
    aunt.say("/me")
    aunt.say("/help")
    me = await aunt.expect(lambda m: "r:edit" in str(m.get("reply_markup")), timeout=30)
    helped = await aunt.expect(Z(HELP_RESIDENT), timeout=30)
    assert me["message_id"] < helped["message_id"]  # in the order they were answered
    await h.settle()
    async with h.rt.db.read() as s:
        rows = (await s.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == 1001))).all()
    assert [r.status for r in rows] == [OutboxStatus.SENT] * 2


@pytest.mark.long
async def test_a_press_whose_callback_answer_fails_still_shows_its_result(
    harness: Harness,
) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    aunt.say("/me")
    me = await aunt.expect(lambda m: "r:edit" in str(m.get("reply_markup")))
    h.emu.fail_every(1, methods=["answerCallbackQuery"])  # no press can be answered
    answered = await aunt.press_data(me, "p:care", timeout=6)
    assert answered is None  # tried, then given up quietly (a query cannot wait)
    # ...and the press still did its work: the message became the care screen.
    await h.wait_edit(
        1001, me["message_id"], lambda m: "p:care:elderly_alone" in str(m.get("reply_markup"))
    )
    assert h.emu.stats()["injected_failures"] == 3


async def test_an_edit_that_meets_bad_gateways_still_changes_the_pressed_message(
    harness: Harness,
) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    aunt.say("/me")
    me = await aunt.expect(lambda m: "r:edit" in str(m.get("reply_markup")))
    h.emu.fail_next(3, status=502)  # the edit's three tries
    await aunt.press_data(me, "p:care")
    care = await h.wait_edit(
        1001, me["message_id"], lambda m: "p:care:elderly_alone" in str(m.get("reply_markup"))
    )
    assert Z(CARE_TEXT) in text_of(care)
    await h.settle()
    async with h.rt.db.read() as s:
        edits = (await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "edit"))).all()
    assert [(e.chat_id, e.status) for e in edits] == [(1001, OutboxStatus.SENT)]
    assert h.emu.stats()["injected_failures"] == 3


@pytest.mark.long
async def test_resident_registers_and_orders_while_every_fifth_call_fails(
    harness: Harness,
) -> None:
    h = harness
    h.emu.fail_every(5)
    wait = 30.0
    aunt = h.person(1001, "周阿姨")

    # Registration through the buttons and answers, as a person does it.
    aunt.say("/start")
    await aunt.expect(Z(WELCOME), timeout=wait)
    compounds = await aunt.expect(Z("Which compound (小区)?"), timeout=wait)
    await aunt.press(compounds, "幸福小区")
    buildings = await h.wait_edit(
        1001, compounds["message_id"], lambda m: "2栋" in str(m.get("reply_markup")), wait
    )
    await aunt.press(buildings, "2栋")
    units = await h.wait_edit(
        1001,
        compounds["message_id"],
        lambda m: Z("{place}. Which unit (单元)?").split("{")[0] in text_of(m) and bool(buttons(m)),
        wait,
    )
    await aunt.press(units, "3")
    await aunt.expect(Z("Your room number? For example 302."), timeout=wait)
    aunt.say("502")
    await aunt.expect(Z("How should the volunteer call you? (your name, e.g. 周阿姨)"), wait)
    aunt.say("周阿姨")
    await aunt.expect(Z(PHONE_WHY), timeout=wait)
    aunt.contact("13800001001")
    await aunt.expect("13800001001", timeout=wait)
    async with h.rt.db.read() as s:
        me = await s.scalar(select(Resident).where(Resident.telegram_id == 1001))
    assert me is not None and (me.unit, me.room) == ("3", "502")

    # The whole order form, then the group post.
    started = asyncio.get_running_loop().time()
    done = await h.order(aunt, "groceries", "两颗白菜，一盒鸡蛋", "today")
    assert "#1" in text_of(done)
    post = await aunt.expect_in(GROUP_1, "#1", timeout=60)
    assert Z("Groceries") in text_of(post) and "13800001001" not in text_of(post)
    async with h.rt.db.read() as s:
        order = await s.scalar(select(Order))
    assert order is not None and order.status == "open"
    assert order is not None and order.description == "两颗白菜，一盒鸡蛋"
    assert order.details.get("budget") == "100" and order.payment == "cash"

    # A volunteer claims it; the address comes to them privately.
    wang = h.person(VOLUNTEERS_1[0])
    wang.say("/help")
    await wang.expect(Z(HELP_VOLUNTEER), timeout=wait)
    await wang.press(post, Z("🙋 I'll run it"), timeout=wait)
    await h.wait_edit(GROUP_1, post["message_id"], lambda m: "王刚" in text_of(m), 60)
    card = await wang.expect("13800001001", timeout=60)
    assert "2栋 3-502" in text_of(card)
    async with h.rt.db.read() as s:
        order = await s.scalar(select(Order))
    assert order is not None and order.status == "claimed"
    took = asyncio.get_running_loop().time() - started
    assert took < 110, f"ordering and claiming took {took:.0f}s"
    assert h.emu.stats()["injected_failures"] > 0


async def _at_description(h: Harness) -> Person:
    aunt = await h.register(1001, "周阿姨")
    await h.emu.wait_for(1001, Z(HELP_RESIDENT), 15)
    aunt.say("/order")
    kinds = await aunt.expect(lambda m: "d:cat:groceries" in str(m.get("reply_markup")))
    await aunt.press_data(kinds, "d:cat:groceries")
    await h.wait_edit(1001, kinds["message_id"], lambda m: Z(_prompt("description")) in text_of(m))
    aunt.seen = max(m["message_id"] for m in aunt.chat())
    return aunt


def _prompt(key: str) -> str:
    step = form.step("groceries", key)
    assert step is not None
    return step.prompt


async def test_the_form_waits_for_an_answer_only_once_its_question_went_out(
    harness: Harness,
) -> None:
    h = harness
    aunt = await _at_description(h)
    h.emu.fail_next(1, status=400)  # the budget question is refused: it never reaches her
    aunt.say("两颗白菜")
    await aunt.expect(
        Z("Sorry, something went wrong on our side. Nothing was lost; please try again.")
    )
    # She saw no new question, so she sends her list again: it is still the list.
    aunt.say("两颗白菜，一盒鸡蛋")
    question = await aunt.expect(Z(_prompt("budget")))
    assert ("≤ 100 元", "d:v:100") in buttons(question)
    assert not any(
        Z("Please type an amount in yuan, for example 80.") in text_of(m) for m in aunt.chat()
    )
    async with h.rt.db.read() as s:
        draft = await s.scalar(select(OrderDraft))
    assert draft is not None and draft.description == "两颗白菜，一盒鸡蛋"


async def test_an_answer_that_does_not_fit_gets_the_question_again(harness: Harness) -> None:
    h = harness
    aunt = await _at_description(h)
    aunt.say("两颗白菜")
    await aunt.expect(Z(_prompt("budget")))
    aunt.say("两颗白菜，一盒鸡蛋")  # the list again, as if the question had not come
    again = await aunt.expect(Z("Please type an amount in yuan, for example 80."))
    assert Z(_prompt("budget")) in text_of(again)
    assert ("≤ 100 元", "d:v:100") in buttons(again)
    await aunt.press_data(again, "d:v:100")
    await h.wait_edit(1001, again["message_id"], lambda m: Z(_prompt("substitutes")) in text_of(m))


@pytest.mark.long
async def test_paotui_run_starts_and_answers_while_telegram_answers_bad_gateway(
    rt: Runtime, emu: Any
) -> None:
    """The real `paotui run` process against the emulator: start-up meets 502s (every 2nd
    call), waits them out saying so, then answers with every 5th call failing; SIGTERM ends it
    with status 0."""
    from handlers.main import populate_emulator

    token = "100000001:TEST-TOKEN"
    populate_emulator(emu, token)
    emu.fail_every(2)
    env = {
        **os.environ,
        "PAOTUI_BOT__TOKEN": token,
        "PAOTUI_BOT__API_BASE_URL": emu.base_url,
        "PAOTUI_BOT__API_FILE_URL": emu.base_file_url,
        "PAOTUI_BOT__POLL_TIMEOUT": "2",
        "PAOTUI_DATABASE__URL": rt.settings.database.url,
        "PAOTUI_REPORTS__DAILY_SUMMARY_AT": "",
    }
    async with ChildBot(env) as child:
        await child.wait_line("bot started as @paotui_bot")  # not exited, not still waiting
        assert any("waiting for Telegram:" in line for line in child.lines), child.lines
        emu.fail_every(5)
        emu.send_text(1001, "/start")
        await emu.wait_for(1001, Z(WELCOME), 30)
        code = await child.stop()
    assert code == 0, child.lines[-20:]
