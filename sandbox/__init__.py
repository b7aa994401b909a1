"""Local Telegram Bot API emulator for tests and demos (no network, no real Telegram), and a
browser page over it (:mod:`sandbox.web`: a phone per user, live).

How it is built: :mod:`.telegram` composes the emulated Telegram from the world of bots, users
and chats (:mod:`.world`), membership (:mod:`.membership`), what people do (:mod:`.people`),
stored files (:mod:`.files`), limits and faults (:mod:`.faults`) and the update queue
(:mod:`.updates`); :mod:`.api` holds the Bot API methods; :mod:`.server` serves both the Bot
API and the control operations (declared once in :mod:`.operations`, routed by
:mod:`.control`, sent by :mod:`.client`); :mod:`.emulator` is the served whole.

Only stdlib, aiohttp and httpx are used: nothing from the bot's own packages.
"""

from .client import SandboxClient, render_message
from .emulator import Emulator
from .errors import ApiError, SandboxError
from .telegram import Telegram

__all__ = ["ApiError", "Emulator", "SandboxClient", "SandboxError", "Telegram", "render_message"]
