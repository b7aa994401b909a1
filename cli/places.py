"""`paotui places import FILE`: a community's distribution points (物资配送点) and checkpoints
(卡口), and the buildings each serves, from a CSV file (bot/services/places.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from bot.config import Settings
from cli.common import read_text, run_import, settings_from

IMPORT_HELP = """\
Import a community's distribution points (物资配送点) and checkpoints (卡口) from a CSV file
(UTF-8; Excel's UTF-8 CSV is fine), after its buildings (paotui import). The first line is
the header; then one line per place:

  community_code,place,kind,location,pickup_times,buildings
  yangguang,北门配送点,point,北门外空地,"每天 9:00-11:00, 16:00-18:00",yg1 yg2
  yangguang,东门卡口,checkpoint,东门,每天 8:00-20:00,tlA

  community_code  the community's code, as in the buildings file
  place           the place's name, as residents say it; the same name is the same place
  kind            point (配送点, 物资配送点) or checkpoint (卡口)
  location        (optional) where it is, in a few words
  pickup_times    (optional) when residents may pick up there, as text
  buildings       the codes of the buildings it serves, separated by spaces, commas or 、;
                  a building listed moves to this place, one not listed keeps its place

Every line is checked first. If any line is bad, each is printed with its number and the
reason, nothing is imported, and the exit status is 1. Importing the same file again changes
nothing. Staff can also send the file to the bot in a private chat.
"""


async def places_import(settings: Settings, text: str, name: str, out: TextIO, err: TextIO) -> int:
    from bot.services import places

    result = await run_import(settings, places.import_csv, text, name, err)
    if result is None:
        return 1
    print(f"places:    {result.places}", file=out)
    print(f"buildings: {result.buildings}", file=out)
    return 0


def cmd_places_import(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    text = read_text(args.file)
    if text is None:
        return 2
    return asyncio.run(places_import(settings, text, args.file, sys.stdout, sys.stderr))


def register_places_parser(sub: Any) -> None:
    places = sub.add_parser("places", help="distribution points and checkpoints")
    psub = places.add_subparsers(dest="places_command", required=True)
    imp = psub.add_parser(
        "import",
        help="import places and the buildings each serves from a CSV file",
        description=IMPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("file", help="the CSV file")
    imp.set_defaults(func=cmd_places_import)
