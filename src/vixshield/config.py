"""The strategy configuration: one TOML file, every tunable bounded, closed to unknown keys.

Each part of the method owns a frozen pydantic model with its defaults from METHOD.md
(``IndicatorParams``, ``RegimeParams``, ``CondorParams``, ``ManagementParams``,
``SizingParams``, ``BookParams``, ``LadderParams``, ``HedgeParams``); :class:`StrategyConfig`
gathers them as TOML tables of the same names. Every model is ``extra="forbid"``: a misspelt or
unknown key is refused, and so is a value outside its bounds, with a message naming the key
path (``condor.short_delta``), the value and the rule. ``vixshield config init`` writes the
documented defaults, each key with its description and bounds as a comment.

The configuration is recorded with every decision (its SHA-256 is :func:`fingerprint`), so a
result can always be traced to the settings that produced it.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vixshield.errors import VixShieldError
from vixshield.signals.indicators import IndicatorParams
from vixshield.signals.regime import RegimeParams
from vixshield.strategy.alvh import HedgeParams
from vixshield.strategy.book import BookParams
from vixshield.strategy.condor import CondorParams
from vixshield.strategy.ladder import LadderParams
from vixshield.strategy.management import ManagementParams
from vixshield.strategy.sizing import SizingParams


class ConfigError(VixShieldError, ValueError):
    """A configuration file or value was refused; the message names the key and the rule."""


class StrategyConfig(BaseModel):
    """Every tunable of the method, by part (TOML tables of the same names)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    indicators: IndicatorParams = Field(default_factory=IndicatorParams)
    regime: RegimeParams = Field(default_factory=RegimeParams)
    condor: CondorParams = Field(default_factory=CondorParams)
    management: ManagementParams = Field(default_factory=ManagementParams)
    sizing: SizingParams = Field(default_factory=SizingParams)
    book: BookParams = Field(default_factory=BookParams)
    ladder: LadderParams = Field(default_factory=LadderParams)
    hedge: HedgeParams = Field(default_factory=HedgeParams)


def describe_validation_error(err: ValidationError, source: str) -> str:
    """One line per bad key of a TOML file: unknown keys and values out of their range."""
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{path}'; remove it or check its spelling")
        else:
            got = e.get("input")
            lines.append(f"{source}: '{path}' = {got!r}: {e['msg']}")
    return "\n".join(lines)


def parse_config(data: dict[str, Any], *, source: str = "<config>") -> StrategyConfig:
    """Validate a mapping (as read from TOML); refuse unknown keys and out-of-range values."""
    try:
        return StrategyConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source)) from None


def load_config(path: Path | None) -> StrategyConfig:
    """Read a TOML configuration file (``None``: the documented defaults)."""
    if path is None:
        return StrategyConfig()
    return parse_config(read_toml(path, "the configuration"), source=str(path))


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file as a mapping; an unreadable or malformed file is a ConfigError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror})") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def fingerprint(config: StrategyConfig) -> str:
    """SHA-256 of the configuration's canonical JSON: equal settings, equal fingerprint."""
    text = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"cannot write a non-finite default {value!r} to TOML")
        return repr(value)
    if isinstance(value, Enum):
        return _toml_value(value.value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {value!r} to TOML")


def _bounds(field_info: Any) -> str:
    parts = []
    for meta in field_info.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            bound = getattr(meta, attr, None)
            if bound is not None:
                parts.append(f"{sym} {bound}")
    return f" [{', '.join(parts)}]" if parts else ""


def _render_table(name: str, part: BaseModel, lines: list[str]) -> None:
    nested: list[tuple[str, BaseModel]] = []
    lines.append(f"[{name}]")
    doc = (type(part).__doc__ or "").strip().splitlines()
    if doc:
        lines.append(f"# {doc[0]}")
    for key, info in type(part).model_fields.items():
        value = getattr(part, key)
        if isinstance(value, BaseModel):
            nested.append((f"{name}.{key}", value))
            continue
        desc = (info.description or "").strip().replace("\n", " ")
        lines.append(f"# {desc}{_bounds(info)}" if desc else f"#{_bounds(info)}")
        if value is None:  # TOML has no null: an unset optional key stays commented out
            lines.append(f"# {key} = (unset by default)")
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    lines.append("")
    for sub_name, sub in nested:
        _render_table(sub_name, sub, lines)


def render_defaults() -> str:
    """The documented defaults as TOML, each key with its description and bounds."""
    lines = [
        "# VixShield strategy configuration: every tunable of the method (METHOD.md).",
        "# Written by `vixshield config init`; unknown keys and out-of-range values are refused.",
        "",
    ]
    default = StrategyConfig()
    for name in StrategyConfig.model_fields:
        _render_table(name, getattr(default, name), lines)
    return "\n".join(lines)
