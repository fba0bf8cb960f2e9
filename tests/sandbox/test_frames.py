"""The wire format's array encoding, against NumPy's own writer and reader."""

import io

import numpy as np
import pytest

from server.sandbox import frames

SHAPES = [(), (0,), (3,), (2, 3), (1, 0, 3), (7, 8, 9, 10), (1, 2, 3, 4, 5, 6)]
DTYPES = [np.dtype(c).newbyteorder(o) for c in "?bBhHiIlLqQefd" for o in "<>"]


def np_save(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_arrays_encode_exactly_as_np_save_writes_them(dtype):
    for shape in SHAPES:
        array = np.arange(np.prod(shape)).reshape(shape).astype(dtype)
        strided = [array[..., ::2]] if array.ndim else []
        for each in [array, np.asfortranarray(array), array.T, *strided]:
            assert frames.dump_array(each) == np_save(each), (dtype, shape, each.flags)
            back = frames.load_array(frames.dump_array(each))
            assert back.dtype == dtype.newbyteorder("=") and back.shape == each.shape
            np.testing.assert_array_equal(back, each)


def test_headers_numpy_writes_differently_still_load():
    array = np.arange(6.0).reshape(2, 3)
    header = b"{'shape': (2, 3), 'fortran_order': False, 'descr': '<f8'}"
    size = 128 - 10  # aligned, as NumPy requires
    data = b"\x93NUMPY\x01\x00" + size.to_bytes(2, "little") + header.ljust(size - 1) + b"\n"
    np.testing.assert_array_equal(frames.load_array(data + array.tobytes()), array)


def test_object_and_structured_arrays_are_refused():
    with pytest.raises(frames.ProtocolError):
        frames.dump_array(np.array([object()]))
    with pytest.raises(frames.ProtocolError):
        frames.load_array(np_save(np.zeros(2, dtype=[("a", "<f8")])))
