"""Enumerations stored as short strings (readable in the database and in exports)."""

from enum import StrEnum


class Language(StrEnum):
    ZH_CN = "zh_CN"
    EN = "en"


class OrderStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    PURCHASING = "purchasing"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    UNFULFILLABLE = "unfulfillable"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def is_active(self) -> bool:
        """Held by a runner."""
        return self in (OrderStatus.CLAIMED, OrderStatus.PURCHASING, OrderStatus.DELIVERING)


FINAL_STATUSES = frozenset(
    {OrderStatus.CONFIRMED, OrderStatus.CANCELLED, OrderStatus.UNFULFILLABLE}
)


class Actor(StrEnum):
    """Who makes a change: the state machine names which of these may make each transition."""

    RESIDENT = "resident"
    VOLUNTEER = "volunteer"
    STAFF = "staff"
    SYSTEM = "system"


class Category(StrEnum):
    GROCERIES = "groceries"
    MEDICINE = "medicine"
    GAS = "gas"
    OTHER = "other"


class Urgency(StrEnum):
    NORMAL = "normal"
    TODAY = "today"
    URGENT = "urgent"


class VolunteerStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    # Taken off by staff (issue 11): no claims, no pings, no cards, no roster until reinstated.
    SUSPENDED = "suspended"


class CareFlag(StrEnum):
    """Why a household is on the care list (包保), whether it told us itself or staff marked
    it; stored one row per flag in ``care_flags``."""

    ELDERLY_ALONE = "elderly_alone"
    MOBILITY = "mobility"
    DISABLED = "disabled"
    CHRONIC = "chronic"


class StaffRole(StrEnum):
    ADMIN = "admin"
    COMMUNITY = "community"
    GRID_LEADER = "grid_leader"


class OutboxKind(StrEnum):
    SEND = "send"
    EDIT = "edit"
    PIN = "pin"  # pin the message another row delivered (a notice in a group)


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
