"""Pickling for frozen dataclasses that hold read-only mappings.

``types.MappingProxyType`` cannot be pickled, so a value holding one could not cross a process
boundary (a backtest run in a worker process returns its decisions and books). The reducer
rebuilds the value through its constructor from plain dict copies; ``__post_init__`` wraps
them again.
"""

from __future__ import annotations

from dataclasses import fields
from types import MappingProxyType
from typing import Any


def reduce_frozen(obj: Any) -> tuple[Any, tuple[Any, ...]]:
    """``__reduce__`` for a dataclass whose fields are all constructor arguments."""
    values = (getattr(obj, f.name) for f in fields(obj))
    return type(obj), tuple(dict(v) if isinstance(v, MappingProxyType) else v for v in values)
