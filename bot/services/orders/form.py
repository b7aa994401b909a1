"""The order form as data: which questions each kind of errand asks, their choices, and how a
typed answer is checked. The chat renders it; nothing here knows Telegram."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import Any

from bot.errors import Refused, check_length, stale
from bot.i18n import N_
from bot.services import amounts


@dataclass(frozen=True)
class Choice:
    value: str
    label: str  # a msgid (or a literal such as "50")


@dataclass(frozen=True)
class Step:
    key: str
    prompt: str  # a msgid
    choices: tuple[Choice, ...] = ()
    text: bool = False  # a typed answer is accepted
    media: bool = False  # a photo or a voice message is accepted (the description)
    # Asked of the person taking an order by phone, about the household (None: the same).
    phone_prompt: str | None = None

    def prompt_for(self, by_phone: bool) -> str:
        return self.phone_prompt if by_phone and self.phone_prompt else self.prompt


YES_NO = (Choice("no", N_("No")), Choice("yes", N_("Yes")))

KIND_STEPS: dict[str, tuple[Step, ...]] = {
    "groceries": (
        Step(
            "description",
            N_(
                "What should we buy? Write the list, send a photo of your "
                "handwritten list, or send a voice message.\n"
                "Please leave out your phone number, room and WeChat: the volunteer who takes "
                "it gets your address and phone privately."
            ),
            text=True,
            media=True,
            phone_prompt=N_(
                "What should we buy for the household? Write the list, or send a photo or a "
                "voice message.\n"
                "Please leave out the household's phone number, room and WeChat: the volunteer "
                "who takes it gets them privately."
            ),
        ),
        Step(
            "budget",
            N_("About how much may it cost? Choose, or type an amount in yuan."),
            choices=(
                Choice("50", "≤ 50 元"),
                Choice("100", "≤ 100 元"),
                Choice("200", "≤ 200 元"),
                Choice("any", N_("No limit")),
            ),
            text=True,
        ),
        Step(
            "substitutes",
            N_("If something is sold out, may the volunteer buy something similar?"),
            choices=(
                Choice("yes", N_("Yes, similar is fine")),
                Choice("no", N_("No, only what I listed")),
            ),
        ),
    ),
    "medicine": (
        Step(
            "description",
            N_(
                "Which medicine, and how much? You can also send a photo of the "
                "box or the prescription, or a voice message.\n"
                "Please leave out your phone number, room and WeChat: the volunteer who takes "
                "it gets your address and phone privately."
            ),
            text=True,
            media=True,
            phone_prompt=N_(
                "Which medicine, and how much, for the household? You can also send a photo "
                "of the box or the prescription, or a voice message.\n"
                "Please leave out the household's phone number, room and WeChat: the volunteer "
                "who takes it gets them privately."
            ),
        ),
        Step(
            "pharmacy",
            N_("Which pharmacy? Type its name, or choose:"),
            choices=(Choice("any", N_("Any pharmacy")),),
            text=True,
        ),
        Step("hospital", N_("Does it need a hospital registration (挂号) first?"), choices=YES_NO),
        Step("chronic", N_("Is it a refill for a chronic illness?"), choices=YES_NO),
    ),
    "gas": (
        Step(
            "gas_account",
            N_("The gas card or account number? (type it, or send a photo of the card)"),
            text=True,
            media=True,
        ),
        Step(
            "amount",
            N_("How much to top up? Choose, or type an amount in yuan."),
            choices=(Choice("50", "50 元"), Choice("100", "100 元"), Choice("200", "200 元")),
            text=True,
        ),
        Step(
            "provider",
            N_("Which gas company? Type it, or choose:"),
            choices=(Choice("unknown", N_("I don't know")),),
            text=True,
        ),
    ),
    "other": (
        Step(
            "subtype",
            N_("Which of these is it?"),
            choices=(
                Choice("print", N_("🖨 Printing")),
                Choice("parcel", N_("📦 Parcel pickup")),
                Choice("garbage", N_("🗑 Taking out garbage")),
                Choice("meal", N_("🍱 A hot meal")),
                Choice("lost", N_("🔍 A lost item")),
                Choice("other", N_("✏️ Something else")),
            ),
        ),
        Step(
            "description",
            N_(
                "Please describe it: what, where, when. Text, a photo or a voice message.\n"
                "Please leave out your phone number, room and WeChat: the volunteer who takes "
                "it gets your address and phone privately."
            ),
            text=True,
            media=True,
            phone_prompt=N_(
                "Please describe what the household needs: what, where, when. Text, a photo "
                "or a voice message.\n"
                "Please leave out the household's phone number, room and WeChat: the volunteer "
                "who takes it gets them privately."
            ),
        ),
    ),
}

COMMON_STEPS: tuple[Step, ...] = (
    Step(
        "urgency",
        N_("How urgent is it?"),
        choices=(
            Choice("normal", N_("Normal")),
            Choice("today", N_("Today")),
            Choice("urgent", N_("Urgent")),
        ),
    ),
    Step(
        "time_window",
        N_("When can you take it in?"),
        phone_prompt=N_("When can the household take it in?"),
        choices=(
            Choice("any", N_("Any time")),
            Choice("morning", N_("Morning 8-12")),
            Choice("afternoon", N_("Afternoon 12-18")),
            Choice("evening", N_("Evening 18-21")),
        ),
    ),
    Step(
        "payment",
        N_("How will you pay the volunteer for what they buy?"),
        phone_prompt=N_("How will the household pay the volunteer for what they buy?"),
        choices=(
            Choice("cash", N_("Cash on delivery")),
            Choice("transfer", N_("Transfer on delivery")),
            Choice("prepaid", N_("Already paid / nothing to pay")),
        ),
    ),
)

# Where an answer is kept: these are columns of the draft and the order; the rest go to details.
COLUMN_KEYS = ("description", "urgency", "time_window", "payment")
# Every step's label (the summary's ✏️ buttons, the cards' "Label: value" lines).
LABELS = {
    "description": N_("What you need"),
    "budget": N_("Budget"),
    "substitutes": N_("Substitutes"),
    "pharmacy": N_("Pharmacy"),
    "hospital": N_("Hospital registration"),
    "chronic": N_("Chronic-disease refill"),
    "gas_account": N_("Gas card / account"),
    "amount": N_("Amount"),
    "provider": N_("Gas company"),
    "subtype": N_("Errand"),
    "urgency": N_("Urgency"),
    "time_window": N_("Time"),
    "payment": N_("Payment"),
}


# When each time window ends (local clock): an order for today (or urgent) is not offered a
# window that has ended, and once every window has, "today" itself is not offered.
WINDOW_ENDS = {"morning": time(12), "afternoon": time(18), "evening": time(21)}
SAME_DAY = ("today", "urgent")
PAST_WINDOW = N_("That time has already passed today. Please choose another.")


def offered(s: Step, answers: dict[str, Any], now_local: time) -> tuple[Choice, ...]:
    """The choices of ``s`` that still make sense at local clock time ``now_local``."""
    if s.key == "time_window" and answers.get("urgency") in SAME_DAY:
        return tuple(
            c for c in s.choices if c.value not in WINDOW_ENDS or now_local < WINDOW_ENDS[c.value]
        )
    if s.key == "urgency" and all(now_local >= end for end in WINDOW_ENDS.values()):
        return tuple(c for c in s.choices if c.value != "today")
    return s.choices


def check_offered(s: Step, value: str, answers: dict[str, Any], now_local: time) -> None:
    """Refused when ``value`` is a time window that has ended (a button of an earlier message).
    "Today" pressed on an old message after the last window is taken: only "any time" is
    then offered, which the night shift can still serve."""
    if s.key != "time_window":
        return
    if value in {c.value for c in s.choices} - {c.value for c in offered(s, answers, now_local)}:
        raise Refused(PAST_WINDOW)


def stale_window(answers: dict[str, Any], now_local: time) -> bool:
    """Whether the answers hold a time window that, for their urgency, has already ended."""
    window = answers.get("time_window")
    tw = COMMON_STEPS[1]
    return window is not None and window not in {c.value for c in offered(tw, answers, now_local)}


def steps_for(category: str) -> tuple[Step, ...]:
    return KIND_STEPS[category] + COMMON_STEPS


def step(category: str, key: str) -> Step | None:
    return next((s for s in steps_for(category) if s.key == key), None)


def answered(answers: dict[str, Any], s: Step) -> bool:
    if s.key == "description":
        return bool(answers.get("description") or answers.get("photo") or answers.get("voice"))
    if s.key == "gas_account":
        return bool(answers.get("gas_account") or answers.get("photo"))
    return answers.get(s.key) not in (None, "")


def next_step(category: str, answers: dict[str, Any]) -> Step | None:
    """The first question not yet answered; None when the form is complete."""
    return next((s for s in steps_for(category) if not answered(answers, s)), None)


_ACCOUNT = re.compile(r"^[0-9A-Za-z-]{4,30}$")


def clean(key: str, raw: str, max_text: int) -> str:
    """Check a typed answer; Refused with a clear message when it does not fit."""
    value = raw.strip()
    if key in ("budget", "amount"):
        try:
            yuan = amounts.parse_fen(value) // 100  # whole yuan: a budget is a rough figure
        except Refused:
            yuan = 0
        if not 1 <= yuan <= 10000:
            raise Refused(N_("Please type an amount in yuan, for example 80."))
        return str(yuan)
    if key == "gas_account":
        compact = value.replace(" ", "")
        if not _ACCOUNT.match(compact):
            raise Refused(
                N_(
                    "A card or account number has 4 to 30 digits or letters. Please "
                    "type it again, or send a photo of the card."
                )
            )
        return compact
    if key in ("pharmacy", "provider"):
        if not value or len(value) > 40:
            raise Refused(N_("Please type a name of at most {n} characters."), n=40)
        return value
    if key == "description":
        if not value:
            raise Refused(N_("Please describe what you need in a few words."))
        return check_length(value, max_text)
    raise Refused(N_("Please use the buttons to answer."))


def choice_value(category: str, key: str, value: str) -> str:
    s = step(category, key)
    if s is None or value not in {c.value for c in s.choices}:
        raise stale()
    return value
