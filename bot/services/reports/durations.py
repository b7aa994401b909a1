"""Durations and medians computed by the database: `seconds_between` (the seconds from one
timestamp column to another, one expression per dialect: SQLite's julianday, PostgreSQL's
epoch of an interval) and `median` (the middle value of such an expression over some rows, by
ORDER BY ... LIMIT ... OFFSET), so a month of orders is never turned into Python datetimes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class seconds_between(FunctionElement[float]):
    """``seconds_between(start, end)``: end - start in seconds (a float), in SQL."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_between(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL (and the SQL standard's intervals): the epoch of the difference.
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps the timestamps as text; julianday reads them (fractional seconds included).
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


async def median(
    session: AsyncSession,
    value: ColumnElement[Any],
    *where: ColumnElement[bool],
    n: int | None = None,
) -> float | None:
    """The median of ``value`` over the rows of its table(s) matching ``where`` (None if there
    are none), as `statistics.median` gives it: the middle value, or the mean of the two
    middle ones. Two queries: the count (unless the caller knows it already: ``n``, which
    must be the number of rows matching ``where``), then the one or two middle values in
    order."""
    if n is None:
        n = int(await session.scalar(select(func.count()).where(*where)) or 0)
    if n == 0:
        return None
    middle: list[Any] = list(
        await session.scalars(
            select(value)
            .where(*where)
            .order_by(value)
            .limit(1 if n % 2 else 2)
            .offset((n - 1) // 2)
        )
    )
    return sum(float(v) for v in middle) / len(middle)
