"""Fast positional construction of the model's frozen records (the per-event hot path).

A frozen dataclass's generated ``__init__`` stores every field through
``object.__setattr__(self, "name", value)``: a generic attribute lookup per field, which made
building a 22-field :class:`~streams.model.state.CustomerState` cost about 1.5 µs, several
times per event. :func:`positional` generates the equivalent constructor that calls each
slot's descriptor directly (about twice as fast). The object it returns is indistinguishable
from ``cls(*values)``: same class, same slot values, cache slots left empty.

A class compiled by mypyc (ops/build_compiled.py) keeps its fields natively, behind getset
descriptors, but its ``__init__`` is still the one ``dataclasses`` generates, interpreted:
5.9 µs for a :class:`~streams.model.state.CustomerState` against 2.9 µs through the
descriptors. It is built the same way, allocated by its own ``__new__`` (mypyc refuses
``object.__new__``).
"""

from __future__ import annotations

from collections.abc import Callable
from types import GetSetDescriptorType, MemberDescriptorType
from typing import Any, TypeVar

T = TypeVar("T")
_FIELD_DESCRIPTORS = (MemberDescriptorType, GetSetDescriptorType)


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
    slots = [cls.__dict__.get(name) for name in names]
    # slot member descriptors, or a mypyc-compiled class's native fields' getset descriptors
    if not any(all(isinstance(s, kind) for s in slots) for kind in _FIELD_DESCRIPTORS):
        return cls
    # the class's own allocator: object.__new__ for the Python source, mypyc's for a build
    scope: dict[str, Any] = {"_new": cls.__new__, "_cls": cls}
    for i, slot in enumerate(slots):
        scope[f"_set{i}"] = slot.__set__  # type: ignore[union-attr]
    lines = [f"def {cls.__name__}({', '.join(names)}):", "    self = _new(_cls)"]
    lines += [f"    _set{i}(self, {name})" for i, name in enumerate(names)]
    source = "\n".join([*lines, "    return self", ""])
    exec(source, scope)  # generated like dataclasses' own __init__; names are field names
    build: Callable[..., T] = scope[cls.__name__]
    build.__qualname__ = f"positional({cls.__name__})"
    return build
