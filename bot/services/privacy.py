"""Personal data: what leaves the bot for operators, how long raw data is kept, and erasing a
household on request (PIPL, China's Personal Information Protection Law).

- ``scrub`` / ``error_report``: a traceback bound for the operator chat without phone numbers.
"""

from __future__ import annotations

import re
import traceback

# A run of 7 or more digits, possibly split by spaces, dots or dashes (138 0013 8000,
# 138-0013-8000): a phone number, or a Telegram id; neither belongs in an error report.
# Line numbers and small counts in a traceback are shorter and stay readable.
_PHONE_LIKE = re.compile(r"(?<!\d)\d(?:[ .\-]?\d){6,}(?!\d)")

REPORT_LIMIT = 3000  # characters of the traceback's end (Telegram allows 4,096 per message)


def scrub(text: str) -> str:
    """``text`` with every phone-like run of digits replaced by a placeholder."""
    return _PHONE_LIKE.sub("<digits>", text)


def error_report(error: BaseException) -> str:
    """The end of ``error``'s traceback for the operator chat, phone-like digits scrubbed.

    SQL parameters (a resident's phone, name, address) never reach here in the first place:
    the engines are built with ``hide_parameters`` (bot/db.py). This is the second net for
    anything else that quoted personal digits in an exception message."""
    text = "".join(traceback.format_exception(error))
    return scrub(text)[-REPORT_LIMIT:]
