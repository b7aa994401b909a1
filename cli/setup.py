"""`paotui import FILE` (a community's grids, compounds and buildings from a CSV file) and
`paotui qr` (the building posters with the registration QR code)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any, TextIO

from bot.config import Settings
from cli.common import database, read_text, run_import, settings_from

if TYPE_CHECKING:
    from bot.services.setup import Poster

IMPORT_HELP = """\
Set up communities, grids, compounds and buildings from a CSV file (UTF-8; Excel's UTF-8 CSV
is fine). The first line is the header; then one line per building:

  community,community_code,grid,compound,building,building_code,units
  阳光社区,yangguang,第一网格,阳光花园,1栋,yg1,4
  阳光社区,yangguang,第一网格,阳光花园,2栋,yg2,
  阳光社区,yangguang,第二网格,桃李苑,A座,tlA,6

  community       the community's name
  community_code  its short code (letters, digits, _; at most 32): the same code is the same
                  community, created the first time it is seen
  grid            the grid's name within the community (created if new)
  compound        the compound (小区) within the community (created if new)
  building        the building's name, as residents see it
  building_code   the building's code, unique over all communities (letters, digits, _; at
                  most 32): the QR poster links to it. A code already used by the same
                  building updates its grid and units; used by another building, an error
  units           how many units (单元) the building has; blank means 1
  hotline         (optional column) the community's phone number, given to a resident whose
                  order nobody takes; lines of one community that name it must agree

Every line is checked first. If any line is bad, each is printed with its number and the
reason, nothing is imported, and the exit status is 1. Otherwise everything is written in one
transaction and the counts created/updated/unchanged are printed. Importing the same file
again changes nothing. A grid's volunteer group is linked in the bot, not here.
"""

QR_HELP = """\
Write a PDF with one A4 page per building to print and put up at its entrance: the community,
compound and building names, "扫码登记，足不出户请志愿者跑腿", and the QR code of
https://t.me/<bot username>?start=b_<building code>, which opens the bot with the building
filled in. The bot's username cannot be asked from Telegram offline: give it with
--bot-username, or set username in the [bot] section of the config (PAOTUI_BOT__USERNAME).

The text is set in WenQuanYi Micro Hei, which comes with paotui (the Python package
paperang-p2-fonts-cjk) and is embedded in the PDF, so the posters print the same on any
machine or at a print shop, with or without Chinese fonts. --font FILE embeds another font
instead: it must have TrueType outlines (.ttf, or a .ttc, whose first font is used) and
Chinese characters; a font with PostScript (CFF) outlines, such as Noto Sans CJK's .otf and
.ttc files, cannot be embedded and is refused with the reason (exit status 2).
"""


async def setup_import(settings: Settings, text: str, name: str, out: TextIO, err: TextIO) -> int:
    """Check every line, then import all or nothing; the exit status."""
    from bot.services import setup

    result = await run_import(settings, setup.import_csv, text, name, err)
    if result is None:
        return 1
    print(f"communities: {result.communities}", file=out)
    print(f"grids:       {result.grids}", file=out)
    print(f"compounds:   {result.compounds}", file=out)
    print(f"buildings:   {result.buildings}", file=out)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    text = read_text(args.file)
    if text is None:
        return 2
    return asyncio.run(setup_import(settings, text, args.file, sys.stdout, sys.stderr))


async def load_posters(settings: Settings, community: str | None) -> list[Poster]:
    from bot.services import setup

    async with database(settings) as db, db.read() as session:
        return await setup.posters(session, community)


def write_posters(
    items: list[Poster], out_file: str, bot_username: str, font: str | None, community: str | None
) -> int:
    from bot.services import setup

    if not items:
        where = f"in the community {community!r}" if community else "in the database"
        print(f"no buildings {where}; nothing written", file=sys.stderr)
        return 1
    from bot.services.poster_font import FontError

    try:
        pdf = setup.posters_pdf(items, bot_username, font)
    except FontError as exc:
        print(f"cannot make the posters: {exc}", file=sys.stderr)
        return 2
    try:
        with open(out_file, "wb") as fh:
            fh.write(pdf)
    except OSError as exc:
        print(f"cannot write {out_file}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(items)} poster(s) to {out_file}")
    return 0


def cmd_qr(args: argparse.Namespace) -> int:
    from bot.services import setup

    settings = settings_from(args)
    # One bot per community ([[bots]]): each community's posters link to its own bot.
    fallback = settings.bots[0].username if settings.bots else None
    username = args.bot_username or settings.bot.username or fallback
    if not username:
        print(
            "the bot's username is needed: pass --bot-username NAME "
            "or set username in [bot] of the config",
            file=sys.stderr,
        )
        return 2
    if not setup.valid_bot_username(username):
        print(f"{username!r} is not a Telegram bot username", file=sys.stderr)
        return 2
    items = setup.for_bots(asyncio.run(load_posters(settings, args.community)), settings)
    return write_posters(items, args.out, username.removeprefix("@"), args.font, args.community)


def add_setup_commands(sub: Any) -> None:
    """Register `import` and `qr` on the top-level subparsers of `paotui`."""
    imp = sub.add_parser(
        "import",
        help="set up communities, grids, compounds and buildings from a CSV file",
        description=IMPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("file", help="the CSV file")
    imp.set_defaults(func=cmd_import)

    qr = sub.add_parser(
        "qr",
        help="print-ready PDF: one registration QR poster per building",
        description=QR_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    qr.add_argument("--community", metavar="CODE", help="only this community's buildings")
    qr.add_argument("--out", metavar="FILE.pdf", default="posters.pdf", help="default posters.pdf")
    qr.add_argument(
        "--bot-username",
        metavar="NAME",
        help="the bot's @username (default: username in [bot] of the config; "
        "it cannot be looked up offline)",
    )
    qr.add_argument("--font", metavar="FILE.ttf", help="embed this CJK TrueType font")
    qr.set_defaults(func=cmd_qr)
