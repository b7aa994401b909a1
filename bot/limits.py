"""Telegram's own limits on what the bot sends, and the check that keeps people's text within them.

Telegram refuses a message whose text is longer than 4,096 characters, or a photo or document
whose caption is longer than 1,024 ("Bad Request: message is too long" / "message caption is
too long"). It counts them as it counts entity offsets: in UTF-16 code units of the text after
entity parsing. The bot sends plain text (no parse_mode), so that is the text as sent, and an
emoji outside the Basic Multilingual Plane (most of them, and rare CJK characters) counts twice.

Where the bot wraps someone's text in its own template (a notice's header, a relayed message's
"💬 name about order:"), the message as rendered must fit, not only the text typed: `check_fits`
measures the rendered messages and, when one is too long, tells the person how long their text
is and how much of it fits, so they can send a shorter one (their draft is kept).
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.errors import Refused
from bot.i18n import N_

TEXT_LIMIT = 4096  # a message's text
CAPTION_LIMIT = 1024  # a photo's or a document's caption

TOO_LONG_TO_SEND = N_(
    "That is too long to send: {n} characters, and at most {limit} fit here (an emoji counts "
    "as two). Please send a shorter text; nothing else is lost."
)


def tg_len(text: str) -> int:
    """The length Telegram measures: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def limit_for(has_media: bool) -> int:
    """A caption's limit when the message carries a photo or a document, a text's otherwise."""
    return CAPTION_LIMIT if has_media else TEXT_LIMIT


def room(text: str, rendered: str, limit: int) -> int:
    """How long ``text`` may be (Telegram's measure) for ``rendered``, which holds it, to fit."""
    return max(0, limit - (tg_len(rendered) - tg_len(text)))


def check_fits(text: str, rendered: Iterable[str], limit: int) -> None:
    """Refused (TOO_LONG_TO_SEND) if any of the messages ``rendered`` from ``text`` (one per
    template or language) is longer than ``limit``; the limit told is the room the longest
    template leaves for the text."""
    too_long = [r for r in rendered if tg_len(r) > limit]
    if too_long:
        fits = min(room(text, r, limit) for r in too_long)
        raise Refused(TOO_LONG_TO_SEND, n=tg_len(text), limit=fits)


def chunks(lines: list[str], limit: int = TEXT_LIMIT) -> list[str]:
    """Lines joined into messages of at most ``limit`` (Telegram's measure); a line longer than
    that is split over several messages, not cut."""
    out: list[str] = []
    current, size = "", 0
    for whole in lines:
        for line in _pieces(whole, limit):
            n = tg_len(line)
            if current and size + 1 + n > limit:
                out.append(current)
                current, size = line, n
            elif current:
                current, size = f"{current}\n{line}", size + 1 + n
            else:
                current, size = line, n
    out.append(current)
    return out


def _pieces(line: str, limit: int) -> list[str]:
    if tg_len(line) <= limit:
        return [line]
    pieces, piece, size = [], "", 0
    for ch in line:
        n = tg_len(ch)
        if size + n > limit:
            pieces.append(piece)
            piece, size = "", 0
        piece += ch
        size += n
    pieces.append(piece)
    return pieces
