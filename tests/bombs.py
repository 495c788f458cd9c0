"""Compressed bodies that inflate to many megabytes (RFC 1950 zlib, RFC 1951 deflate, RFC 1952
gzip), built without compressing those megabytes.

A deflate stream may be cut into blocks at a full flush, after which the compressor starts
again with an empty window: compressing the same megabyte after each full flush gives the same
bytes every time. So one compressed megabyte, repeated, is one valid stream (a single gzip
member, not a concatenation) of as many megabytes as wanted: the bomb ``gzip.compress`` makes of
64 MB of spaces in ~0.4 s of CPU, in a few milliseconds (the checksums still read every byte).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

MB = 1 << 20


def _raw(megabytes: int, fill: bytes) -> bytes:
    """A raw deflate stream of ``megabytes`` MB of ``fill``."""
    block = fill * MB
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    third = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    assert again == third  # the same bytes after every full flush: the stream can repeat them
    return first + again * (megabytes - 1) + packer.flush(zlib.Z_FINISH)


def _checksum(megabytes: int, fill: bytes, step: Callable[[bytes, int], int], start: int) -> int:
    block, value = fill * MB, start
    for _ in range(megabytes):
        value = step(block, value)
    return value


def gzip_bomb(megabytes: int, fill: bytes = b" ") -> bytes:
    """One gzip member that inflates to ``megabytes`` MB of ``fill`` (as ``gzip.compress``)."""
    crc = _checksum(megabytes, fill, zlib.crc32, 0)
    header = b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x02\xff"
    size = (megabytes * MB) & 0xFFFFFFFF
    return header + _raw(megabytes, fill) + struct.pack("<II", crc, size)


def zlib_bomb(megabytes: int, fill: bytes = b" ") -> bytes:
    """A zlib stream (``Content-Encoding: deflate``) of ``megabytes`` MB of ``fill`` (as
    ``zlib.compress``); ``[2:-4]`` of it is the bare deflate stream."""
    adler = _checksum(megabytes, fill, zlib.adler32, 1)
    return b"\x78\xda" + _raw(megabytes, fill) + struct.pack(">I", adler)
