"""The control API's one declaration per operation: the server has a route for each, the
client a method for each, and an operation survives the trip over the wire unchanged."""

from __future__ import annotations

import inspect

from sandbox import operations as op
from sandbox.client import SandboxClient, remote
from sandbox.control import ROUTES
from sandbox.wire import decode, encode, path_fields

ALL = [
    cls
    for cls in vars(op).values()
    if inspect.isclass(cls) and issubclass(cls, op.Operation) and cls is not op.Operation
]


def test_every_operation_has_one_route_and_a_client_method() -> None:
    routed = [route.op for route in ROUTES] + [op.Health]  # Health: the server answers it
    assert sorted(c.__name__ for c in routed) == sorted(c.__name__ for c in ALL)
    assert len({(c.METHOD, c.PATH) for c in ALL}) == len(ALL)
    sent = {v.operation for v in vars(SandboxClient).values() if isinstance(v, remote)}
    # WatchChat and SetLimits are sent by wait_for and set_limits.
    assert set(ALL) - sent == {op.WatchChat, op.SetLimits}


def test_an_operation_crosses_the_wire_unchanged() -> None:
    samples = [
        op.SendDocument(7, b"\x00\xffpdf", "r.pdf", chat_id=-100, reply_to=3, token="t"),
        op.CreateGroup("g", [1, 2], with_bot=False, group_id=-5),
        op.Press(1, 1, 4, "take:7", True),
        op.Messages(9, after=2, token="t"),
        op.SetLimits({"private_rate": None, "group_rate": 3.0}),
        op.Stall(-100, after_delivery=True),
    ]
    for sent in samples:
        method, path, query, body = encode(sent)
        assert method == sent.METHOD
        in_path = {f: str(getattr(sent, f)) for f in path_fields(type(sent))}
        assert path == sent.PATH.format(**in_path)
        # What the server sees: text in the query and path, JSON in the body.
        values = {**{k: str(v) for k, v in query.items()}, **(body or {}), **in_path}
        assert decode(type(sent), values) == sent
