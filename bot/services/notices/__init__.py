"""Notices from staff to residents: an audience within the author's scope, sent now or at a set
time, one NoticeDelivery and one outbox row per recipient chat written in ONE transaction (so a
restart halfway skips nobody and sends nothing twice: the dispatcher leases each row), a
"Received" button per message, counts, a resend to the unconfirmed and the unconfirmed
households per building for door knocking. No Telegram types here.

One module per concern, their public names gathered here (``notices.create``): `audiences`
(what a scope may address and see), `text` (the words and the time typed), `sending` (create,
cancel, send), `receipts` (confirmations, counts, resends, door knocking).
"""

from __future__ import annotations

from bot.services.notices.audiences import (
    AUDIENCE_LABELS,
    BUILDING,
    CARE,
    COMMUNITY,
    EVERYONE,
    GRID,
    NOT_YOURS,
    VOLUNTEERS,
    Target,
    audiences_for,
    resolve,
    targets,
)
from bot.services.notices.receipts import (
    Counts,
    Household,
    NoticeView,
    confirm,
    counts,
    one,
    recent,
    resend_unconfirmed,
    unconfirmed_by_building,
)
from bot.services.notices.sending import (
    NOTICE_PRIORITY,
    Reach,
    Recipient,
    cancel,
    create,
    reach,
    recipients_of,
    send,
    send_due,
)
from bot.services.notices.text import BAD_TIME, PAST, RECEIVED, check_text, parse_when

__all__ = [
    "AUDIENCE_LABELS",
    "BAD_TIME",
    "BUILDING",
    "CARE",
    "COMMUNITY",
    "EVERYONE",
    "GRID",
    "NOTICE_PRIORITY",
    "NOT_YOURS",
    "PAST",
    "RECEIVED",
    "VOLUNTEERS",
    "Counts",
    "Household",
    "NoticeView",
    "Reach",
    "Recipient",
    "Target",
    "audiences_for",
    "cancel",
    "check_text",
    "confirm",
    "counts",
    "create",
    "one",
    "parse_when",
    "reach",
    "recent",
    "recipients_of",
    "resend_unconfirmed",
    "resolve",
    "send",
    "send_due",
    "targets",
    "unconfirmed_by_building",
]
