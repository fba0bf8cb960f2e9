"""A bounded memo of values derived from objects that must not change, keyed by identity."""

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class IdentityMemo(Generic[V]):
    """Remember what was computed from an object, for as long as the object stays unchanged.

    Made for an exercise's test cases and their read-only NumPy arrays, the same objects
    in every grading, which hash by identity or not at all: entries are keyed by id(),
    and each holds its object so that the id cannot be reused while the entry lives. A
    hit counts only while `unchanged(obj)` holds (a read-only array can be made writable
    again); a full memo starts over.
    """

    def __init__(self, unchanged: Callable[[object], bool], max_size: int = 4096):
        self.unchanged, self.max_size = unchanged, max_size
        self.entries: dict[tuple[Hashable, int], tuple[object, V]] = {}

    def get(self, obj: object, compute: Callable[[], V], tag: Hashable = None) -> V:
        """Return compute()'s value for obj (and tag), computing it only when not remembered."""
        key = (tag, id(obj))
        hit = self.entries.get(key)
        if hit is not None and hit[0] is obj and self.unchanged(obj):
            return hit[1]
        value = compute()
        if self.unchanged(obj):
            if len(self.entries) >= self.max_size:
                self.entries.clear()
            self.entries[key] = (obj, value)
        return value
