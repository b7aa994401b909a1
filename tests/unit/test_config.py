"""Bad configuration stops start-up with the key and the reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "config.example.toml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_is_valid() -> None:
    s = load_settings(ROOT / "config.example.toml")
    assert s.i18n.default_language == "zh_CN" and s.i18n.timezone == "Asia/Shanghai"
    assert s.outbox.group_per_minute == 20


def test_missing_key(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('timezone = "Asia/Shanghai"', ""))
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "i18n.timezone: required key is missing" in str(info.value)


def test_wrong_type(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("group_per_minute = 20", 'group_per_minute = "lots"'))
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "outbox.group_per_minute" in str(info.value)
    assert "integer" in str(info.value)


def test_out_of_range_and_unknown_values(tmp_path: Path) -> None:
    text = GOOD.replace("global_per_second = 29.8", "global_per_second = 100")
    text = text.replace('timezone = "Asia/Shanghai"', 'timezone = "Mars/Olympus"')
    text = text.replace("[limits]", "[limits]\nmax_txt_length = 5")
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    msg = str(info.value)
    assert "outbox.global_per_second" in msg and "30" in msg
    assert "i18n.timezone" in msg and "Mars/Olympus" in msg
    assert "limits.max_txt_length: unknown key" in msg


def test_the_token_stays_out_of_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("[bot]", '[bot]\ntoken = "123:abc"'))
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "bot.token" in str(info.value) and "PAOTUI_BOT__TOKEN" in str(info.value)


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAOTUI_BOT__TOKEN", "123:abc")
    monkeypatch.setenv("PAOTUI_OUTBOX__GROUP_PER_MINUTE", "10")
    s = load_settings(ROOT / "config.example.toml")
    assert s.has_token and s.bot.token is not None
    assert s.bot.token.get_secret_value() == "123:abc"
    assert s.outbox.group_per_minute == 10


def test_start_up_stops_naming_the_key(tmp_path: Path) -> None:
    """`paotui run` with a bad file exits with status 2 before anything starts."""
    path = write(tmp_path, GOOD.replace("url = ", "urll = "))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAOTUI_")}
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "--config", str(path), "run"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 2
    assert "database.url: required key is missing" in proc.stderr
    assert "database.urll: unknown key" in proc.stderr
    assert not (tmp_path / "var").exists()  # nothing was started or created


def test_privacy_retention_days(tmp_path: Path) -> None:
    """[privacy] retention_days: documented in the example (30), at least 2 days (Telegram
    redelivers an unconfirmed update for a day; the inbox row is what recognises it)."""
    assert load_settings(ROOT / "config.example.toml").privacy.retention_days == 30
    path = write(tmp_path, GOOD.replace("retention_days = 30", "retention_days = 7"))
    assert load_settings(path).privacy.retention_days == 7
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, GOOD.replace("retention_days = 30", "retention_days = 1")))
    assert "privacy.retention_days" in str(info.value) and "2" in str(info.value)
