"""One bot per community (``[[bots]]``): the entries as configured, each bot's token from its
environment variable, and the configurations refused with a clear reason, at load
(`paotui check-config` too) or, for a community of the database that no bot serves, at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings
from cli.main import main as paotui
from handlers.bots import specs
from handlers.main import receiver, serve
from handlers.webhook import WebhookServer

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "config.example.toml").read_text(encoding="utf-8")
ENVS = ("PAOTUI_BOT_C01_TOKEN", "PAOTUI_BOT_C02_TOKEN", "PAOTUI_BOT__TOKEN")


def entry(name: str, communities: list[str], env: str | None = None, user: str = "") -> str:
    env = env or f"PAOTUI_BOT_{name.upper()}_TOKEN"
    quoted = ", ".join(f'"{c}"' for c in communities)
    return (
        f'\n[[bots]]\nname = "{name}"\ntoken_env = "{env}"\n'
        f'username = "{user or f"paotui_{name}_bot"}"\ncommunities = [{quoted}]\n'
    )


TWO = entry("c01", ["C01"]) + entry("c02", ["C02", "C03"])


@pytest.fixture(autouse=True)
def no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVS:
        monkeypatch.delenv(name, raising=False)


def write(tmp_path: Path, bots: str, url: str | None = None) -> Path:
    text = GOOD + bots
    # Never the checkout's own var/paotui.db: what a sandbox run left there would decide.
    url = url or f"sqlite+aiosqlite:///{tmp_path}/not-created-yet.db"
    text = text.replace('url = "sqlite+aiosqlite:///var/paotui.db"', f'url = "{url}"')
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return str(info.value)


def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAOTUI_BOT_C01_TOKEN", "101:AAA")
    monkeypatch.setenv("PAOTUI_BOT_C02_TOKEN", "102:BBB")


def test_without_bots_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings(ROOT / "config.example.toml")
    assert s.bots == [] and not s.has_token and s.bot_tokens() == {}
    assert [(b.name, b.token, b.communities) for b in specs(s, emulated=True)] == [
        ("", "100000001:SANDBOX-NOT-A-REAL-TOKEN", None)
    ]
    monkeypatch.setenv("PAOTUI_BOT__TOKEN", "9:XYZ")
    s = load_settings(ROOT / "config.example.toml")
    assert s.has_token and [(b.name, b.token, b.communities) for b in specs(s)] == [
        ("", "9:XYZ", None)
    ]


def test_bots_as_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tokens(monkeypatch)
    s = load_settings(write(tmp_path, TWO))
    assert [(b.name, b.token_env, b.username, b.communities) for b in s.bots] == [
        ("c01", "PAOTUI_BOT_C01_TOKEN", "paotui_c01_bot", ["C01"]),
        ("c02", "PAOTUI_BOT_C02_TOKEN", "paotui_c02_bot", ["C02", "C03"]),
    ]
    assert s.has_token and s.bot_tokens() == {"c01": "101:AAA", "c02": "102:BBB"}
    bot = s.bot_serving("C03")
    assert bot is not None and bot.name == "c02" and s.bot_serving("C09") is None
    assert [(b.name, b.token, b.username, b.communities) for b in specs(s)] == [
        ("c01", "101:AAA", "paotui_c01_bot", frozenset({"C01"})),
        ("c02", "102:BBB", "paotui_c02_bot", frozenset({"C02", "C03"})),
    ]
    assert "101:AAA" not in repr(s)


def test_bots_in_the_emulator_each_get_a_token(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, TWO))  # no token at all: the emulator
    assert not s.has_token
    emulated = specs(s, emulated=True)
    assert [b.name for b in emulated] == ["c01", "c02"]
    assert len({b.token for b in emulated}) == 2
    assert all(b.token.split(":")[0].isdigit() for b in emulated)


def test_a_missing_token_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAOTUI_BOT_C01_TOKEN", "101:AAA")
    msg = error(write(tmp_path, TWO))
    assert "no token in the environment variable PAOTUI_BOT_C02_TOKEN" in msg
    assert "C01_TOKEN" not in msg and "101:AAA" not in msg


@pytest.mark.parametrize(
    ("bots", "reason"),
    [
        (entry("c01", ["C01"]) + entry("c02", ["C02", "C01"]), "'C01' is served by two bots"),
        (entry("c01", ["C01"]) + entry("c01", ["C02"], env="OTHER"), "same name: c01"),
        (entry("c01", ["C01"]) + entry("c02", ["C02"], user="paotui_c01_bot"), "same username"),
        (entry("c01", ["C01"]) + entry("c02", ["C02"], env="PAOTUI_BOT_C01_TOKEN"), "token_env"),
        (entry("C-1", ["C01"]), "bots.0.name"),
        (entry("c01", []), "bots.0.communities"),
        (entry("c01", ["C01", "C01"]), "a community is listed twice"),
        (entry("c01", ["C01"], user="@paotui"), "bots.0.username"),
    ],
)
def test_refused_with_the_reason(tmp_path: Path, bots: str, reason: str) -> None:
    assert reason in error(write(tmp_path, bots))


def test_one_token_for_two_bots_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAOTUI_BOT_C01_TOKEN", "101:AAA")
    monkeypatch.setenv("PAOTUI_BOT_C02_TOKEN", "101:AAA")
    msg = error(write(tmp_path, TWO))
    assert "the same token in the environment variables" in msg and "101:AAA" not in msg


def test_no_single_token_beside_bots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tokens(monkeypatch)
    monkeypatch.setenv("PAOTUI_BOT__TOKEN", "9:XYZ")
    assert "unset PAOTUI_BOT__TOKEN" in error(write(tmp_path, TWO))


def test_check_config_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAOTUI_BOT_C01_TOKEN", "101:AAA")
    with pytest.raises(SystemExit) as info:
        paotui(["--config", str(write(tmp_path, TWO)), "check-config"])
    assert info.value.code == 2
    assert "PAOTUI_BOT_C02_TOKEN" in capsys.readouterr().err
    tokens(monkeypatch)
    assert paotui(["--config", str(write(tmp_path, TWO)), "check-config"]) == 0


def test_check_config_names_a_community_no_bot_serves(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    rt: object,
) -> None:
    """The database holds the demo community (``xingfu``); the bots serve others."""
    tokens(monkeypatch)
    path = write(tmp_path, TWO, url=database_url)
    assert paotui(["--config", str(path), "check-config"]) == 2
    assert "no bot serves the communities xingfu" in capsys.readouterr().err
    path = write(tmp_path, entry("c01", ["xingfu"]) + entry("c02", ["C02"]), url=database_url)
    assert paotui(["--config", str(path), "check-config"]) == 0
    assert "2 bots" in capsys.readouterr().out


def test_webhook_mode_a_path_and_port_per_bot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens(monkeypatch)
    monkeypatch.setenv("PAOTUI_BOT__WEBHOOK_SECRET", "abc")
    hook = 'mode = "webhook"\nwebhook_url = "https://bot.example.org/tg"\nlisten = "127.0.0.1:8443"'
    path = write(tmp_path, TWO)
    path.write_text(
        path.read_text(encoding="utf-8").replace('\nmode = "polling"\n', f"\n{hook}\n"),
        encoding="utf-8",
    )
    s = load_settings(path)
    fronts = [receiver(object(), s, i) for i in range(2)]  # type: ignore[arg-type]
    assert [(f.url, f.path, f.port) for f in fronts if isinstance(f, WebhookServer)] == [
        ("https://bot.example.org/tg/c01", "/tg/c01", 8443),
        ("https://bot.example.org/tg/c02", "/tg/c02", 8444),
    ]


async def test_a_community_no_bot_serves_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, rt: object
) -> None:
    """The database holds the demo community (``xingfu``); the bots serve others."""
    tokens(monkeypatch)
    settings: Settings = load_settings(write(tmp_path, TWO, url=database_url))
    with pytest.raises(ConfigError) as info:
        await serve(settings)
    assert "no bot serves the communities xingfu" in str(info.value)
