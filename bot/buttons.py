"""Buttons as plain data: a label and a short, prefixed action string (``o:claim:123``).

The action carries ids, never authority: every press is re-checked on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Button:
    text: str
    data: str


Rows = list[list[Button]]

# Order actions: o:<verb>:<order id>[:<arg>]
ORDER_VERBS = (
    "claim",
    "buy",
    "go",
    "done",
    "ok",
    "cancel",
    "cxl",
    "rel",
    "relr",
    "detail",
    "prob",
    "thank",
    "again",
    "rate",
    "nf",
    "nfr",
)


def order_action(verb: str, order_id: int, arg: str | None = None) -> str:
    assert verb in ORDER_VERBS
    return f"o:{verb}:{order_id}" + (f":{arg}" if arg else "")


def relay_action(order_id: int) -> str:
    """Open the relay (resident <-> runner messages) for an order."""
    return f"m:to:{order_id}"


def called_back_action(order_id: int, step: str) -> str:
    """✅ 已通知居民: the person who took a phone order called the household back about this
    step (ph:told:<order id>:<step>)."""
    return f"ph:told:{order_id}:{step}"


def urge_action(order_id: int) -> str:
    """🔔 催一催: a resident waiting for a volunteer reminds the staff (w:urge:<order id>)."""
    return f"w:urge:{order_id}"


def input_action(verb: str, input_id: int, order_id: int | None = None) -> str:
    """What to do with what a resident typed during an order (li:<verb>:<input id>[:<order>]):
    ``to`` pass it on about that order, ``no`` keep it to themselves."""
    assert verb in ("to", "no")
    return f"li:{verb}:{input_id}" + (f":{order_id}" if order_id is not None else "")


def payment_action(verb: str, order_id: int) -> str:
    """Payment of what was spent: ``pay:paid`` (the resident paid), ``pay:got`` (the runner
    received it)."""
    assert verb in ("paid", "got")
    return f"pay:{verb}:{order_id}"


def repeat_action(order_id: int) -> str:
    """🔁 Repeat regularly, on a finished order's card: rp:new:<order id>."""
    return f"rp:new:{order_id}"


def to_json(rows: Rows | None) -> list[list[dict[str, Any]]] | None:
    if rows is None:
        return None
    return [[{"text": b.text, "data": b.data} for b in row] for row in rows]


def from_json(raw: list[list[dict[str, Any]]] | None) -> Rows | None:
    if raw is None:
        return None
    return [[Button(b["text"], b["data"]) for b in row] for row in raw]
