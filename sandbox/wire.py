"""How a control operation (:mod:`sandbox.operations`) travels over HTTP, both ways: the
client encodes one into a method, a path, a query and a JSON body; the server decodes the
request back into the same dataclass, converting each value to its field's declared type
(query strings and path segments arrive as text, bytes travel as base64).
"""

from __future__ import annotations

import base64
import dataclasses
import re
import types
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

from .operations import Operation

OpT = TypeVar("OpT", bound=Operation[Any])
_PATH_FIELD = re.compile(r"{(\w+)}")


def path_fields(op_type: type[Operation[Any]]) -> set[str]:
    """The fields an operation's path carries (``{chat_id}``)."""
    return set(_PATH_FIELD.findall(op_type.PATH))


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, tuple):
        return list(value)
    return value


def encode(op: Operation[Any]) -> tuple[str, str, dict[str, Any], dict[str, Any] | None]:
    """(HTTP method, path, query, JSON body or None) for sending ``op``."""
    values = {f.name: getattr(op, f.name) for f in dataclasses.fields(op)}  # type: ignore[arg-type]
    in_path = path_fields(type(op))
    path = op.PATH.format(**{k: values.pop(k) for k in in_path})
    if op.METHOD == "GET":
        return op.METHOD, path, {k: v for k, v in values.items() if v is not None}, None
    return op.METHOD, path, {}, {k: _jsonable(v) for k, v in values.items()}


def _convert(value: Any, hint: Any) -> Any:
    if value is None:
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value == "" and type(None) in args:
            return None  # an empty query value means "not given"
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner)
    if hint is bool:
        return (
            value.strip().lower() in ("1", "true", "yes") if isinstance(value, str) else bool(value)
        )
    if hint is bytes:
        return base64.b64decode(value)
    if hint in (int, float, str):
        return hint(value)
    if origin in (list, Sequence):
        return [_convert(v, args[0]) for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"an object expected, not {value!r}")
        return dict(value)
    return value


def decode(op_type: type[OpT], values: dict[str, Any]) -> OpT:
    """The operation a request carries (``values``: path, query and body merged). A missing
    required field or a value of the wrong type raises KeyError/TypeError/ValueError."""
    hints = typing.get_type_hints(op_type)
    given = {
        f.name: _convert(values[f.name], hints[f.name])
        for f in dataclasses.fields(op_type)  # type: ignore[arg-type]
        if f.name in values
    }
    return op_type(**given)
