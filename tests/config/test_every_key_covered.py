"""Every configuration key has a test showing that changing it changes behaviour.

Each ``tests/config/test_keys_*.py`` module defines ``CASES``: a mapping from a dotted key path
(``condor.short_delta``) to a check that runs the part of the method the key governs with the
default and with a changed value and asserts the outputs differ. This test fails when a key of
:class:`vixshield.config.StrategyConfig` has no such case (a new key without a behaviour test,
or a dead key that should be removed) or when a case names a key that does not exist.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pydantic import BaseModel

from vixshield.config import StrategyConfig

HERE = Path(__file__).parent


def leaf_keys(model: BaseModel, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            keys |= leaf_keys(value, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def covered_keys() -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted(HERE.glob("test_keys_*.py")):
        spec = importlib.util.spec_from_file_location(f"_cfgkeys_{path.stem}", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for key in module.CASES:
            out[key] = path.name
    return out


def test_every_config_key_has_a_behaviour_test() -> None:
    keys = leaf_keys(StrategyConfig())
    covered = covered_keys()
    missing = sorted(keys - set(covered))
    unknown = sorted(set(covered) - keys)
    assert not unknown, f"cases for keys that do not exist: {unknown}"
    assert not missing, f"{len(missing)} config keys have no behaviour test: {missing}"
