"""The identity memo: one computation per unchanged object, none kept for a changed one."""

import numpy as np

from server.memo import IdentityMemo


def read_only(array) -> bool:
    return not array.flags.writeable


def test_remembers_per_object_and_tag_while_unchanged():
    memo = IdentityMemo(read_only)
    calls = []
    a, b = np.zeros(2), np.zeros(2)  # equal, but different objects
    a.flags.writeable = b.flags.writeable = False

    def compute(x, tag=None):
        return memo.get(x, lambda: calls.append((id(x), tag)) or len(calls), tag)

    assert compute(a) == compute(a) == 1
    assert compute(b) == 2 and compute(a, "other") == 3
    a.flags.writeable = True  # changed: recomputed every time, and not kept
    assert compute(a) == 4 and compute(a) == 5
    assert len(calls) == 5
    writable = np.zeros(2)
    assert compute(writable) == 6
    assert all(obj is not writable for obj, _ in memo.entries.values())  # nothing held


def test_an_entry_keeps_its_object_alive_so_no_other_takes_its_id():
    memo = IdentityMemo(read_only)
    array = np.zeros(1)
    array.flags.writeable = False
    memo.get(array, lambda: "first")
    key = id(array)
    del array
    held = memo.entries[(None, key)][0]
    assert id(held) == key and memo.get(held, lambda: "again") == "first"


def test_starts_over_when_full():
    memo = IdentityMemo(read_only, max_size=2)
    arrays = [np.zeros(1) for _ in range(3)]
    for n, array in enumerate(arrays):
        array.flags.writeable = False
        memo.get(array, lambda n=n: n)
    assert len(memo.entries) == 1  # cleared at the third, which alone is kept
    assert memo.get(arrays[2], lambda: "recomputed") == 2
