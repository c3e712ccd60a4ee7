"""Fast positional construction of the model's frozen records (the per-event hot path).

A frozen dataclass's generated ``__init__`` stores every field through
``object.__setattr__(self, "name", value)``: a generic attribute lookup per field, which made
building a 22-field :class:`~streams.model.state.CustomerState` cost about 1.5 µs, several
times per event. :func:`positional` generates the equivalent constructor that calls each
slot's descriptor directly (about twice as fast). The object it returns is indistinguishable
from ``cls(*values)``: same class, same slot values, cache slots left empty. A class compiled
by mypyc (ops/build_compiled.py) has no slot descriptors and is returned as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MemberDescriptorType
from typing import Any, TypeVar

T = TypeVar("T")


def positional(cls: type[T]) -> Callable[..., T]:
    """``cls(*values)`` for a frozen, slotted dataclass, only faster.

    Every field must be passed (positionally or by name): the builder has no defaults. Refuses
    classes whose ``__init__`` does more than store its arguments (``__post_init__`` or
    ``init=False`` fields would be skipped).
    """
    fields = cls.__dataclass_fields__  # type: ignore[attr-defined]
    if hasattr(cls, "__post_init__") or any(not f.init for f in fields.values()):
        raise TypeError(f"{cls.__name__}: __init__ does more than store its fields")
    names = tuple(fields)
    if not all(isinstance(cls.__dict__.get(name), MemberDescriptorType) for name in names):
        return cls  # a compiled (mypyc) class keeps its fields natively: its own __init__ is fast
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for i, name in enumerate(names):
        scope[f"_set{i}"] = cls.__dict__[name].__set__  # the slot's member descriptor
    lines = [f"def {cls.__name__}({', '.join(names)}):", "    self = _new(_cls)"]
    lines += [f"    _set{i}(self, {name})" for i, name in enumerate(names)]
    source = "\n".join([*lines, "    return self", ""])
    exec(source, scope)  # generated like dataclasses' own __init__; names are field names
    build: Callable[..., T] = scope[cls.__name__]
    build.__qualname__ = f"positional({cls.__name__})"
    return build
