"""The strategy configuration: defaults round-trip, unknown and out-of-range keys are named."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vixshield.cli import app
from vixshield.config import (
    ConfigError,
    StrategyConfig,
    fingerprint,
    load_config,
    parse_config,
    render_defaults,
)

runner = CliRunner()


def test_rendered_defaults_parse_back_to_the_defaults() -> None:
    text = render_defaults()
    cfg = parse_config(tomllib.loads(text))
    assert cfg == StrategyConfig()
    assert fingerprint(cfg) == fingerprint(StrategyConfig())
    for table in (
        "indicators",
        "regime",
        "condor",
        "management",
        "sizing",
        "book",
        "ladder",
        "hedge",
    ):
        assert f"[{table}]" in text


def test_every_leaf_key_is_written_with_a_comment() -> None:
    lines = render_defaults().splitlines()
    for i, line in enumerate(lines):
        if " = " in line and not line.startswith("#"):
            assert lines[i - 1].startswith("#"), f"no comment above {line!r}"


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'sizing\.budget_pctt'"):
        parse_config({"sizing": {"budget_pctt": 0.02}}, source="my.toml")


def test_out_of_range_value_is_named(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("[indicators]\nrsi_days = 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert "bad.toml: 'indicators.rsi_days' = 1" in str(err.value)
    assert "greater than or equal to 2" in str(err.value)


def test_not_toml_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("[indicators\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(f)


def test_changed_value_changes_the_fingerprint() -> None:
    changed = parse_config({"indicators": {"rsi_days": 10}})
    assert changed.indicators.rsi_days == 10
    assert fingerprint(changed) != fingerprint(StrategyConfig())


def test_cli_init_check_show(tmp_path: Path) -> None:
    out = tmp_path / "vixshield.toml"
    assert runner.invoke(app, ["config", "init", "--out", str(out)]).exit_code == 0
    again = runner.invoke(app, ["config", "init", "--out", str(out)])
    assert again.exit_code == 2
    assert "--force" in again.stderr
    ok = runner.invoke(app, ["config", "check", str(out)])
    assert ok.exit_code == 0
    assert "valid" in ok.stdout
    out.write_text(out.read_text().replace("rsi_days = 14", "rsi_days = 500"))
    bad = runner.invoke(app, ["config", "check", str(out)])
    assert bad.exit_code == 2
    assert "'indicators.rsi_days' = 500" in bad.stderr
    shown = runner.invoke(app, ["config", "show"])
    assert '"rsi_days": 14' in shown.stdout
