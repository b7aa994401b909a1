"""[bot] mode: polling by default; webhook mode needs its URL, its listen address and a secret
from the environment, each refused with the key and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from handlers.main import receiver
from handlers.webhook import WebhookServer

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "config.example.toml").read_text(encoding="utf-8")
WEBHOOK = (
    'mode = "webhook"\nwebhook_url = "https://bot.example.org/telegram"\nlisten = "127.0.0.1:8443"'
)


@pytest.fixture(autouse=True)
def no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAOTUI_BOT__WEBHOOK_SECRET", raising=False)


def write(tmp_path: Path, bot_keys: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(GOOD.replace('\nmode = "polling"\n', f"\n{bot_keys}\n"), encoding="utf-8")
    return path


def error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return str(info.value)


def test_polling_is_the_default() -> None:
    assert '\nmode = "polling"\n' in GOOD  # documented in the example
    s = load_settings(ROOT / "config.example.toml")
    assert s.bot.mode == "polling" and s.bot.webhook_url is None and s.bot.listen is None


def test_webhook_mode_with_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAOTUI_BOT__WEBHOOK_SECRET", "Abc_123-xyz")
    s = load_settings(write(tmp_path, WEBHOOK))
    assert s.bot.mode == "webhook" and s.bot.webhook_url == "https://bot.example.org/telegram"
    assert s.bot.listen_address == ("127.0.0.1", 8443)
    assert s.bot.webhook_secret is not None
    assert s.bot.webhook_secret.get_secret_value() == "Abc_123-xyz"
    assert "Abc_123" not in repr(s)  # a secret, like the token


def test_webhook_mode_names_what_is_missing(tmp_path: Path) -> None:
    msg = error(write(tmp_path, 'mode = "webhook"'))
    assert 'bot: mode = "webhook" needs webhook_url' in msg
    assert "listen (host:port" in msg
    assert "PAOTUI_BOT__WEBHOOK_SECRET" in msg
    msg = error(write(tmp_path, WEBHOOK))  # only the secret missing
    assert "PAOTUI_BOT__WEBHOOK_SECRET" in msg and "webhook_url" not in msg


def test_mode_is_polling_or_webhook(tmp_path: Path) -> None:
    msg = error(write(tmp_path, 'mode = "push"'))
    assert "bot.mode" in msg and "'polling' or 'webhook'" in msg and "push" in msg


def test_the_secret_stays_out_of_the_file(tmp_path: Path) -> None:
    msg = error(write(tmp_path, WEBHOOK + '\nwebhook_secret = "abc"'))
    assert "bot.webhook_secret" in msg and "PAOTUI_BOT__WEBHOOK_SECRET" in msg


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (WEBHOOK.replace("https://bot.example.org", "http://bot.example.org"), "https://"),
        (WEBHOOK.replace("https://bot.example.org/telegram", "bot.example.org"), "not a URL"),
        (WEBHOOK.replace("127.0.0.1:8443", "8443"), "host:port"),
        (WEBHOOK.replace("127.0.0.1:8443", "127.0.0.1:99999"), "host:port"),
        (WEBHOOK.replace("127.0.0.1:8443", "127.0.0.1:"), "host:port"),
    ],
)
def test_bad_url_or_listen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: str, expected: str
) -> None:
    monkeypatch.setenv("PAOTUI_BOT__WEBHOOK_SECRET", "abc")
    msg = error(write(tmp_path, keys))
    key = "bot.webhook_url" if "URL" in expected or "https" in expected else "bot.listen"
    assert f"{key}: " in msg and expected in msg


def test_a_loopback_http_url_and_an_ipv6_listen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local Bot API server (or the emulator) may post over HTTP on this computer."""
    monkeypatch.setenv("PAOTUI_BOT__WEBHOOK_SECRET", "abc")
    keys = 'mode = "webhook"\nwebhook_url = "http://127.0.0.1:8081/hook"\nlisten = "[::1]:8443"'
    s = load_settings(write(tmp_path, keys))
    assert s.bot.listen_address == ("::1", 8443)


@pytest.mark.parametrize("secret", ["has space", "ü", "x" * 257])
def test_the_secret_follows_telegrams_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("PAOTUI_BOT__WEBHOOK_SECRET", secret)
    msg = error(write(tmp_path, WEBHOOK))
    assert "bot.webhook_secret: 1 to 256 characters" in msg
    assert secret not in msg  # never echoed


def test_run_picks_the_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`paotui run` serves the webhook in webhook mode, polls otherwise (no Telegram call)."""
    monkeypatch.setenv("PAOTUI_BOT__WEBHOOK_SECRET", "abc")
    s = load_settings(write(tmp_path, WEBHOOK))
    marker = object()
    front = receiver(marker, s)  # type: ignore[arg-type]
    assert isinstance(front, WebhookServer)
    assert (front.url, front.path, front.host, front.port) == (
        "https://bot.example.org/telegram",
        "/telegram",
        "127.0.0.1",
        8443,
    )
    assert front.service is marker
    polling = load_settings(ROOT / "config.example.toml")
    assert receiver(marker, polling) is marker  # type: ignore[arg-type]
