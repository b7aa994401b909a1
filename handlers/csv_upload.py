"""A CSV file sent to the bot by staff (buildings and places in /setup, a merchant's product
list): its size checked, downloaded and read as UTF-8, or the sender told why not."""

from __future__ import annotations

from telegram import Message
from telegram.error import TelegramError

from bot.i18n import Gettext


async def read_csv(msg: Message, _: Gettext, max_bytes: int, too_large: str) -> str | None:
    """The document's text; None when the sender was told what is wrong (``too_large``: a
    msgid saying what the file was too large for)."""
    assert msg.document is not None
    if (msg.document.file_size or 0) > max_bytes:
        await msg.reply_text(_(too_large))
        return None
    try:
        data = await (await msg.document.get_file()).download_as_bytearray()
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        await msg.reply_text(
            _("I cannot read this file: please save it as CSV UTF-8 and send it again.")
        )
    except TelegramError:
        await msg.reply_text(_("I could not download the file. Please send it again."))
    return None
