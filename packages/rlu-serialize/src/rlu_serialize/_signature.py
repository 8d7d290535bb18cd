"""Signatures: an HMAC-SHA256 of the LZ4 frame, stored in a skippable frame after it.

The LZ4 frame format reserves magic numbers 0x184D2A50-0x184D2A5F for *skippable
frames*: a 4-byte magic, a 4-byte little-endian length and that many bytes that every
decoder skips (``lz4.frame.decompress``, ``lz4.frame.open`` and the ``lz4`` tool
included). A signed checkpoint is the ordinary frame followed by one skippable frame
holding a tag and the signature, so it stays readable everywhere an unsigned one is.

The signature is ``HMAC-SHA256(key, TAG + header + SHA-256(body))``, where ``header``
is the frame's header (magic to header checksum) and ``body`` the rest of the frame.
Hashing the body first lets the writer sign while it streams, although it writes the
header last.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

#: The skippable-frame magic rlu uses for signatures (0x184D2A5B, little-endian).
SIGNATURE_MAGIC = struct.pack("<I", 0x184D2A5B)
_TAG = b"rlu-hmac-sha256/1"  # 17 bytes; names the scheme, so a later one cannot be confused
_PAYLOAD = len(_TAG) + 32
#: Length of the signature frame: magic, length, tag and the 32-byte HMAC.
SIGNATURE_SIZE = 8 + _PAYLOAD
_PREFIX = SIGNATURE_MAGIC + struct.pack("<I", _PAYLOAD) + _TAG


def check_key(key: object) -> bytes | None:
    """``key`` (None or a bytes-like object of at least 16 bytes) as bytes."""
    if key is None:
        return None
    if isinstance(key, str):
        raise TypeError("key must be bytes (for example secrets.token_bytes(32)), got str")
    try:
        data = bytes(memoryview(key))  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"key must be a bytes-like object or None, got {type(key).__name__}"
        ) from None
    if len(data) < 16:
        raise ValueError(
            f"key must be at least 16 bytes long (use secrets.token_bytes(32)), got {len(data)}"
        )
    return data


def signature_frame(key: bytes, header: bytes, body_digest: bytes) -> bytes:
    """The skippable frame that signs a frame with this header and body digest."""
    mac = hmac.new(key, _TAG + header + body_digest, hashlib.sha256).digest()
    return _PREFIX + mac


def is_signature_frame(data: bytes) -> bool:
    """Whether ``data`` is exactly one signature frame (its HMAC unchecked)."""
    return len(data) == SIGNATURE_SIZE and data.startswith(_PREFIX)


def signature_matches(key: bytes, header: bytes, body_digest: bytes, frame: bytes) -> bool:
    """Whether ``frame`` is the signature frame of this header and body under ``key``."""
    return is_signature_frame(frame) and hmac.compare_digest(
        signature_frame(key, header, body_digest), frame
    )
