"""The suite-wide privacy guard (DESIGN rule 6): no phone number, name or room of a registered
resident or order recipient may appear in anything the bot shows a group or supergroup.

``GroupLog`` listens to the emulator and keeps every version of every bot message in a group
(each new message and each edit, text or caption, with its button labels). The ``harness``
fixture checks them all against the test's own database when the test ends, so a test that
makes the bot leak fails whatever it was testing.

The check is written independently of bot/services/redact.py on purpose: it must catch what
the redactor misses, not share its blind spots.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from models import Order, Recipient, Resident, Staff, Volunteer

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_CN_DIGITS = str.maketrans("零〇一二三四五六七八九两壹贰叁肆伍陆柒捌玖", "001234567892123456789")
# Letters that pass for digits next to digits (138OO138OOO, 1380013800l).
_LOOKALIKE = re.compile(r"(?<=\d)[OoQDlI|]+(?![A-Za-z])|(?<![A-Za-z])[OoQDlI|]+(?=\d)")
_AS_DIGIT = str.maketrans("OoQDlI|", "0000111")
# Anything that is not a letter or digit, between two digits: 138.0013-8000, 138 0013 8000.
_BETWEEN_DIGITS = re.compile(r"(?<=\d)[\W_]{1,3}(?=\d)")


def as_digits(text: str) -> str:
    """The text with every way of writing a digit turned into 0-9: full-width, circled and
    superscript digits (NFKC), Chinese numerals, look-alike letters; zero-width marks gone."""
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).translate(_CN_DIGITS)
    return _LOOKALIKE.sub(lambda m: m.group().translate(_AS_DIGIT), text)


def digits_view(text: str) -> str:
    """``as_digits`` with the separators between digits removed, so a phone number shows as
    one run however it was spaced or punctuated."""
    return _BETWEEN_DIGITS.sub("", as_digits(text))


def _digits(phone: str) -> str:
    d = re.sub(r"\D", "", phone)
    return d[2:] if len(d) == 13 and d.startswith("86") else d


@dataclass(frozen=True)
class Personal:
    """What identifies one resident, recipient or order contact."""

    name: str
    phone: str
    unit: str
    room: str


def find_leaks(text: str, people: list[Personal], public_names: Collection[str] = ()) -> list[str]:
    """What of ``people`` shows in ``text``: "phone …", "name …", "room …" findings (empty
    when the text is clean). ``public_names`` (volunteers, staff) are skipped: a runner's name
    in a group is expected, and may be a resident's too."""
    found: set[str] = set()
    run = digits_view(text)
    spelled = as_digits(text)
    plain = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    for p in people:
        phone = _digits(p.phone)
        if len(phone) >= 7 and phone in run:
            found.add(f"phone {p.phone}")
        name = p.name.strip()
        if len(name) >= 2 and name not in public_names and name in plain:
            found.add(f"name {name}")
        room = re.escape(p.room.strip())
        if (
            room
            and p.room.strip() in spelled
            and any(
                re.search(pattern, spelled)
                for pattern in (
                    rf"(?<![0-9A-Za-z]){re.escape(p.unit)}\s*[-－—–]\s*{room}(?![0-9A-Za-z])",
                    rf"(?<![0-9A-Za-z#]){room}\s*(室|号|房)",
                    # A bare room number of 3+ characters, not an order id, a time or a decimal.
                    rf"(?<![0-9A-Za-z#:.\-]){room}(?![0-9A-Za-z:])" if len(room) >= 3 else r"(?!)",
                )
            )
        ):
            found.add(f"room {p.room}")
    return sorted(found)


def _message_text(msg: dict[str, Any]) -> str:
    labels = [
        b.get("text", "")
        for row in (msg.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]
    return "\n".join([msg.get("text") or "", msg.get("caption") or "", *labels]).strip()


@dataclass
class GroupLog:
    """Every version of every message the bot showed in a group, as the emulator saw it."""

    versions: list[tuple[int, int, str]] = field(default_factory=list)  # (chat, message, text)
    _seen: set[tuple[int, int, str]] = field(default_factory=set)
    # The file ids of every picture shown in a group, by (chat, message).
    pictures: dict[str, tuple[int, int]] = field(default_factory=dict)

    def attach(self, emu: Any) -> GroupLog:
        emu.listeners.append(self.on_change)
        return self

    def on_change(self, chat: Any, msg: dict[str, Any] | None) -> None:
        if msg is None or chat.type == "private" or not msg.get("outgoing"):
            return
        for size in msg.get("photo") or []:
            self.pictures.setdefault(size.get("file_id", ""), (chat.id, int(msg["message_id"])))
        key = (chat.id, int(msg["message_id"]), _message_text(msg))
        if key[2] and key not in self._seen:
            self._seen.add(key)
            self.versions.append(key)

    def clear(self) -> None:
        self.versions.clear()
        self._seen.clear()
        self.pictures.clear()


async def personal_data(rt: Any) -> tuple[list[Personal], set[str]]:
    """The test database's residents, recipients and order contacts; and the names that are
    public in groups (volunteers, staff)."""
    async with rt.db.read() as s:
        people = [
            Personal(r.name, r.phone, r.unit, r.room)
            for r in [*(await s.scalars(select(Resident))), *(await s.scalars(select(Recipient)))]
        ]
        people += [
            Personal(o.contact_name, o.contact_phone, o.unit, o.room)
            for o in await s.scalars(select(Order))
        ]
        public = set(await s.scalars(select(Volunteer.name)))
        public |= set(await s.scalars(select(Staff.name)))
    return list(dict.fromkeys(people)), public


async def group_leaks(rt: Any, log: GroupLog) -> list[str]:
    """One line per message version that shows someone's personal data in a group."""
    people, public = await personal_data(rt)
    out = []
    for chat_id, message_id, text in log.versions:
        leaks = find_leaks(text, people, public)
        if leaks:
            out.append(f"chat {chat_id} message {message_id}: {', '.join(leaks)} in {text!r}")
    # A volunteer's payment QR code is for the residents they deliver to, privately.
    async with rt.db.read() as s:
        codes = set(await s.scalars(select(Volunteer.pay_qr).where(Volunteer.pay_qr.is_not(None))))
    for file_id, (chat_id, message_id) in log.pictures.items():
        if file_id in codes:
            out.append(f"chat {chat_id} message {message_id}: a volunteer's payment QR code")
    return out
