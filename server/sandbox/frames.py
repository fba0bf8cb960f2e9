"""The wire format between the trusted side and the sandbox: framed bytes and .npy arrays.

A frame is a 4-byte tag, a little-endian u32 length and that many bytes. A record is
a frame payload made of parts: a u32 count, then each part as u32 length and bytes.
Arrays travel only as .npy bytes without pickles, and are parsed here strictly.
"""

from __future__ import annotations

import functools
import io
import math
import re
import struct
from dataclasses import dataclass

import numpy as np

HEADER = struct.Struct("<4sI")
U32 = struct.Struct("<I")
U16 = struct.Struct("<H")
CANONICAL_HEADER = re.compile(
    rb"\{'descr': '([<>|=][biuf][0-9]{1,2})', 'fortran_order': (False|True), "
    rb"'shape': \(((?:[0-9]+,)?|[0-9]+(?:, [0-9]+)+)\), \} *\n"
)
MAX_FRAME = 32 * 1024 * 1024
MAX_PARTS = 1024
MAX_NPY_HEADER = 4096
NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats: no complex, no objects
NPY_MAGIC = b"\x93NUMPY\x01\x00"
NPY_ALIGN = 64  # np.save pads each header so that the data starts 64-byte aligned
GROWTH_DIGITS = 21  # and leaves this many digits' room in it (GROWTH_AXIS_MAX_DIGITS)
# Every numeric dtype in both byte orders, made once (in the zygote, before any fork).
DTYPES = {
    dtype.str: dtype
    for char in "?bBhHiIlLqQefd"
    for dtype in (np.dtype(char).newbyteorder("<"), np.dtype(char).newbyteorder(">"))
}


class ProtocolError(ValueError):
    """A frame, record or array broke the wire format."""


def frame(tag: bytes, payload: bytes) -> bytes:
    """Encode one frame."""
    if len(payload) > MAX_FRAME:
        raise ProtocolError(f"frame {tag!r} of {len(payload)} bytes is over the cap")
    return HEADER.pack(tag, len(payload)) + payload


def record(parts: list[bytes]) -> bytes:
    """Encode parts as one record."""
    chunks = [U32.pack(len(parts))]
    for part in parts:
        chunks += [U32.pack(len(part)), part]
    return b"".join(chunks)


def parse_record(payload: bytes, min_parts: int = 0, max_parts: int = MAX_PARTS) -> list[bytes]:
    """Decode a record, checking every length against what is really there."""
    if type(payload) is not bytes:
        payload = bytes(payload)  # so that its slices, the parts, are bytes too
    end = len(payload)
    if end < 4:
        raise ProtocolError("truncated record")
    (count,) = U32.unpack_from(payload, 0)
    if not min_parts <= count <= max_parts:
        raise ProtocolError(f"record of {count} parts")
    parts, offset = [], 4
    for _ in range(count):
        start = offset + 4
        if start > end:
            raise ProtocolError("truncated record")
        offset = start + U32.unpack_from(payload, offset)[0]
        if offset > end:
            raise ProtocolError("truncated record")
        parts.append(payload[start:offset])
    if offset != end:
        raise ProtocolError("trailing bytes after record")
    return parts


def dump_array(array: np.ndarray) -> bytes:
    """Encode a numeric array as .npy bytes, exactly as np.save would."""
    if array.dtype.kind not in NUMERIC_KINDS:
        raise ProtocolError(f"not a numeric array: dtype {array.dtype}")
    fortran = array.flags.f_contiguous and not array.flags.c_contiguous
    order = "F" if fortran else "C"
    return npy_header(array.dtype.str, fortran, array.shape) + array.tobytes(order)


@functools.lru_cache(maxsize=1024)
def npy_header(descr: str, fortran: bool, shape: tuple[int, ...]) -> bytes:
    """Return the version 1.0 header np.save writes for such arrays, byte for byte.

    Built here rather than with np.lib.format, whose writer cost ~40 µs per new kind of
    array in a fresh sandbox (each run met some 25), three times the rest of encoding.
    """
    text = f"{{'descr': {descr!r}, 'fortran_order': {fortran!r}, 'shape': {shape!r}, }}"
    if shape:  # NumPy leaves room to grow the first (last, in Fortran order) dimension
        text += " " * (GROWTH_DIGITS - len(repr(shape[-1 if fortran else 0])))
    size = len(text) + 1  # and a newline
    size += NPY_ALIGN - (len(NPY_MAGIC) + U16.size + size) % NPY_ALIGN
    if size > 0xFFFF:
        raise ProtocolError(f"array of {len(shape)} dimensions: header too long")
    return NPY_MAGIC + U16.pack(size) + text.ljust(size - 1).encode("latin1") + b"\n"


def load_array(data: bytes) -> np.ndarray:
    """Decode .npy bytes into a fresh numeric array, rejecting anything else."""
    try:
        return _load_array(data)
    except ProtocolError:
        raise
    except Exception as exc:  # numpy's header parser raises many types on garbage
        raise ProtocolError(f"malformed array: {type(exc).__name__}") from None


@dataclass(frozen=True)
class Layout:
    """What a checked .npy header says: how to read the array that follows it."""

    shape: tuple[int, ...]
    order: str  # "C" or "F"
    dtype: np.dtype  # as stored
    native: np.dtype  # the same in this machine's byte order
    offset: int  # where the data starts
    count: int  # elements


def _load_array(data: bytes) -> np.ndarray:
    layout = array_layout(data)
    if len(data) - layout.offset != layout.count * layout.dtype.itemsize:
        raise ProtocolError("array data does not match its header")
    stored = np.ndarray(layout.shape, layout.dtype, data, layout.offset, order=layout.order)
    return stored.astype(layout.native, order="C")  # a writable copy in native byte order


def array_layout(data: bytes) -> Layout:
    """Return the checked layout of .npy bytes, from the cache for NumPy's usual headers."""
    if data[:8] == NPY_MAGIC and len(data) >= 10:
        end = 10 + U16.unpack_from(data, 8)[0]
        layout = canonical_layout(data[:end])
        if layout is not None:
            return layout
    return checked_layout(*read_header(data))


def checked_layout(shape: tuple, fortran_order: bool, dtype: np.dtype, offset: int) -> Layout:
    """Reject what is not a plain numeric array; describe the rest."""
    if dtype.kind not in NUMERIC_KINDS or dtype.fields or dtype.subdtype or dtype.hasobject:
        raise ProtocolError(f"not a numeric dtype: {dtype}")
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise ProtocolError(f"bad shape {shape}")
    order = "F" if fortran_order else "C"
    return Layout(shape, order, dtype, dtype.newbyteorder("="), offset, math.prod(shape))


def read_header(data: bytes) -> tuple[tuple, bool, np.dtype, int]:
    """Return shape, Fortran order, dtype and data offset of .npy bytes, with NumPy's parser."""
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    if version not in ((1, 0), (2, 0)):
        raise ProtocolError(f"unsupported .npy version {version}")
    reader = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, fortran_order, dtype = reader(stream, max_header_size=MAX_NPY_HEADER)
    return shape, fortran_order, dtype, stream.tell()


@functools.lru_cache(maxsize=1024)
def canonical_layout(header: bytes) -> Layout | None:
    """Parse a version 1.0 header as NumPy writes it for a plain numeric array, or None.

    Matched exactly, three times faster than NumPy's own parser (which reads every other
    header), and cached: a run's arrays have few distinct headers.
    """
    match = CANONICAL_HEADER.fullmatch(header, 10)
    if match is None:
        return None
    descr, fortran, dims = match.groups()
    shape = tuple(int(n) for n in dims.split(b",") if n.strip())
    descr = descr.decode()
    dtype = DTYPES.get(descr) or np.dtype(descr)
    return checked_layout(shape, fortran == b"True", dtype, len(header))
