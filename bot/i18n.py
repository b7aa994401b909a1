"""gettext catalogs through Babel. Source strings are English; zh_CN is the default language.

Catalogs are read from the .po files at start-up (compiled in memory), so there is no build step
and no stale .mo file to forget.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"

Gettext = Callable[[str], str]


def N_(message: str) -> str:
    return message


# An English message with its plural, chosen by a count when shown ("1 task", "2 tasks"). Marked
# with P_() where it is declared; `make i18n` extracts P_ and ngettext as plural messages.
Plural = tuple[str, str]


def P_(singular: str, plural: str) -> Plural:
    return (singular, plural)


def ngettext(_: Gettext, message: str | Plural, n: int) -> str:
    """``message`` in the language of ``_`` (a gettext from `gettext_for`), in its form for
    ``n``: Chinese has one form, English two. A plain string is translated as it is."""
    if isinstance(message, str):
        return _(message)
    owner = getattr(_, "__self__", None)
    if isinstance(owner, gettext.NullTranslations):
        return owner.ngettext(message[0], message[1], n)
    return message[0] if n == 1 else message[1]  # not a catalog's gettext: English rules


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=8)
def translations(language: str) -> gettext.NullTranslations:
    path = po_path(language)
    if language == "en" or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buf = BytesIO()
    write_mo(buf, catalog)  # fuzzy entries are left out, as msgfmt does
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def normalize(language: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """Map a stored choice or a Telegram language_code (optional, often absent) to ours."""
    if not language:
        return default
    low = language.lower().replace("-", "_")
    if low.startswith("zh"):
        return "zh_CN"
    if low.startswith("en"):
        return "en"
    return default


def gettext_for(language: str | None) -> Gettext:
    return translations(normalize(language)).gettext


def local_time(dt: datetime, timezone: str, fmt: str = "%H:%M") -> str:
    return dt.astimezone(ZoneInfo(timezone)).strftime(fmt)
