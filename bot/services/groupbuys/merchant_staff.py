"""Partner merchants managed by community staff in the bot (/merchants): the list of those
serving the staff member's communities, adding one (or updating the one of that name), changing
its contact person, and taking it off one of their communities. Admins act on any merchant and
community; community staff on their own communities; grid leaders, volunteers and residents not
at all. The contact person is told in private when they become (or stop being) the contact."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import Refused, stale
from bot.i18n import N_, Gettext
from bot.runtime import Runtime
from bot.services import audit, csvfile
from bot.services.groupbuys import merchants
from bot.services.messages import tell
from bot.services.scope import Scope, scope_of
from models import Community, GroupBuy, Merchant, MerchantCommunity, Product, Staff, Volunteer

NOT_MANAGER = N_("Partner merchants are added and changed by community staff and admins only.")
NOT_AN_ID = N_(
    "Please type the contact person's Telegram id: a number such as 123456789 (they get it "
    "by sending /merchant to me)."
)
BAD_KIND = N_("Please give the merchant's kind (超市, 药店, 菜店 ...) in at most {n} characters.")
NOT_YOUR_COMMUNITY = N_("That is not a community of yours.")
NAME_TAKEN = N_(
    "A merchant named {merchant} already serves another community. Please choose another "
    "name (for example with your community's name), or ask an admin."
)
STILL_OPEN = N_(
    "{merchant} has a group-buy in {community} that is not finished yet (#{id}); it can be "
    "removed once that group-buy is delivered."
)
CONTACT_TOLD = N_(
    "You are now the contact person of the partner merchant {merchant} ({communities}). "
    "/merchant shows your group-buy orders here once the community confirms them; you then "
    "mark them delivered. Your product list: send it as a CSV file (name,unit,price) to the "
    "community staff, who send it to me with the caption 商家 {merchant}."
)
CONTACT_ENDED = N_("You are no longer the contact person of the partner merchant {merchant}.")
KIND_MAX = 16
# A Telegram id is a positive number below 2^52; 15 digits keep it in a BIGINT.
ID_DIGITS = 15
# A group-buy not yet delivered still needs its merchant.
UNFINISHED = ("open", "closed", "confirmed")


@dataclass(frozen=True)
class Row:
    """One merchant as /merchants shows it."""

    id: int
    name: str
    kind: str
    products: int
    communities: list[tuple[int, str]]  # (id, name) of every community served
    contact_id: int
    contact_name: str | None  # a staff member's or volunteer's name, if the bot knows them
    removable: list[tuple[int, str]]  # the served communities this staff member may take off


async def require_manager(session: AsyncSession, telegram_id: int) -> Scope:
    """Admins and community staff; grid leaders and everyone else are refused."""
    scope = await scope_of(session, telegram_id)
    if not (scope.admin or scope.communities):
        raise Refused(NOT_MANAGER)
    return scope


def parse_contact(text: str) -> int:
    """A Telegram id as typed (spaces and full-width digits, as a Chinese keyboard types them,
    allowed); Refused with what to type else."""
    raw = "".join(unicodedata.normalize("NFKC", text).split())
    if not raw.isascii() or not raw.isdigit() or len(raw) > ID_DIGITS or int(raw) == 0:
        raise Refused(NOT_AN_ID)
    return int(raw)


def check_kind(kind: str) -> str:
    kind = " ".join(kind.split())
    if not kind or len(kind) > KIND_MAX or csvfile.cell_problem("kind", kind):
        raise Refused(BAD_KIND, n=KIND_MAX)
    return kind


async def communities_of(session: AsyncSession, scope: Scope) -> list[tuple[int, str]]:
    """The communities a merchant may be added to by this scope: (id, name)."""
    rows = await session.execute(
        select(Community.id, Community.name).where(scope.community_clause()).order_by(Community.id)
    )
    return [(cid, name) for cid, name in rows.all()]


async def community_ref(session: AsyncSession, scope: Scope, ref: str) -> int:
    """A community by code or name, within the scope."""
    cid = await session.scalar(
        select(Community.id).where((Community.code == ref) | (Community.name == ref))
    )
    if cid is None:
        raise Refused(N_("There is no community {code}."), code=ref)
    if not scope.covers_community(cid):
        raise Refused(NOT_YOUR_COMMUNITY)
    return int(cid)


async def own_community(session: AsyncSession, scope: Scope) -> int | None:
    """The community a merchant goes to without asking: the only one in scope, else None."""
    found = await communities_of(session, scope)
    return found[0][0] if len(found) == 1 else None


async def _name_of(session: AsyncSession, telegram_id: int) -> str | None:
    name = await session.scalar(select(Staff.name).where(Staff.telegram_id == telegram_id))
    if name is None:
        name = await session.scalar(
            select(Volunteer.name).where(Volunteer.telegram_id == telegram_id)
        )
    return name


async def listing(session: AsyncSession, telegram_id: int) -> list[Row]:
    """The merchants serving this staff member's communities (every one, for an admin)."""
    scope = await require_manager(session, telegram_id)
    found = (
        await session.scalars(select(Merchant).order_by(Merchant.id))
        if scope.admin
        else await session.scalars(
            select(Merchant)
            .where(
                Merchant.id.in_(
                    select(MerchantCommunity.merchant_id).where(
                        MerchantCommunity.community_id.in_(scope.communities)
                    )
                )
            )
            .order_by(Merchant.id)
        )
    ).all()
    rows: list[Row] = []
    for m in found:
        served = (
            await session.execute(
                select(Community.id, Community.name)
                .join(MerchantCommunity, MerchantCommunity.community_id == Community.id)
                .where(MerchantCommunity.merchant_id == m.id)
                .order_by(Community.id)
            )
        ).all()
        count = await session.scalar(
            select(func.count()).select_from(Product).where(Product.merchant_id == m.id)
        )
        communities = [(cid, name) for cid, name in served]
        rows.append(
            Row(
                m.id,
                m.name,
                m.kind,
                int(count or 0),
                communities,
                m.contact_telegram_id,
                await _name_of(session, m.contact_telegram_id),
                [(cid, name) for cid, name in communities if scope.covers_community(cid)],
            )
        )
    return rows


async def row_of(session: AsyncSession, telegram_id: int, merchant_id: int) -> Row:
    """One merchant of the list (a stale button for one this person does not see)."""
    for r in await listing(session, telegram_id):
        if r.id == merchant_id:
            return r
    raise stale()


def _communities_text(_: Gettext, names: list[str]) -> str:
    return _(", ").join(names) if names else "—"


async def _tell_contact(
    rt: Runtime, session: AsyncSession, merchant: Merchant, old: int | None
) -> None:
    """The new contact learns what they now are; an old one that they are no longer."""
    names = list(
        (
            await session.scalars(
                select(Community.name)
                .join(MerchantCommunity, MerchantCommunity.community_id == Community.id)
                .where(MerchantCommunity.merchant_id == merchant.id)
                .order_by(Community.id)
            )
        ).all()
    )
    name = merchant.name
    await tell(
        rt,
        session,
        merchant.contact_telegram_id,
        lambda _: _(CONTACT_TOLD).format(merchant=name, communities=_communities_text(_, names)),
    )
    if old is not None and old != merchant.contact_telegram_id:
        await tell(rt, session, old, lambda _: _(CONTACT_ENDED).format(merchant=name))


async def name_free(session: AsyncSession, telegram_id: int, name: str) -> str:
    """The name, checked: a new one, or one of this person's own merchants (re-adding it
    updates it); another community's merchant is theirs to change."""
    scope = await require_manager(session, telegram_id)
    name = merchants.check_name(name)
    existing = await session.scalar(select(Merchant).where(Merchant.name == name))
    if existing is not None and not scope.admin:
        try:
            await merchants.require_covered(session, scope, existing)
        except Refused:
            raise Refused(NAME_TAKEN, merchant=name) from None
    return name


@dataclass(frozen=True)
class Added:
    info: merchants.MerchantInfo
    created: bool
    community: str


async def add(
    rt: Runtime,
    session: AsyncSession,
    telegram_id: int,
    *,
    name: str,
    kind: str,
    contact: int,
    community_id: int,
) -> Added:
    """Add a merchant to one of this staff member's communities (or update the one of that
    name, as `paotui merchant add` does); its contact is told when new to it."""
    scope = await require_manager(session, telegram_id)
    name, kind = await name_free(session, telegram_id, name), check_kind(kind)
    if not scope.covers_community(community_id):
        raise Refused(NOT_YOUR_COMMUNITY)
    community = await session.get(Community, community_id)
    if community is None:
        raise stale()
    existing = await session.scalar(select(Merchant).where(Merchant.name == name))
    old = existing.contact_telegram_id if existing is not None else None
    info, created = await merchants.add(
        session,
        rt.clock,
        telegram_id,
        name=name,
        kind=kind,
        contact_telegram_id=contact,
        communities=[community.code],
    )
    if old != contact:
        m = await session.get(Merchant, info.id)
        assert m is not None
        await _tell_contact(rt, session, m, old)
    return Added(info, created, community.name)


async def set_contact(
    rt: Runtime, session: AsyncSession, telegram_id: int, merchant_id: int, contact: int
) -> merchants.MerchantInfo:
    """A new contact person; both are told."""
    scope = await require_manager(session, telegram_id)
    m = await session.get(Merchant, merchant_id)
    if m is None:
        raise stale()
    await merchants.require_covered(session, scope, m)
    old = m.contact_telegram_id
    if old != contact:
        m.contact_telegram_id = contact
        await session.flush()
        await audit.record(session, rt.clock, telegram_id, "merchant.contact", m.name)
        await _tell_contact(rt, session, m, old)
    return await merchants.info(session, m)


async def check_removable(
    session: AsyncSession, telegram_id: int, merchant_id: int, community_id: int
) -> tuple[str, str]:
    """Whether this person may take the merchant off this community now: (merchant,
    community) names; Refused with the reason else."""
    scope = await require_manager(session, telegram_id)
    m = await session.get(Merchant, merchant_id)
    community = await session.get(Community, community_id)
    # Locked: a group-buy opened meanwhile waits, or is seen below (buys.open_groupbuy).
    serves = await merchants.serves_locked(session, merchant_id, community_id)
    if m is None or community is None or serves is None:
        raise stale()
    if not scope.covers_community(community_id):
        raise Refused(NOT_YOUR_COMMUNITY)
    unfinished = await session.scalar(
        select(GroupBuy.id)
        .where(
            GroupBuy.merchant_id == merchant_id,
            GroupBuy.community_id == community_id,
            GroupBuy.status.in_(UNFINISHED),
        )
        .order_by(GroupBuy.id)
        .limit(1)
    )
    if unfinished is not None:
        raise Refused(STILL_OPEN, merchant=m.name, community=community.name, id=unfinished)
    return m.name, community.name


async def remove(
    rt: Runtime, session: AsyncSession, telegram_id: int, merchant_id: int, community_id: int
) -> tuple[str, str]:
    """Take the merchant off the community (its products and past group-buys stay)."""
    names = await check_removable(session, telegram_id, merchant_id, community_id)
    gone = await session.execute(
        delete(MerchantCommunity).where(
            MerchantCommunity.merchant_id == merchant_id,
            MerchantCommunity.community_id == community_id,
        )
    )
    if getattr(gone, "rowcount", 1) != 1:  # taken off meanwhile, by a colleague
        raise stale()
    await audit.record(
        session, rt.clock, telegram_id, "merchant.removed", names[0], community=names[1]
    )
    return names


async def contact_of(session: AsyncSession, telegram_id: int) -> list[str]:
    """The merchants this person is the contact of, by name."""
    return list(
        (
            await session.scalars(
                select(Merchant.name)
                .where(Merchant.contact_telegram_id == telegram_id)
                .order_by(Merchant.id)
            )
        ).all()
    )
