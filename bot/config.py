"""Configuration: one TOML file validated by pydantic-settings, overridable by environment
variables (``PAOTUI_<SECTION>__<KEY>``). The bot token and the webhook secret come only from the
environment."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.status_config import BuildingStatusSection

ENV_PREFIX = "PAOTUI_"
CONFIG_ENV = "PAOTUI_CONFIG"


class ConfigError(Exception):
    """A bad configuration: the message names the key and the reason."""


class _Section(BaseModel):
    model_config = {"extra": "forbid"}


class BotSection(_Section):
    # Never read from the file (see load_settings): only PAOTUI_BOT__TOKEN sets it.
    token: SecretStr | None = None
    api_base_url: str = "https://api.telegram.org/bot"
    api_file_url: str = "https://api.telegram.org/file/bot"
    poll_timeout: int = Field(default=20, ge=0, le=60)
    # Updates processed at once (different users run concurrently, one user's updates in order).
    concurrent_updates: int = Field(default=16, ge=1, le=256)
    operator_chat_id: int | None = None
    # The bot's @username without the @: the posters of `paotui qr` link to t.me/<username>.
    username: str | None = None
    # How updates arrive: "polling" (getUpdates, the default) or "webhook" (Telegram POSTs them
    # to webhook_url, a reverse proxy passes them on to `listen`, host:port).
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    listen: str | None = None
    # Telegram's secret_token, sent back in every POST: only PAOTUI_BOT__WEBHOOK_SECRET sets it.
    webhook_secret: SecretStr | None = None

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        m = re.match(r"^(https?)://(\[[^\]]+\]|[^/:?#]+)(:\d+)?(/[^?#]*)?$", value)
        if m is None:
            raise ValueError("not a URL (e.g. https://bot.example.org/telegram)")
        if m.group(1) == "http" and not _loopback(m.group(2)):
            # Telegram posts only to HTTPS; a local Bot API server or the emulator may use HTTP.
            raise ValueError("Telegram posts only to an https:// URL")
        return value

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            listen_address(value)
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's rule for secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("1 to 256 characters, only A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

    @model_validator(mode="after")
    def _webhook_complete(self) -> BotSection:
        if self.mode != "webhook":
            return self
        missing = [
            why
            for key, why in (
                ("webhook_url", "webhook_url (the public HTTPS URL Telegram posts to)"),
                ("listen", "listen (host:port this process serves, behind the reverse proxy)"),
                (
                    "webhook_secret",
                    "a secret in the environment variable PAOTUI_BOT__WEBHOOK_SECRET",
                ),
            )
            if getattr(self, key) is None
        ]
        if missing:
            raise ValueError('mode = "webhook" needs ' + "; ".join(missing))
        return self

    @property
    def listen_address(self) -> tuple[str, int]:
        """``listen`` as (host, port); only in webhook mode, where it is required."""
        assert self.listen is not None
        return listen_address(self.listen)


def _loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen_address(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8443`` for IPv6) as (host, port), or ValueError saying why."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("host:port expected (e.g. 127.0.0.1:8443)")
    return host, int(port)


class BotEntry(_Section):
    """One bot of a district deployment (``[[bots]]``): its token is read from the environment
    variable ``token_env``; it serves the residents, groups and staff of ``communities``."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")
    token_env: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    username: str
    communities: list[str] = Field(min_length=1)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        # Telegram's rule for a bot's username: 5-32 letters, digits or _, ending in "bot".
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{3,31}", value) or not value.lower().endswith(
            "bot"
        ):
            raise ValueError("a bot's username without @: 5-32 letters, digits, _, ending in bot")
        return value

    @field_validator("communities")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a community is listed twice")
        return value

    def token(self) -> str | None:
        """The token from the environment, or None when the variable is unset or empty."""
        return os.environ.get(self.token_env) or None


class DatabaseSection(_Section):
    url: str
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _parses(cls, value: str) -> str:
        # Checked without connecting (`paotui check-config`); the error never quotes the URL,
        # which may hold the password.
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except (ArgumentError, ValueError):
            raise ValueError(
                "not a database URL (e.g. sqlite+aiosqlite:///var/paotui.db)"
            ) from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
        return value


class I18nSection(_Section):
    default_language: Literal["zh_CN", "en"]
    timezone: str

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class OutboxSection(_Section):
    # Telegram: about 30 messages/s overall; we stay a little below to leave room for replies.
    global_per_second: float = Field(default=29.8, gt=0, le=30)
    private_interval_seconds: float = Field(default=1.0, ge=0)
    group_per_minute: int = Field(default=20, ge=1, le=20)
    # Transient failures (5xx, timeouts, connection errors) are retried this long after the
    # message was written; only Telegram's final answers (400, 403) fail it at once.
    give_up_after_hours: float = Field(default=24.0, gt=0)
    # The wait between retries doubles up to this.
    max_backoff_seconds: float = Field(default=300.0, ge=1)
    # A message still waiting after this long is reported to bot.operator_chat_id (once).
    alert_after_minutes: int = Field(default=15, ge=1)
    max_in_flight: int = Field(default=16, ge=1, le=256)
    poll_seconds: float = Field(default=0.5, gt=0)


class LimitsSection(_Section):
    max_text_length: int = Field(default=1000, ge=10, le=4000)
    # A half-finished conversation (registration, order form) ends after this long.
    conversation_timeout_seconds: int = Field(default=86400, ge=1)
    max_open_orders: int = Field(default=3, ge=1, le=50)
    messages_per_minute: int = Field(default=20, ge=1, le=600)
    # Tasks one volunteer may run at once (claimed, being bought, on the way).
    max_active_tasks: int = Field(default=3, ge=1, le=50)
    # A new task is also sent privately to this many on-duty volunteers (least loaded first).
    duty_pings: int = Field(default=3, ge=0, le=100)


class WaitLimits(_Section):
    # An open task unclaimed this long gets a second ping (to those on duty and the grid leader),
    ping_again_minutes: int = Field(ge=1)
    # and this long goes to the whole community: neighbouring grids' groups and community staff.
    community_minutes: int = Field(ge=1)

    @model_validator(mode="after")
    def _in_order(self) -> WaitLimits:
        if self.community_minutes <= self.ping_again_minutes:
            raise ValueError("community_minutes must be more than ping_again_minutes")
        return self


class EscalationSection(_Section):
    # How often the sweep looks for what is due (escalations, shift reminders, handovers).
    sweep_seconds: int = Field(default=30, ge=1, le=3600)
    urgent: WaitLimits = Field(
        default_factory=lambda: WaitLimits(ping_again_minutes=10, community_minutes=30)
    )
    today: WaitLimits = Field(
        default_factory=lambda: WaitLimits(ping_again_minutes=30, community_minutes=120)
    )
    normal: WaitLimits = Field(
        default_factory=lambda: WaitLimits(ping_again_minutes=60, community_minutes=240)
    )
    # A claimed task whose status has not moved this long: a reminder to the runner,
    stalled_runner_hours: float = Field(default=2.0, gt=0)
    # and then the grid leader.
    stalled_leader_hours: float = Field(default=4.0, gt=0)
    # 催一催: a resident waiting for a volunteer may remind staff once in this many minutes.
    urge_every_minutes: int = Field(default=10, ge=1, le=24 * 60)

    @model_validator(mode="after")
    def _in_order(self) -> EscalationSection:
        if self.stalled_leader_hours <= self.stalled_runner_hours:
            raise ValueError("stalled_leader_hours must be more than stalled_runner_hours")
        return self

    def wait_limits(self, urgency: str) -> WaitLimits:
        return {"urgent": self.urgent, "today": self.today}.get(urgency, self.normal)


class ShiftTemplate(_Section):
    name: str = Field(min_length=1, max_length=16, pattern=r"^\w+$")
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # HH:MM, local time
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # earlier than start: next day


def _default_shifts() -> list[ShiftTemplate]:
    return [
        ShiftTemplate(name="day", start="08:00", end="20:00"),
        ShiftTemplate(name="night", start="20:00", end="08:00"),
    ]


class RosterSection(_Section):
    shifts: list[ShiftTemplate] = Field(default_factory=_default_shifts, min_length=1)
    reminder_minutes: int = Field(default=15, ge=0, le=24 * 60)
    # A handover post in each grid's group at every shift change, listing open and active tasks.
    handover_posts: bool = True

    @field_validator("shifts")
    @classmethod
    def _distinct(cls, value: list[ShiftTemplate]) -> list[ShiftTemplate]:
        names = [t.name for t in value]
        if len(set(names)) != len(names):
            raise ValueError("shift names must be different")
        return value


class DeliverySection(_Section):
    # The runner sends a photo of the goods at the door before marking a task delivered.
    doorstep_photo: bool = True
    # Then what they spent (0 if nothing), with a photo of the receipt (skippable).
    ask_amount: bool = True
    # A resident who has not said "paid" this long after a delivery with an amount is
    # reminded once, kindly (0: never).
    unpaid_remind_hours: float = Field(default=12, ge=0, le=24 * 14)


_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class ReportsSection(_Section):
    # The daily summary to staff, at this local time ("" for none).
    daily_summary_at: str = Field(default="20:00", pattern=r"^$|" + _HHMM)
    # /stats lists open tasks unclaimed for longer than this.
    unclaimed_minutes: int = Field(default=30, ge=1)


class CareSection(_Section):
    # Each day at this local time, households on the care list are asked "all right today?";
    check_in_at: str = Field(default="09:00", pattern=_HHMM)
    # no answer by this local time (or "please call me") alerts the responsible person.
    alert_if_no_answer_by: str = Field(default="12:00", pattern=_HHMM)

    @model_validator(mode="after")
    def _in_order(self) -> CareSection:
        if self.alert_if_no_answer_by <= self.check_in_at:
            raise ValueError("alert_if_no_answer_by must be later than check_in_at")
        return self


class PrivacySection(_Section):
    # Processed incoming updates (inbox) are deleted, and the texts of sent or finally failed
    # messages (outbox) blanked, this many days after they were received or written.
    # At least 2: Telegram redelivers an unconfirmed update for up to 24 hours, and the inbox
    # row is what recognises it.
    retention_days: int = Field(default=30, ge=2, le=3650)


class SandboxSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)
    # The browser page over the emulator (phones for each demo user), on the same host.
    web_port: int = Field(default=8080, ge=0, le=65535)
    seed_demo: bool = True
    # Anyone who reaches the sandbox can act as any demo user: this computer only, unless set.
    allow_remote: bool = False


class CommunitySection(_Section):
    # The number a resident is given when nobody takes their order, for communities whose
    # setup CSV names no hotline of their own ("" for none).
    hotline: str = Field(default="", max_length=32, pattern=r"^[0-9 +()\-]*$")


class AdminsSection(_Section):
    telegram_ids: list[int] = Field(default_factory=list)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
    )

    bot: BotSection = Field(default_factory=BotSection)
    database: DatabaseSection
    i18n: I18nSection
    outbox: OutboxSection = Field(default_factory=OutboxSection)
    limits: LimitsSection = Field(default_factory=LimitsSection)
    escalation: EscalationSection = Field(default_factory=EscalationSection)
    roster: RosterSection = Field(default_factory=RosterSection)
    delivery: DeliverySection = Field(default_factory=DeliverySection)
    reports: ReportsSection = Field(default_factory=ReportsSection)
    care: CareSection = Field(default_factory=CareSection)
    privacy: PrivacySection = Field(default_factory=PrivacySection)
    sandbox: SandboxSection = Field(default_factory=SandboxSection)
    admins: AdminsSection = Field(default_factory=AdminsSection)
    community: CommunitySection = Field(default_factory=CommunitySection)
    building_status: BuildingStatusSection = Field(default_factory=BuildingStatusSection)
    # A district: one bot per community (or per few); none: [bot] token serves every community.
    bots: list[BotEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bots_apart(self) -> Settings:
        if self.bots and self.bot.token is not None:
            raise ValueError(
                "bots: with [[bots]] each bot's token comes from its token_env; "
                "unset PAOTUI_BOT__TOKEN"
            )
        seen: dict[str, str] = {}
        for key in ("name", "token_env", "username"):
            values = [getattr(b, key) for b in self.bots]
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise ValueError(f"bots: two bots have the same {key}: {', '.join(twice)}")
        for b in self.bots:
            for code in b.communities:
                if code in seen:
                    raise ValueError(
                        f"bots: community {code!r} is served by two bots ({seen[code]}, {b.name})"
                    )
                seen[code] = b.name
        return self

    def bot_tokens(self) -> dict[str, str]:
        """``[[bots]]``: each bot's token by its name, read from the environment; empty when
        none is set (the emulator gives each one). Some set and some not: ConfigError naming
        the variables missing."""
        tokens = {b.name: b.token() for b in self.bots}
        missing = [b.token_env for b in self.bots if tokens[b.name] is None]
        if missing and len(missing) < len(self.bots):
            raise ConfigError(
                "bad configuration:\n  bots: no token in the environment variable "
                + ", ".join(missing)
            )
        found = {name: token for name, token in tokens.items() if token is not None}
        values = list(found.values())
        twice = sorted(
            b.token_env for b in self.bots if b.name in found and values.count(found[b.name]) > 1
        )
        if twice:
            raise ConfigError(
                "bad configuration:\n  bots: the same token in the environment variables "
                + ", ".join(twice)
            )
        return found

    def bot_serving(self, community_code: str) -> BotEntry | None:
        """The ``[[bots]]`` entry serving a community (None: no such entry, or no [[bots]])."""
        return next((b for b in self.bots if community_code in b.communities), None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _CURRENT_FILE.get("path")
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def has_token(self) -> bool:
        if self.bots:
            return bool(self.bot_tokens())
        return self.bot.token is not None and bool(self.bot.token.get_secret_value())


_CURRENT_FILE: dict[str, Path | None] = {"path": None}


def default_config_path() -> Path:
    """PAOTUI_CONFIG, else config.toml in the working directory, else the documented example."""
    if env := os.environ.get(CONFIG_ENV):
        return Path(env)
    local = Path("config.toml")
    if local.exists():
        return local
    return Path(__file__).resolve().parent.parent / "config.example.toml"


def _format_errors(exc: ValidationError, path: Path | None) -> str:
    lines = [f"bad configuration{f' in {path}' if path else ''}:"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            reason = "required key is missing"
        elif err["type"] == "extra_forbidden":
            reason = "unknown key"
        got = err.get("input")
        extra = f" (got {got!r})" if got is not None and err["type"] != "missing" else ""
        # A URL may carry the password; a secret is never repeated.
        if isinstance(got, dict) or key in ("database.url", "bot.token", "bot.webhook_secret"):
            extra = ""
        lines.append(f"  {key}: {reason}{extra}" if key else f"  {reason}")
    return "\n".join(lines)


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Read and validate the configuration, or raise ConfigError naming the key and reason."""
    file = Path(path) if path is not None else default_config_path()
    if not file.exists():
        raise ConfigError(f"config file not found: {file}")
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    if "token" in raw.get("bot", {}):
        raise ConfigError(
            f"bad configuration in {file}:\n  bot.token: keep the token out of the file; "
            "set the environment variable PAOTUI_BOT__TOKEN"
        )
    if "webhook_secret" in raw.get("bot", {}):
        raise ConfigError(
            f"bad configuration in {file}:\n  bot.webhook_secret: keep the secret out of the "
            "file; set the environment variable PAOTUI_BOT__WEBHOOK_SECRET"
        )
    _CURRENT_FILE["path"] = file
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, file)) from exc
    finally:
        _CURRENT_FILE["path"] = None
    try:
        settings.bot_tokens()  # [[bots]]: every token in the environment, or none
    except ConfigError as exc:
        raise ConfigError(
            str(exc).replace("bad configuration:", f"bad configuration in {file}:")
        ) from None
    return settings
