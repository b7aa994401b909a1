"""Local Telegram Bot API emulator for tests and demos (no network, no real Telegram), and a
browser page over it (:mod:`sandbox.web`: a phone per user, live).

Only stdlib, aiohttp and httpx are used: nothing from the bot's own packages.
"""

from .client import SandboxClient, render_message
from .emulator import Emulator
from .errors import ApiError, SandboxError

__all__ = ["ApiError", "Emulator", "SandboxClient", "SandboxError", "render_message"]
