"""Images pasted into a notebook's Markdown cells (`![](attachment:image.png)`), as data URIs.

Jupyter keeps a pasted image in the cell's `attachments`: {name: {mime type: base64}}.
Only PNG, JPEG and GIF are shown, and only when the bytes are what the type says (an
SVG could carry script; a mislabelled file is not shown); at most MAX_BYTES each.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

MAX_BYTES = 1 << 20  # one image, decoded (a stored notebook holds 2 MB in all)
PREFIX = "attachment:"
# What each allowed type's bytes start with.
MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


def attachment_uri(attachments: dict | None, src: str) -> str | None:
    """The data URI of the image an `attachment:NAME` source names; None if it is not shown."""
    if not src.startswith(PREFIX) or not isinstance(attachments, dict):
        return None
    bundle = attachments.get(unquote(src.removeprefix(PREFIX)))
    if not isinstance(bundle, dict):
        return None
    for mime, prefixes in MAGIC.items():
        data = bundle.get(mime)
        if isinstance(data, list):  # nbformat allows a multiline string as a list
            data = "".join(part for part in data if isinstance(part, str))
        image = _decoded(data)
        if image is not None and image.startswith(prefixes):
            return f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"
    return None


def _decoded(data) -> bytes | None:
    """Base64 text as bytes: None if it is not base64 or decodes to more than MAX_BYTES."""
    if not isinstance(data, str) or len(data) > (MAX_BYTES * 4) // 3 + 4096:
        return None
    try:
        image = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return image if len(image) <= MAX_BYTES else None
