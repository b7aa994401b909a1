"""Partner merchants (爱心商家): adding one (name, kind, the contact's Telegram id, the
communities served) and importing its product list from a CSV file (name, unit, price), all
or nothing, a re-import updating the products by name. Who may do it: admins, and the staff of
every community the merchant serves."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.errors import Refused
from bot.i18n import N_
from bot.services import audit, csvfile
from bot.services.amounts import parse_fen
from bot.services.csvfile import Column, Reason
from bot.services.scope import Scope
from models import Community, Merchant, MerchantCommunity, Product

KINDS = ("超市", "药店", "菜店", "其他")
NO_MERCHANT = N_("There is no merchant {merchant}.")
NOT_YOUR_MERCHANT = N_("This merchant does not serve a community of yours.")
NAME_MAX, UNIT_MAX = 64, 16


@dataclass(frozen=True)
class MerchantInfo:
    id: int
    name: str
    kind: str
    contact_telegram_id: int
    community_ids: tuple[int, ...]


async def info(session: AsyncSession, merchant: Merchant) -> MerchantInfo:
    ids = (
        await session.scalars(
            select(MerchantCommunity.community_id)
            .where(MerchantCommunity.merchant_id == merchant.id)
            .order_by(MerchantCommunity.community_id)
        )
    ).all()
    return MerchantInfo(
        merchant.id, merchant.name, merchant.kind, merchant.contact_telegram_id, tuple(ids)
    )


async def find(session: AsyncSession, ref: str) -> Merchant:
    """A merchant by its name, or its id."""
    ref = ref.strip()
    m = await session.scalar(select(Merchant).where(Merchant.name == ref))
    if m is None and ref.isdigit() and len(ref) <= 9:
        m = await session.get(Merchant, int(ref))
    if m is None:
        raise Refused(NO_MERCHANT, merchant=ref)
    return m


async def require_covered(session: AsyncSession, scope: Scope, merchant: Merchant) -> None:
    """Admins any merchant; community staff those serving one of their communities."""
    if scope.admin:
        return
    served = set((await info(session, merchant)).community_ids)
    if not served & set(scope.communities):
        raise Refused(NOT_YOUR_MERCHANT)


async def serves_locked(
    session: AsyncSession, merchant_id: int, community_id: int
) -> MerchantCommunity | None:
    """That the merchant serves the community, its row locked for the rest of the
    transaction: opening a group-buy and taking the merchant off the community lock it both."""
    return await session.scalar(
        select(MerchantCommunity)
        .where(
            MerchantCommunity.merchant_id == merchant_id,
            MerchantCommunity.community_id == community_id,
        )
        .with_for_update()
    )


def check_name(name: str) -> str:
    """A merchant's name as given (on the command line or in /merchants), spaces tidied."""
    name = " ".join(name.split())
    if not name or len(name) > NAME_MAX or csvfile.cell_problem("name", name):
        raise Refused(N_("Please give the merchant a name of at most {n} characters."), n=NAME_MAX)
    return name


async def add(
    session: AsyncSession,
    clock: Clock,
    actor: int | None,
    *,
    name: str,
    kind: str,
    contact_telegram_id: int,
    communities: list[str],
) -> tuple[MerchantInfo, bool]:
    """Add a merchant, or update the one of that name (kind, contact, communities). The
    communities by code or name. (the merchant, whether it was created)"""
    name = check_name(name)
    if not communities:
        raise Refused(N_("Please name at least one community the merchant serves."))
    ids: list[int] = []
    for ref in communities:
        cid = await session.scalar(
            select(Community.id).where((Community.code == ref) | (Community.name == ref))
        )
        if cid is None:
            raise Refused(N_("There is no community {code}."), code=ref)
        ids.append(cid)
    m = await session.scalar(select(Merchant).where(Merchant.name == name))
    created = m is None
    if m is None:
        m = Merchant(
            name=name, kind=kind, contact_telegram_id=contact_telegram_id, created_at=clock.now()
        )
        session.add(m)
        await session.flush()
    else:
        m.kind, m.contact_telegram_id = kind, contact_telegram_id
    have = set(
        (
            await session.scalars(
                select(MerchantCommunity.community_id).where(MerchantCommunity.merchant_id == m.id)
            )
        ).all()
    )
    for cid in dict.fromkeys(ids):
        if cid not in have:
            session.add(MerchantCommunity(merchant_id=m.id, community_id=cid))
    await session.flush()
    await audit.record(
        session, clock, actor, "merchant.added" if created else "merchant.updated", name
    )
    return await info(session, m), created


async def products(session: AsyncSession, merchant_id: int) -> list[Product]:
    return list(
        (
            await session.scalars(
                select(Product).where(Product.merchant_id == merchant_id).order_by(Product.id)
            )
        ).all()
    )


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _check(line: int, value: dict[str, str]) -> tuple[tuple[str, str, int] | None, list[str]]:
    reasons: list[str] = []
    name, unit, price = value["name"], value["unit"], value["price"]
    if not name:
        reasons.append(Reason(N_("{column} is empty"), column=Column("name")))
    elif len(name) > NAME_MAX:
        reasons.append(
            Reason(N_("{column} is longer than {n} characters"), column=Column("name"), n=NAME_MAX)
        )
    if not unit:
        reasons.append(Reason(N_("{column} is empty"), column=Column("unit")))
    elif len(unit) > UNIT_MAX:
        reasons.append(
            Reason(N_("{column} is longer than {n} characters"), column=Column("unit"), n=UNIT_MAX)
        )
    fen = 0
    try:
        fen = parse_fen(price)
        if fen <= 0:
            reasons.append(Reason(N_("{column} must be more than 0"), column=Column("price")))
    except Refused:
        reasons.append(
            Reason(
                N_("{column} {value} is not a price such as 3.50"),
                column=Column("price"),
                value=repr(price),
            )
        )
    if reasons:
        return None, reasons
    return (name, unit, fen), []


async def import_products(
    session: AsyncSession, clock: Clock, actor: int | None, merchant: Merchant, text: str
) -> ImportResult:
    """Check every line; if any is bad, nothing is written. Else each product is created or
    updated by name (a product not in the file is left as it is)."""
    table = csvfile.read(text, ("name", "unit", "price"))
    result = ImportResult(rows=table.count, errors=list(table.errors))
    good = csvfile.check_lines(table.lines, _check, result.errors)
    seen: dict[str, int] = {}
    for line, value in table.lines:
        if value["name"] in seen:
            result.errors.append(
                (
                    line,
                    Reason(
                        N_("{column} {value} is already on line {line}"),
                        column=Column("name"),
                        value=repr(value["name"]),
                        line=seen[value["name"]],
                    ),
                )
            )
        seen.setdefault(value["name"], line)
    result.errors.sort()
    if result.errors:
        return result
    existing = {p.name: p for p in await products(session, merchant.id)}
    now = clock.now()
    for name, unit, fen in good:
        p = existing.get(name)
        if p is None:
            session.add(
                Product(
                    merchant_id=merchant.id, name=name, unit=unit, price_fen=fen, updated_at=now
                )
            )
            result.created += 1
        elif (p.unit, p.price_fen) != (unit, fen):
            p.unit, p.price_fen, p.updated_at = unit, fen, now
            result.updated += 1
        else:
            result.unchanged += 1
    await session.flush()
    await audit.record(session, clock, actor, "merchant.products", merchant.name, rows=result.rows)
    return result


async def serving(session: AsyncSession, scope: Scope) -> list[Merchant]:
    """The merchants serving a community this scope covers (any for an admin; for a grid
    leader, those of the grid's community)."""
    q = select(Merchant).order_by(Merchant.id)
    if not scope.admin:
        from models import Grid

        communities = set(scope.communities)
        if scope.grids:
            grids = await session.scalars(select(Grid.community_id).where(Grid.id.in_(scope.grids)))
            communities |= set(grids)
        q = q.where(
            Merchant.id.in_(
                select(MerchantCommunity.merchant_id).where(
                    MerchantCommunity.community_id.in_(communities)
                )
            )
        )
    return list((await session.scalars(q)).all())
