"""Forged button data gets the stale-button alert, changes nothing and logs no error.

Callback data comes from the client and can be forged (PTB wiki "Arbitrary callback_data"):
a modified client can press any string on any message. Every registered callback pattern is
collected from the real Application (conversations included), and Hypothesis presses
``prefix + anything``, mutations of the buttons the bot really sent, and the two reported
examples, as a resident in the middle of the order form, a volunteer and a staff member in the
middle of a notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
import string
from re import _constants as sre  # the regex parser's op codes, to read literal prefixes
from re import _parser as sre_parse
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy.engine import make_url
from telegram.ext import BaseHandler, CallbackQueryHandler, ConversationHandler

from bot.config import Settings
from bot.errors import STALE
from bot.services.orders import form
from handlers.keyboards import MENU_ORDER
from models import Base
from tests.conftest import make_settings
from tests.factories import GROUP_1, STAFF, VOLUNTEERS_1, Harness, Z, buttons, text_of

OPERATOR_CHAT = -1009999999999
EXAMPLES = 30  # at random, after the sweep
RESIDENT = 1001
VOLUNTEER = VOLUNTEERS_1[0]
# Who presses where: each on a message the bot sent them.
ROLES = ["resident mid-form", "volunteer", "volunteer in the group", "staff mid-notice"]
STAFF_ROLE = ROLES[-1]
# The two reported in issue 11: a known verb with a value no button ever carries.
REPORTED = ["d:cat:evil", "o:rate:1:x"]
LOOKALIKE = "abcdefghijklmnopqrstuvwxyz_0123456789:"
# Written on every update whatever it holds (the raw update, when the form was last saved, the
# flood guard's count of a person's recent updates on PostgreSQL).
VOLATILE = {"inbox": None, "chat_state": {"updated_at"}, "flood_counters": None}


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The flood guard at its most lenient: here one person presses a hundred times a minute.
    return make_settings(
        database_url,
        limits={"messages_per_minute": 600},
        bot={"operator_chat_id": OPERATOR_CHAT},
    )


# --- the registered patterns -----------------------------------------------------------------


def _flatten(handler: BaseHandler[Any, Any, Any]) -> list[BaseHandler[Any, Any, Any]]:
    if isinstance(handler, ConversationHandler):
        inner = [
            *handler.entry_points,
            *(h for hs in handler.states.values() for h in hs),
            *handler.fallbacks,
        ]
        return [x for h in inner for x in _flatten(h)]
    return [handler]


def callback_patterns(h: Harness) -> list[re.Pattern[str]]:
    """Every CallbackQueryHandler pattern of the running Application (None: the catch-all)."""
    found = [
        x
        for group in h.service.app.handlers.values()
        for handler in group
        for x in _flatten(handler)
        if isinstance(x, CallbackQueryHandler)
    ]
    assert any(x.pattern is None for x in found), "no catch-all for unknown buttons"
    patterns: list[re.Pattern[str]] = []
    for x in found:
        if x.pattern is None:
            continue
        assert isinstance(x.pattern, re.Pattern), x.pattern
        # Anchored at both ends, or a conversation's own catch-all for its prefix (^d:).
        text = str(x.pattern.pattern)
        assert text.startswith("^"), text
        assert text.endswith("$") or re.fullmatch(r"\^[a-z]+:", text), text
        patterns.append(x.pattern)
    return patterns


def _prefixes(items: list[Any]) -> set[tuple[str, bool]]:
    """(literal start, whether the whole of ``items`` was literal), through alternations."""
    outs: set[tuple[str, bool]] = {("", True)}
    for op, av in items:
        if op is sre.AT:
            continue
        if op is sre.LITERAL:
            outs = {(o + chr(av), done) if done else (o, done) for o, done in outs}
            continue
        if op is sre.SUBPATTERN:
            inner = _prefixes(list(av[-1]))
        elif op is sre.BRANCH:
            inner = {x for branch in av[1] for x in _prefixes(list(branch))}
        else:
            inner = {("", False)}
        outs = {(o + i, idone) if done else (o, done) for o, done in outs for i, idone in inner}
    return outs


def literal_prefixes(p: re.Pattern[str]) -> set[str]:
    """``^o:(ok|rate):\\d+$`` gives o:ok: and o:rate:, and o: itself."""
    found = {pre for pre, _ in _prefixes(list(sre_parse.parse(p.pattern, p.flags)))}
    # Each colon-ended piece too, so every verb level is fuzzed.
    found |= {pre[: i + 1] for pre in found for i, c in enumerate(pre) if c == ":"}
    return {pre for pre in found if pre}


def _expand(items: list[Any]) -> set[str] | None:
    """Every string ``items`` matches, if they are only literals and alternatives of literals
    (the parser factors ``on|off`` into ``o(n|ff)``: expanding undoes that); else None."""
    outs = {""}
    for op, av in items:
        if op is sre.AT:
            continue
        if op is sre.LITERAL:
            subs: set[str] | None = {chr(av)}
        elif op is sre.SUBPATTERN:
            subs = _expand(list(av[-1]))
        elif op is sre.BRANCH:
            each = [_expand(list(b)) for b in av[1]]
            subs = None if any(x is None for x in each) else {w for x in each if x for w in x}
        else:
            subs = None
        if subs is None:
            return None
        outs = {o + x for o in outs for x in subs}
    return outs


def _words(items: list[Any], out: set[str]) -> None:
    """The literal words of a parsed pattern, alternatives included (``(ok|no)``: ok, no)."""
    run: set[str] = {""}
    for item in [*items, (None, None)]:
        whole = _expand([item]) if item[0] is not None else None
        if whole is not None:
            run = {r + w for r in run for w in whole}
            continue
        out.update(w for r in run for w in r.split(":") if w)
        run = {""}
        op, av = item
        if op is sre.SUBPATTERN:
            _words(list(av[-1]), out)
        elif op is sre.BRANCH:
            for branch in av[1]:
                _words(list(branch), out)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            _words(list(av[2]), out)


def vocabulary(patterns: list[re.Pattern[str]], real: list[str]) -> set[str]:
    """Every word a real button can carry: those the patterns spell out, and those of the
    buttons the bot sent. A pattern's ``\\w+`` adds none: its value must come from a button."""
    words: set[str] = {w for d in real for w in d.split(":") if not w.isdigit()}
    for p in patterns:
        _words(list(sre_parse.parse(p.pattern, p.flags)), words)
    return words


def looks_real(data: str, patterns: list[re.Pattern[str]], words: set[str]) -> bool:
    """Data a real button could carry, to be left alone: a handler takes it, each of its words
    is one of ours, and its ids are in the range real rows have (a forged id here has at least
    nine digits, and names no row)."""
    return any(p.fullmatch(data) for p in patterns) and all(
        f in words or re.fullmatch("[0-9]{1,8}", f) for f in data.split(":")
    )


def fits(data: str) -> bool:
    """Telegram carries 1-64 bytes of callback data."""
    return 1 <= len(data.encode()) <= 64


# --- what must not change --------------------------------------------------------------------


def _selects() -> dict[str, str]:
    """Per table, the SELECT of every column (but what is written on every update)."""
    out: dict[str, str] = {}
    for table in Base.metadata.sorted_tables:
        if table.name in VOLATILE and VOLATILE[table.name] is None:
            continue
        skip = VOLATILE.get(table.name) or set()
        cols = ", ".join(f'"{c.name}"' for c in table.columns if c.name not in skip)
        out[table.name] = f'SELECT {cols} FROM "{table.name}"'
    return out


async def snapshot(h: Harness) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (but what is written on every update): the values as stored,
    so any change the ORM would see shows here too. On SQLite read straight from the file
    (it was thirty ORM selects per press: a fifth of this test's CPU); on PostgreSQL the same
    plain SELECTs over a connection of the bot's engine."""
    url = make_url(h.rt.settings.database.url)
    if url.get_backend_name() != "sqlite":
        async with h.rt.db.read() as s:
            conn = await s.connection()
            return {
                name: sorted((tuple(r) for r in await conn.exec_driver_sql(sql)), key=repr)
                for name, sql in _selects().items()
            }
    out: dict[str, list[tuple[Any, ...]]] = {}
    with contextlib.closing(sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)) as db:
        for name, sql in _selects().items():
            out[name] = sorted(db.execute(sql).fetchall(), key=repr)
    return out


JUNK = st.text(min_size=1, max_size=12)
FAR_ID = st.integers(10**8, 10**9 - 1).map(str)  # in the id range, but no row has it
HUGE = st.integers(10**9, 10**19).map(str)  # past any row id (and past PostgreSQL's integer)


def mutate(d: str) -> st.SearchStrategy[str]:
    """Real button data, changed: an id nobody has, a word replaced or added, one cut off."""
    parts = d.split(":")
    head = ":".join(parts[:-1])
    options: list[st.SearchStrategy[str]] = [
        JUNK.map(lambda j: f"{head}:{j}"),
        st.tuples(st.integers(0, len(parts) - 1), JUNK).map(
            lambda ij: ":".join(ij[1] if k == ij[0] else f for k, f in enumerate(parts))
        ),
        JUNK.map(lambda j: f"{d}:{j}"),
        st.just(head) if head else JUNK,
        st.sampled_from([d.upper(), d + " ", d + "\n", " " + d, d.replace(":", "::", 1)]),
    ]
    if re.search(r"[0-9]+", d):
        ids = st.one_of(FAR_ID, HUGE, st.sampled_from(["-1", "0x1", "１", "1e3", "໕"]))
        options.append(ids.map(lambda n: re.sub(r"[0-9]+", n, d, count=1)))
    return st.one_of(options)


# --- the test -------------------------------------------------------------------------------


async def _setup(h: Harness) -> dict[str, tuple[int, dict[str, Any]]]:
    """Three people, each with a message of the bot to press on (and a form under way)."""
    h.emu.create_group("运维", members=[STAFF], with_bot=True, group_id=OPERATOR_CHAT)
    aunt = await h.register(RESIDENT, "周阿姨")
    await h.order(aunt)  # an order, so the resident and the group have real buttons
    aunt.say("/orders")
    await aunt.expect(lambda m: any(d.startswith("o:") for _, d in buttons(m)))
    aunt.say("/me")
    await aunt.expect(lambda m: any(d.startswith("p:") for _, d in buttons(m)))
    aunt.say("/order")  # and now in the middle of the form: the category question
    kinds = await aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))

    vol = h.person(VOLUNTEER)
    post = await vol.expect_in(GROUP_1, "#1 ")
    vol.say("/duty")
    duty = await vol.expect(lambda m: any(d.startswith("v:duty:") for _, d in buttons(m)))

    boss = h.person(STAFF)
    boss.say("/stats")
    await boss.expect(lambda m: any(d.startswith("rp:") for _, d in buttons(m)))
    boss.say("/notice")
    audience = await boss.expect(lambda m: any(d.startswith("n:a:") for _, d in buttons(m)))
    await h.settle()
    return {
        "resident mid-form": (RESIDENT, kinds),
        "volunteer": (VOLUNTEER, duty),
        "volunteer in the group": (VOLUNTEER, post),
        "staff mid-notice": (STAFF, audience),
    }


def _real_data(h: Harness) -> list[str]:
    chats = [RESIDENT, VOLUNTEER, STAFF, *h.emu.groups]
    found = {d for c in chats for m in h.emu.messages(c) for _, d in buttons(m) if d}
    return sorted(found)


@pytest.mark.long
async def test_forged_callback_data_gets_the_stale_alert_and_changes_nothing(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    targets = await _setup(h)
    patterns = callback_patterns(h)
    prefixes = sorted({pre for p in patterns for pre in literal_prefixes(p)})
    real = _real_data(h)
    words = vocabulary(patterns, real)
    assert any(d.startswith("o:claim:") for d in real) and any("d:cat:" in d for d in real)
    stale = Z(STALE)
    pressed: list[tuple[str, str]] = []
    answers: list[str] = []
    last: list[dict[str, list[tuple[Any, ...]]]] = []

    async def press(role: str, data: str) -> None:
        pressed.append((role, data))
        before = last[0] if last else await snapshot(h)
        user_id, msg = targets[role]
        qid = h.emu.press(user_id, msg["chat"]["id"], msg["message_id"], data, force=True)
        ans = await h.emu.wait_callback_answer(qid, 10)
        await h.settle()
        assert ans is not None, f"{data!r} by the {role}: no answer"
        assert ans.get("show_alert") and ans.get("text"), f"{data!r} by the {role}: {ans}"
        answers.append(ans["text"])
        after = await snapshot(h)
        last[:] = [after]  # the next press starts from here (nothing else runs meanwhile)
        changed = [t for t in before if before[t] != after[t]]
        assert not changed, f"{data!r} by the {role} changed {changed}"
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert not errors, f"{data!r} by the {role}: {errors[0].getMessage()}"
        told = [m for m in h.emu.messages(OPERATOR_CHAT) if m["outgoing"]]
        assert not told, f"{data!r} by the {role}: the operator was told {text_of(told[0])}"

    caplog.set_level(logging.ERROR)
    # The reported ones: the resident's own form, her own order.
    for data in REPORTED:
        await press("resident mid-form", data)
        assert stale in answers[-1]

    # Suffixes of every kind, and many that look like our own words and ids.
    suffix = st.one_of(st.text(alphabet=LOOKALIKE, max_size=14), st.text(max_size=20))
    loop = asyncio.get_running_loop()

    def press_if_forged(role: str, data: str) -> None:
        if fits(data) and not looks_real(data, patterns, words):
            asyncio.run_coroutine_threadsafe(press(role, data), loop).result(60)

    failures: list[AssertionError] = []

    def sweep_press(role: str, data: str) -> None:
        """The sweep's press: the first failure is kept and reported after the sweep (a replay
        by Hypothesis would meet a bot that already moved on)."""
        if not failures:
            try:
                press_if_forged(role, data)
            except AssertionError as e:
                failures.append(e)

    # Hypothesis drives synchronous tests: it runs in a worker thread and each press is made
    # on the test's own event loop (where the bot and the emulator run).
    no_checks = [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ]

    # 1. A sweep, so no pattern is left out: each person presses, for every prefix, every
    # pattern and every real button, one value Hypothesis makes up (its first example is the
    # simplest: "aa" after each prefix, each pattern's simplest match). Not
    # shrunk: the failing press is named in the assertion.
    word = st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=14)

    @examples(
        max_examples=1,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=no_checks,
    )
    @given(st.data())
    def every_prefix_and_pattern(draw: st.DataObject) -> None:
        for role in ROLES:
            for pre in prefixes:
                sweep_press(role, pre + draw.draw(word))
        # Each pattern and real button by staff (whose scope lets a press go deepest) and by
        # one of the others in turn: every one pressed twice, not four times (the sweep grew
        # with each feature's buttons to most of a CI minute).
        others = [r for r in ROLES if r != STAFF_ROLE]
        for i, pattern in enumerate(patterns):
            for role in (STAFF_ROLE, others[i % len(others)]):
                sweep_press(role, draw.draw(st.from_regex(pattern, fullmatch=True)))
        for i, d in enumerate(real):
            for role in (STAFF_ROLE, others[i % len(others)]):
                sweep_press(role, draw.draw(mutate(d)))

    await asyncio.to_thread(every_prefix_and_pattern)
    if failures:
        raise failures[0]
    for role in ROLES:  # most of what the sweep made up was forged, and pressed
        assert sum(u == role for u, _ in pressed) >= len(prefixes) // 2

    # 2. Then at random, shrunk to the simplest failing press.
    forged = st.one_of(
        st.sampled_from(prefixes).flatmap(lambda pre: suffix.map(lambda s: pre + s)),
        st.sampled_from(real).flatmap(mutate),
        st.sampled_from(patterns).flatmap(lambda p: st.from_regex(p, fullmatch=True)),
    )

    @examples(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=no_checks)
    @given(role=st.sampled_from(ROLES), data=forged)
    def forged_press_is_refused(role: str, data: str) -> None:
        assume(fits(data) and not looks_real(data, patterns, words))
        asyncio.run_coroutine_threadsafe(press(role, data), loop).result(60)

    await asyncio.to_thread(forged_press_is_refused)
    # The resident's form is still at its question, and a real button works as before.
    ans = await h.person(RESIDENT).press_data(targets["resident mid-form"][1], "d:cat:groceries")
    assert ans is not None and not ans.get("show_alert")
    await h.emu.wait_for(RESIDENT, Z(form.steps_for("groceries")[0].prompt))


async def test_a_unit_the_building_lacks_gets_an_alert_and_the_question_stays(
    harness: Harness,
) -> None:
    """Registration: a unit button the chosen building does not have (1栋 has 3 units) is
    answered with a pop-up saying which units exist; the unit question stays."""
    h = harness
    aunt = h.person(RESIDENT, "周阿姨")
    aunt.say("/start")
    compounds = await aunt.expect(Z("Which compound (小区)?"))
    await aunt.press(compounds, "幸福小区")
    buildings = await h.wait_edit(
        RESIDENT, compounds["message_id"], lambda m: "r:b:" in str(m.get("reply_markup"))
    )
    await aunt.press(buildings, "1栋")
    units = await h.wait_edit(
        RESIDENT, compounds["message_id"], lambda m: "r:u:" in str(m.get("reply_markup"))
    )
    ans = await aunt.press_data(units, "r:u:9", force=True)
    assert ans is not None and ans["show_alert"]
    assert Z("This building has units 1 to {units}. Please send one of them.") in ans["text"]
    ans = await aunt.press_data(units, "r:u:x1", force=True)  # not even a number: stale
    assert ans is not None and ans["show_alert"] and Z(STALE) in ans["text"]
    await aunt.press(units, "2")
    await aunt.expect(Z("Your room number? For example 302."))


async def test_a_refused_order_again_does_not_end_the_form_in_progress(
    harness: Harness,
) -> None:
    """🔁 "order again" pressed for an order that is not hers (forged, or long gone) while she
    is in the middle of the order form: an alert, and the form goes on where it was
    (found by the fuzz test above: the refusal used to end her form)."""
    h = harness
    aunt = await h.register(RESIDENT, "周阿姨")
    aunt.say(Z(MENU_ORDER))
    kinds = await aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in buttons(m)))
    await aunt.press_data(kinds, "d:cat:medicine")
    prompt = Z(form.KIND_STEPS["medicine"][0].prompt)
    await h.wait_edit(RESIDENT, kinds["message_id"], lambda m: prompt in text_of(m))
    ans = await aunt.press_data(kinds, "o:again:999999999", force=True)
    assert ans is not None and ans["show_alert"] and ans["text"] == Z("This order does not exist.")
    aunt.say("布洛芬 1盒")  # the form is still waiting for the description
    await aunt.expect(Z(form.KIND_STEPS["medicine"][1].prompt))


@pytest.mark.parametrize("data", ["rp:okd:1:d:0700:20261399", "gbn:d:20260231"])
async def test_eight_digits_that_are_no_day_get_the_stale_alert(
    harness: Harness, data: str
) -> None:
    """A forged day in a button (a repeat's last day, a group-buy's delivery day) that is no
    day: the stale alert, nothing made, and no traceback in the operator chat (there was one,
    found by the search above in one run of four)."""
    h = harness
    h.emu.create_group("运维", members=[STAFF], with_bot=True, group_id=OPERATOR_CHAT)
    aunt = await h.register(1001, "周阿姨")
    card = await h.order(aunt, "groceries", urgency="normal")
    answer = await aunt.press_data(card, data, force=True)
    assert answer is not None and answer["show_alert"] and answer["text"] == Z(STALE)
    await h.settle()
    assert not [m for m in h.emu.messages(OPERATOR_CHAT) if m["outgoing"]]
