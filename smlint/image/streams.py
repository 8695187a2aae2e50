"""Byte streams under the layer walker: decompression (gzip, zstd) with a
bomb guard, a forward-only reader tarfile can use in random-access mode, and
hashing of what passes through (the digests an image's config claims).

Memory stays bounded whatever the input: every read is in pieces of at most
about _CHUNK bytes.
"""
from __future__ import annotations

import hashlib
import io
import re
import sys
import zlib
from typing import BinaryIO, Callable

BOMB_MIN_BYTES = 256 << 20  # never call a layer a bomb below this much output
BOMB_RATIO = 200  # real layers compress far less than 200:1
_CHUNK = 1 << 20
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ZSTD_PIECE, _ZSTD_WRITE = 256, 32 << 10  # see _Unzstd


class LayerError(Exception):
    """The layer cannot be read: corrupt, truncated, hostile. One-line reason."""


class _Frames(io.RawIOBase):
    """Forward-only decompression of concatenated frames (gzip members, zstd
    frames) with the bomb guard; a subclass says how one frame is read.

    Input is read from `raw` and handed to the frame's decompressor in
    pieces of at most _CHUNK bytes; each call gives a bounded amount of
    output (about _CHUNK), which is counted against the compressed bytes
    consumed (`_check_bomb`) before any of it is handed on. Input the
    decompressor did not consume (after a frame's end, or held back at its
    output limit) is put back. NUL padding between frames is skipped; input
    that ends inside a frame is "truncated". Memory stays bounded (see _Unzstd).
    """

    kind = ""  # "gzip", "zstd": for messages
    errors: tuple = ()  # the library's exceptions for corrupt data

    def __init__(self, raw: BinaryIO, head: bytes) -> None:
        self.raw = raw
        self.input, self.offset = head, 0  # read, not yet handed on: input[offset:]
        self.count = 0  # compressed bytes consumed
        self.out = 0  # decompressed bytes produced
        self.output, self.position = b"", 0  # produced, not yet read: output[position:]
        self.frame = None  # the current frame's decompressor; None between frames
        self.done = False

    def readable(self) -> bool:
        return True

    # One frame, per format: subclasses override these.
    def _new_frame(self):
        raise NotImplementedError

    def _decompress(self, frame, data) -> tuple[bytes, bytes]:
        """(output, at most about _CHUNK bytes; the tail of `data` not consumed)."""
        raise NotImplementedError

    def _more(self, frame) -> bool:
        """Whether output is waiting that needs no more input."""
        return False

    def _flush(self, frame) -> bytes:
        """Output still held when the input has ended."""
        return b""

    def readinto(self, buffer) -> int:
        while self.position >= len(self.output):
            if self.done:
                return 0
            self.output, self.position = self._produce(), 0
            self._check_bomb(len(self.output))
        n = min(len(buffer), len(self.output) - self.position)
        buffer[:n] = memoryview(self.output)[self.position:self.position + n]
        self.position += n
        return n

    def _produce(self) -> bytes:
        """The next output (maybe b""); sets `done` at the end of the stream."""
        waiting = self.frame is not None and self._more(self.frame)
        data = b"" if waiting else self._take()
        try:
            if not data and not waiting:  # the input has ended
                self.done = True
                if self.frame is None:
                    return b""
                out = self._flush(self.frame)
                if not self.frame.eof:
                    raise LayerError(f"{self.kind} stream is truncated")
                return out
            if self.frame is None:
                self.frame = self._new_frame()
            out, rest = self._decompress(self.frame, data)
        except self.errors as error:
            raise LayerError(f"corrupt {self.kind} data: {error}") from None
        self.count += len(data)
        if rest:
            self._unread(rest)
        if self.frame.eof:
            self.frame = None
        return out

    def _take(self):
        """Up to _CHUNK bytes of input (b"" at its end); between frames,
        NUL padding is skipped."""
        while True:
            if self.offset >= len(self.input):
                self.input, self.offset = self.raw.read(_CHUNK), 0
                if not self.input:
                    return b""
            if self.frame is None:
                found = _NOT_NUL.search(self.input, self.offset)
                self.offset = found.start() if found else len(self.input)
                if not found:
                    continue
            start = self.offset
            self.offset = min(start + _CHUNK, len(self.input))
            return memoryview(self.input)[start:self.offset]

    def _unread(self, rest) -> None:
        # `rest` is a tail of the last piece taken from self.input, which is
        # only refilled once it is used up.
        if len(rest) <= self.offset:
            self.offset -= len(rest)
        else:
            self.input, self.offset = bytes(rest) + self.input[self.offset:], 0
        self.count -= len(rest)

    def _check_bomb(self, produced: int) -> None:
        self.out += produced
        if self.out > BOMB_MIN_BYTES and self.out > BOMB_RATIO * max(self.count, 1):
            raise LayerError(
                f"decompression bomb: {self.count:,} compressed bytes expand beyond "
                f"{self.out:,} bytes (more than {BOMB_RATIO}:1); refusing to read on"
            )


_NOT_NUL = re.compile(rb"[^\0]")


class _Gunzip(_Frames):
    """gzip (multi-member)."""

    kind, errors = "gzip", (zlib.error,)

    def _new_frame(self):
        return zlib.decompressobj(31)

    def _decompress(self, frame, data):
        out = frame.decompress(data, _CHUNK)
        return out, frame.unused_data if frame.eof else frame.unconsumed_tail

    def _flush(self, frame) -> bytes:
        return frame.flush()  # a few KiB at most: the input is all consumed


class _StdlibUnzstd(_Frames):
    """zstd through the standard library (Python 3.14+): output bounded by
    max_length, one decompressor per frame."""

    kind = "zstd"

    def __init__(self, raw: BinaryIO, head: bytes, module) -> None:
        super().__init__(raw, head)
        self.module, self.errors = module, (module.ZstdError,)

    def _new_frame(self):
        return self.module.ZstdDecompressor()

    def _decompress(self, frame, data):
        out = frame.decompress(data, _CHUNK)
        return out, frame.unused_data  # b"" until the frame ends

    def _more(self, frame) -> bool:
        return not frame.needs_input and not frame.eof


class _Unzstd(_Frames):
    """zstd through python-zstandard. Its decompressobj returns all output
    for the input it is given, and a zstd block of 4 bytes can expand to
    128 KiB (RLE), so input goes in in pieces of _ZSTD_PIECE bytes (at most
    about 8 MiB of output each) until about _CHUNK bytes of output are there
    for the bomb guard to count."""

    kind = "zstd"

    def __init__(self, raw: BinaryIO, head: bytes, module) -> None:
        super().__init__(raw, head)
        self.context, self.errors = module.ZstdDecompressor(), (module.ZstdError,)

    def _new_frame(self):
        return self.context.decompressobj(write_size=_ZSTD_WRITE)  # one frame: .eof, .unused_data

    def _decompress(self, frame, data):
        outs, total, start = [], 0, 0
        while start < len(data) and total < _CHUNK:
            end = start + _ZSTD_PIECE
            out = frame.decompress(data[start:end])
            outs.append(out)
            total += len(out)
            if frame.eof:
                end = min(end, len(data)) - len(frame.unused_data)
                start = end
                break
            start = end
        return b"".join(outs), data[start:]


def _zstd_reader(raw: BinaryIO, head: bytes) -> _Frames:
    """The zstd reader; its library is imported only now, when a zstd layer
    is met: the standard library's on Python 3.14+, else python-zstandard."""
    if sys.version_info >= (3, 14):
        try:
            from compression import zstd
        except ImportError:  # a Python built without libzstd
            pass
        else:
            return _StdlibUnzstd(raw, head, zstd)
    try:
        import zstandard
    except ImportError:
        raise LayerError(
            "zstd-compressed layer: reading it needs the zstandard package (pip install zstandard)"
        ) from None
    return _Unzstd(raw, head, zstandard)


def open_layer_stream(raw: BinaryIO) -> tuple[BinaryIO, bool]:
    """(uncompressed stream, was it compressed), sniffing the magic bytes."""
    head = raw.read(4)
    if head[:2] == b"\x1f\x8b":
        return io.BufferedReader(_Gunzip(raw, head), _CHUNK), True
    if head == _ZSTD_MAGIC:
        return io.BufferedReader(_zstd_reader(raw, head), _CHUNK), True
    if hasattr(raw, "seek") and seekable(raw):
        raw.seek(-len(head), io.SEEK_CUR)
        return raw, False
    return io.BufferedReader(_Prefixed(head, raw), _CHUNK), False


def seekable(raw) -> bool:
    try:
        return raw.seekable()
    except Exception:
        return False


class _Prefixed(io.RawIOBase):
    def __init__(self, head: bytes, raw: BinaryIO) -> None:
        self.head, self.raw = head, raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class ForwardReader:
    """A forward-only stream that tarfile may open in random-access mode.

    tarfile's own stream mode (`r|`) copies its whole read buffer on every
    512-byte header read; in `r:` mode it only seeks forward and reads, so
    skipping file data here costs no copies at all. `source` is a callable
    returning the next bytes (any length; b"" at the end).
    """

    def __init__(self, source: Callable[[int], bytes]) -> None:
        self.source, self.buffer, self.offset, self.position = source, b"", 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def _refill(self, wanted: int) -> bool:
        self.buffer, self.offset = self.source(min(max(wanted, _CHUNK), 4 * _CHUNK)), 0
        return bool(self.buffer)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 62
        parts = []
        while size > 0:
            available = len(self.buffer) - self.offset
            if available <= 0:
                if not self._refill(size):
                    break
                continue
            take = min(available, size)
            parts.append(self.buffer[self.offset:self.offset + take])
            self.offset += take
            self.position += take
            size -= take
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def seek(self, target: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            target += self.position
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("seek from the end of a stream")
        if target < self.position:
            back = self.position - target
            if back > self.offset:
                raise io.UnsupportedOperation("cannot seek backwards in a stream")
            self.offset -= back
            self.position = target
            return target
        skip = target - self.position
        while skip > 0:
            available = len(self.buffer) - self.offset
            if available <= 0:
                if not self._refill(skip):
                    break  # past the end: the next read finds nothing
                continue
            take = min(available, skip)
            self.offset += take
            self.position += take
            skip -= take
        return self.position

    def close(self) -> None:
        pass


class Hashing:
    """Hashes what is read through it. `digest` is "ALGORITHM:HEX" as an image
    config or manifest writes it (already checked to be sha256 or sha512)."""

    def __init__(self, raw: BinaryIO, digest: str) -> None:
        algorithm, _, self.expected = digest.partition(":")
        self.raw, self.digest, self.hash = raw, digest, hashlib.new(algorithm)

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size is not None and size >= 0 else _CHUNK)
        self.hash.update(data)
        return data

    def drain(self, progress: Callable[[int], None] | None = None) -> None:
        """Read (and hash) the rest of the stream, to its end."""
        done = 0
        while True:
            data = self.read(_CHUNK)
            if not data:
                return
            done += len(data)
            if progress:
                progress(done)

    @property
    def value(self) -> str:
        """"ALGORITHM:HEX" of what was read so far."""
        return f"{self.hash.name}:{self.hash.hexdigest()}"

    def check(self, claim: str = "diff_id") -> None:
        """Drain, then LayerError unless the digest is the one `claim`ed
        ("diff_id": of the uncompressed tar; "blob digest": of the blob)."""
        self.drain()
        if self.value != self.digest:
            raise LayerError(digest_mismatch(self.value, self.digest, claim))


def digest_mismatch(actual: str, claimed: str, claim: str = "diff_id") -> str:
    return f"layer digest mismatch: its content hashes to {actual[:19]}..., not to its {claim} {claimed}"


def verify_layer(raw: BinaryIO, diff_id: str, progress: Callable[[int], None] | None = None) -> None:
    """Decompress layer `raw` and hash it to its end; LayerError unless it is
    `diff_id` (the digest of the uncompressed tar). What a cache hit costs for
    a layer that did not come from the engine."""
    stream, _ = open_layer_stream(raw)
    hashing = Hashing(stream, diff_id)
    hashing.drain(progress)
    hashing.check("diff_id")
