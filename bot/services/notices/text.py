"""A notice's words: the text staff typed (checked against the config's limit and what
Telegram takes, in every language), the time they typed for a scheduled one, and the message
and "Received" button each recipient gets."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.buttons import Button, to_json
from bot.errors import Refused, check_length
from bot.i18n import LANGUAGES, N_, gettext_for
from bot.limits import check_fits, limit_for

RECEIVED = N_("✅ Received")
HEADER = N_("Notice from the community")


def check_text(text: str, has_media: bool, limit: int) -> str:
    """The notice's text, stripped; Refused if empty, longer than ``limit`` (the config's), or
    too long for Telegram once in the message every recipient gets (in any language; a caption
    with a photo or a PDF)."""
    text = text.strip()
    if not text and not has_media:
        raise Refused(N_("The notice is empty. Please type the text of the notice."))
    check_length(text, limit)
    check_fits(text, (body(lang, text) for lang in LANGUAGES), limit_for(has_media))
    return text


BAD_TIME = N_("Please give the time as HH:MM (today) or YYYY-MM-DD HH:MM, e.g. 18:30.")
PAST = N_("That time has passed. Please give a time in the future.")


def parse_when(text: str, now: datetime, tz: str) -> datetime:
    """A local time typed by staff (HH:MM today, or YYYY-MM-DD HH:MM), in UTC."""
    zone = ZoneInfo(tz)
    t = " ".join(text.split())
    try:
        if m := re.fullmatch(r"(\d{1,2})[:：](\d{2})", t):
            local = now.astimezone(zone).replace(
                hour=int(m[1]), minute=int(m[2]), second=0, microsecond=0
            )
        else:
            local = datetime.strptime(t, "%Y-%m-%d %H:%M").replace(tzinfo=zone)
    except ValueError:
        raise Refused(BAD_TIME) from None
    if local <= now:
        raise Refused(PAST)
    return local.astimezone(UTC)


def body(lang: str, text: str) -> str:
    return "📢 " + gettext_for(lang)(HEADER) + "\n\n" + text


def received_buttons(
    lang: str, notice_id: int, *, groupbuy: bool = False
) -> list[list[dict[str, Any]]] | None:
    """✅, and for a group-buy's announcement 🛒 too (issue 17), which stays after ✅."""
    _ = gettext_for(lang)
    rows = [[Button(_(RECEIVED), f"n:ok:{notice_id}")]]
    if groupbuy:
        rows += groupbuy_rows(lang, notice_id)
    return to_json(rows)


GROUPBUY_JOIN = N_("🛒 Take part / change")


def groupbuy_rows(lang: str, notice_id: int) -> list[list[Button]]:
    """The 🛒 of a group-buy's announcement (bot.services.groupbuys.texts.join_data)."""
    return [[Button(gettext_for(lang)(GROUPBUY_JOIN), f"gb:j:{notice_id}")]]
