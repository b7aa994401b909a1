"""The outbox (DESIGN rule 4): messages owed are rows written with the change that owes them;
a dispatcher sends them within Telegram's limits, retries 429 and 5xx after the server's
``retry_after``, and records the result and the message id. Nothing here knows Telegram: a
channel supplies a ``Sender``.

One module per concern: ``rows`` (writing the rows: ``enqueue``, ``enqueue_edit``, ``row``,
``buttons_row``, ``pin_row``), ``channel`` (what the dispatcher and a channel exchange),
``pacer`` (the rate limits), ``leases`` (taking, keeping and taking back a row being sent),
``dispatcher`` (the sending loop and what it records of each send) and ``wakeup`` (waking the
leader's dispatcher from another instance: LISTEN/NOTIFY). Callers use this package's names:
``from bot import outbox; outbox.enqueue(...)``.
"""

from bot.outbox.channel import ChatEvents, Outgoing, Sender, SendResult
from bot.outbox.dispatcher import UPGRADED, Dispatcher
from bot.outbox.leases import LEASE, RENEW_EVERY
from bot.outbox.pacer import FLIGHT_POLL, LONGEST_FLIGHT, Flight, Limits, PaceClock, Pacer
from bot.outbox.rows import buttons_row, enqueue, enqueue_edit, is_buttons_only, pin_row, row

__all__ = [
    "FLIGHT_POLL",
    "LEASE",
    "LONGEST_FLIGHT",
    "RENEW_EVERY",
    "UPGRADED",
    "ChatEvents",
    "Dispatcher",
    "Flight",
    "Limits",
    "Outgoing",
    "PaceClock",
    "Pacer",
    "SendResult",
    "Sender",
    "buttons_row",
    "enqueue",
    "enqueue_edit",
    "is_buttons_only",
    "pin_row",
    "row",
]
