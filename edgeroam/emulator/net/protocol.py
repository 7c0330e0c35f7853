"""The wire protocol of the net agents (DESIGN.md §6): signed frames carrying JSON headers and safetensors.

A frame is::

    b"ER1" | u32 header length | u64 body length | header | body | HMAC-SHA256

all integers big-endian; the header is a UTF-8 JSON object (at most `MAX_HEADER` bytes) with ``type``,
``run``, ``src``, ``dst``, ``seq``, ``client``, ``layers``, ``ts`` and optionally ``ref`` (the seq a reply
answers) and ``meta`` (a small JSON object: an action, a query's record); the body is empty or safetensors
bytes (at most the receiver's `max_body`); the 32-byte MAC covers everything before it, keyed by the run's
secret.

`Encoder` numbers a sender's frames (seq strictly increasing, from the wall clock in microseconds so that a
restarted process continues above its old numbers) and signs them. `Decoder` is incremental (``feed``
bytes, get frames; ``feed_eof`` at the end) and never raises on input: a frame with a bad MAC, a seq not above
the last one from its sender (replay), a length over a limit, an unknown type, a header or body that does
not parse, or another run's id is dropped and counted in `Decoder.dropped` under that reason. After a broken
frame it looks for the next magic; a corrupted length can hold a stream until the claimed bytes arrive or the
stream ends (bounded by the limits). `Channel` puts both on an asyncio stream pair. No pickle: bodies are
safetensors, headers JSON.

What it leaves to others: what the messages mean and the acknowledgements (the agents), the network (build).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import math
import os
import struct
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeroam.errors import NetError, ProtocolError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "MAC_BYTES",
    "MAGIC",
    "MAX_HEADER",
    "PREFIX_BYTES",
    "SECRET_ENV",
    "TYPES",
    "Channel",
    "Decoder",
    "Encoder",
    "Frame",
    "Tally",
    "decode_tensors",
    "encode_tensors",
    "load_secret",
    "new_secret",
]

MAGIC = b"ER1"
_PREFIX = struct.Struct(">IQ")
PREFIX_BYTES = len(MAGIC) + _PREFIX.size
MAC_BYTES = 32
MAX_HEADER = 64 * 1024
#: default largest body a receiver accepts (Inception-21k's classifier is ~90 MB)
DEFAULT_MAX_BODY = 256 * 1024 * 1024
SECRET_ENV = "EDGEROAM_RUN_SECRET"

#: message types (what each means is the agents' business)
TYPES = frozenset({
    "hello",      # a peer introduces itself (src) after connecting
    "ack",        # receipt of the frame `ref` (and of its `layers`)
    "layers",     # layer weights of `client` (upload or migration)
    "order",      # master -> edge: an action (meta.action)
    "query",      # client -> edge: an input tensor, meta.layers to run
    "result",     # edge -> client: the output of a query, meta: where and how long
    "admit",      # edge -> cloud: a place in the cloud's queue for a query's tail (acked once one is free)
    "report",     # edge -> master: what it holds (meta)
    "position",   # client -> master: where the client is (meta)
    "stats",      # any agent -> master: its counters (meta)
    "bye",        # the peer ends the connection
})

_REQUIRED = ("type", "run", "src", "dst", "seq", "client", "layers", "ts")
_OPTIONAL = ("ref", "meta")
#: drop reasons a Decoder counts
REASONS = ("bad_magic", "oversize", "truncated", "bad_mac", "bad_header", "unknown_type", "wrong_run",
           "wrong_dst", "replay", "bad_body")


def new_secret() -> bytes:
    """A fresh 32-byte run secret."""
    return os.urandom(32)


def load_secret(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> bytes:
    """The run secret from a file (raw bytes or hex text), else from ``$EDGEROAM_RUN_SECRET`` (hex).

    Raises `NetError` naming the file or variable when neither gives at least 16 bytes.
    """
    if path is not None:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise NetError(f"run secret file {path}: {exc.strerror or exc}") from None
        text = raw.strip()
        try:
            secret = bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            secret = raw
        where = f"run secret file {path}"
    else:
        value = (os.environ if env is None else env).get(SECRET_ENV, "")
        try:
            secret = bytes.fromhex(value.strip())
        except ValueError:
            raise NetError(f"${SECRET_ENV} must be hex") from None
        where = f"${SECRET_ENV}"
    if len(secret) < 16:
        raise NetError(f"{where}: a run secret needs at least 16 bytes, got {len(secret)}")
    return secret


def encode_tensors(tensors: Mapping[str, torch.Tensor]) -> bytes:
    """Safetensors bytes of `tensors` (detached, contiguous, CPU; names sorted by safetensors)."""
    from safetensors.torch import save

    if not tensors:
        return b""
    flat = {str(k): v.detach().cpu().contiguous() for k, v in tensors.items()}
    return save({k: v.clone() if _shares(v) else v for k, v in flat.items()})


def _shares(t: torch.Tensor) -> bool:
    """Whether `t` is a view into a larger storage (safetensors refuses shared storage)."""
    return t.untyped_storage().nbytes() != t.numel() * t.element_size()


def decode_tensors(body: bytes) -> dict[str, torch.Tensor]:
    """The tensors of safetensors `body` (empty body: no tensors); `ProtocolError` ('bad_body') otherwise."""
    if not body:
        return {}
    from safetensors.torch import load

    try:
        return load(bytes(body))
    except Exception as exc:  # noqa: BLE001 - any parse failure of untrusted bytes is one typed error
        raise ProtocolError("bad_body", f"not safetensors ({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True)
class Frame:
    """One accepted frame: its header fields, its body (safetensors bytes) and its size on the wire."""

    type: str
    run: str
    src: str
    dst: str
    seq: int
    client: int | None
    layers: tuple[str, ...]
    ts: float
    ref: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""
    size: int = 0

    def tensors(self) -> dict[str, torch.Tensor]:
        """The body's tensors (validated when the frame was decoded)."""
        return decode_tensors(self.body)


class Encoder:
    """Signs and numbers the frames of one sender.

    Parameters
    ----------
    secret : bytes
        The run's secret (HMAC key).
    run : str
        The run id every frame carries.
    src : str
        This sender's name.
    first_seq : int, optional
        First sequence number; default: the wall clock in microseconds, so a restarted sender stays above the
        numbers its receivers saw before.

    Examples
    --------
    >>> enc = Encoder(b"k" * 32, "run1", "c1", first_seq=1)
    >>> dec = Decoder(b"k" * 32, run="run1")
    >>> [f.type for f in dec.feed(enc.encode("hello", "e1")[1])]
    ['hello']
    """

    def __init__(self, secret: bytes, run: str, src: str, first_seq: int | None = None) -> None:
        self.secret = bytes(secret)
        self.run = run
        self.src = src
        self._next = time.time_ns() // 1000 if first_seq is None else int(first_seq)

    def encode(self, type: str, dst: str, *, client: int | None = None,
               layers: tuple[str, ...] | list[str] = (), body: bytes = b"",
               tensors: Mapping[str, torch.Tensor] | None = None, ref: int | None = None,
               meta: Mapping[str, Any] | None = None, ts: float | None = None) -> tuple[int, bytes]:
        """``(seq, frame bytes)`` of a new frame; `tensors` (if given) become the body."""
        if type not in TYPES:
            raise ProtocolError("unknown_type", f"cannot send type {type!r}", self.src)
        if tensors is not None:
            body = encode_tensors(tensors)
        seq = self._next
        self._next += 1
        header: dict[str, Any] = {
            "type": type, "run": self.run, "src": self.src, "dst": dst, "seq": seq,
            "client": None if client is None else int(client), "layers": [str(n) for n in layers],
            "ts": time.time() if ts is None else float(ts),
        }
        if ref is not None:
            header["ref"] = int(ref)
        if meta:
            header["meta"] = dict(meta)
        head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
        if len(head) > MAX_HEADER:
            raise ProtocolError("oversize", f"header of {len(head)} bytes over {MAX_HEADER}", self.src, seq)
        prefix = MAGIC + _PREFIX.pack(len(head), len(body))
        mac = hmac.new(self.secret, prefix, hashlib.sha256)
        mac.update(head)
        mac.update(body)
        return seq, b"".join((prefix, head, body, mac.digest()))


@dataclass
class Tally:
    """What a receiver counts over all its connections: drops per reason (`REASONS`), frames accepted, and
    the highest seq accepted per sender (the replay window)."""

    dropped: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    last_seq: dict[str, int] = field(default_factory=dict)


class Decoder:
    """Turns a byte stream into accepted frames; counts and drops everything else (never raises on input).

    Parameters
    ----------
    secret : bytes
        The run's secret.
    run : str, optional
        Accept only this run id (None: any).
    me : str, optional
        Accept only frames addressed to this name or ``"*"`` (None: any).
    max_body : int
        Largest body accepted.
    types : frozenset of str
        Accepted types.

    tally : Tally, optional
        Counters and replay window, shared by the decoders of one receiver's connections (default: its own).
    window : str
        Suffix of the replay window's key: a receiver that hears one sender on two kinds of connection (its
        requests, and its answers to ours) keeps one window for each, each strictly increasing.
    """

    def __init__(self, secret: bytes, *, run: str | None = None, me: str | None = None,
                 max_body: int = DEFAULT_MAX_BODY, types: frozenset[str] = TYPES,
                 tally: Tally | None = None, window: str = "") -> None:
        self.secret = bytes(secret)
        self.window = window
        self.run = run
        self.me = me
        self.max_body = int(max_body)
        self.types = types
        self.tally = Tally() if tally is None else tally
        self.bytes_in = 0
        self._buf = bytearray()
        self._pos = 0
        self._lost = False  # scanning for a magic after garbage (count one bad_magic per run of garbage)

    @property
    def dropped(self) -> Counter[str]:
        """Dropped frames per reason (the tally's)."""
        return self.tally.dropped

    @property
    def accepted(self) -> int:
        """Frames accepted (the tally's)."""
        return self.tally.accepted

    @property
    def pending(self) -> int:
        """Bytes buffered that are not yet a frame."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> list[Frame]:
        """Frames completed by `data` (in order)."""
        self.bytes_in += len(data)
        self._buf += data
        out = self._parse(eof=False)
        if self._pos > 1 << 20 and self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        return out

    def feed_eof(self) -> list[Frame]:
        """The stream ended: an incomplete frame is counted ('truncated') and the rest searched for frames."""
        out = self._parse(eof=True)
        self._buf = bytearray()
        self._pos = 0
        return out

    def _drop(self, reason: str) -> None:
        self.tally.dropped[reason] += 1

    def _parse(self, eof: bool) -> list[Frame]:
        buf, out = self._buf, []
        while True:
            pos = self._pos
            n = len(buf) - pos
            if n == 0:
                break
            if buf[pos: pos + 3] != MAGIC:
                if n < 3 and not eof and MAGIC.startswith(bytes(buf[pos:])):
                    break
                if not self._lost:
                    self._drop("bad_magic")
                    self._lost = True
                i = buf.find(MAGIC, pos + 1)
                if i < 0:
                    keep = 0 if eof else next((k for k in (2, 1) if buf.endswith(MAGIC[:k])), 0)
                    self._pos = len(buf) - keep
                    if eof or keep == 0:
                        continue
                    break
                self._pos = i
                continue
            if n < PREFIX_BYTES:
                if eof:
                    self._drop("truncated")
                    self._lost = True
                    self._pos = pos + 1
                    continue
                break
            hlen, blen = _PREFIX.unpack_from(buf, pos + 3)
            if hlen > MAX_HEADER or blen > self.max_body:
                self._drop("oversize")
                self._lost = True
                self._pos = pos + 1
                continue
            total = PREFIX_BYTES + hlen + blen + MAC_BYTES
            if n < total:
                if eof:
                    self._drop("truncated")
                    self._lost = True
                    self._pos = pos + 1
                    continue
                break
            end = pos + total
            mac = hmac.new(self.secret, memoryview(buf)[pos: end - MAC_BYTES], hashlib.sha256).digest()
            if not hmac.compare_digest(mac, bytes(buf[end - MAC_BYTES: end])):
                self._drop("bad_mac")
                # skip the frame when a frame follows it; else its lengths may be the damage: rescan
                if end == len(buf) or buf[end: end + 3] == MAGIC:
                    self._lost = False
                    self._pos = end
                else:
                    self._lost = True
                    self._pos = pos + 1
                continue
            self._lost = False
            self._pos = end
            frame = self._accept(bytes(buf[pos + PREFIX_BYTES: pos + PREFIX_BYTES + hlen]),
                                 bytes(buf[pos + PREFIX_BYTES + hlen: end - MAC_BYTES]), total)
            if frame is not None:
                out.append(frame)
        return out

    def _accept(self, head: bytes, body: bytes, size: int) -> Frame | None:
        """The frame of an authentic header and body, or None (counted) when it must be dropped."""
        try:
            h = json.loads(head.decode("utf-8"), parse_constant=_no_constant)
            frame = _frame_of(h, body, size)
        except (ValueError, TypeError, KeyError, RecursionError):
            self._drop("bad_header")
            return None
        if frame.type not in self.types:
            self._drop("unknown_type")
            return None
        if self.run is not None and frame.run != self.run:
            self._drop("wrong_run")
            return None
        if self.me is not None and frame.dst not in (self.me, "*"):
            self._drop("wrong_dst")
            return None
        key = frame.src + self.window
        if frame.seq <= self.tally.last_seq.get(key, -1):
            self._drop("replay")
            return None
        if body:
            try:
                decode_tensors(body)
            except ProtocolError:
                self._drop("bad_body")
                return None
        self.tally.last_seq[key] = frame.seq
        self.tally.accepted += 1
        return frame


def _no_constant(name: str) -> None:
    raise ValueError(f"non-finite number {name} in a header")


def _frame_of(h: Any, body: bytes, size: int) -> Frame:
    """A `Frame` from a parsed header; ValueError/TypeError/KeyError when a field is missing or mistyped."""
    if not isinstance(h, dict):
        raise TypeError("header is not an object")
    unknown = set(h) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise KeyError(f"unknown header field(s) {sorted(unknown)}")
    for key in ("type", "run", "src", "dst"):
        if not isinstance(h[key], str):
            raise TypeError(key)
    seq, client, ref, ts = h["seq"], h["client"], h.get("ref"), h["ts"]
    if not _is_int(seq) or seq < 0:
        raise ValueError("seq")
    if client is not None and not _is_int(client):
        raise TypeError("client")
    if ref is not None and not _is_int(ref):
        raise TypeError("ref")
    if not isinstance(ts, (int, float)) or isinstance(ts, bool) or not math.isfinite(ts):
        raise TypeError("ts")
    layers = h["layers"]
    if not isinstance(layers, list) or not all(isinstance(n, str) for n in layers):
        raise TypeError("layers")
    meta = h.get("meta", {})
    if not isinstance(meta, dict):
        raise TypeError("meta")
    return Frame(h["type"], h["run"], h["src"], h["dst"], seq, client, tuple(layers), float(ts), ref, meta,
                 body, size)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class Channel:
    """One connection: an `Encoder` for what this side sends and a `Decoder` for what it receives.

    Parameters
    ----------
    reader, writer : asyncio streams (or any pair with ``read``/``write``/``drain``/``close``)
    encoder : Encoder
    decoder : Decoder
        This connection's decoder (its `Tally` may be shared with the agent's other connections).
    peer : str
        The peer's name or address, for errors.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, encoder: Encoder,
                 decoder: Decoder, peer: str = "?") -> None:
        self.reader = reader
        self.writer = writer
        self.encoder = encoder
        self.decoder = decoder
        self.peer = peer
        self.bytes_out = 0
        #: called once with this channel just before it closes (the agents log what it carried)
        self.on_close: Callable[[Channel], None] | None = None
        self._ready: list[Frame] = []
        self._eof = False
        self._ending = False  # nothing more is written: half-closed (`end_writing`) or closed
        self._lock = asyncio.Lock()

    async def send(self, type: str, dst: str, *, on_seq: Callable[[int], None] | None = None,
                   last: bool = False, **fields: Any) -> int:
        """Encode and write a frame (waits for the write buffer to drain); its seq. `on_seq(seq)` runs before
        the bytes are written (so an answer can never arrive before the sender knows what it answers). With
        `last`, the writing side is half-closed right after this frame (`end_writing`). NetError once the
        connection is ending: bytes are counted in `bytes_out` as they are handed to the transport, so a
        connection logged at close counts every byte that may still reach the peer."""
        async with self._lock:  # numbered in the order written: a receiver never sees a lower seq later
            if self._ending:
                raise NetError(f"send {type} to {self.peer}: the connection is closing")
            seq, data = self.encoder.encode(type, dst, **fields)
            if on_seq is not None:
                on_seq(seq)
            try:
                self.writer.write(data)
                self.bytes_out += len(data)
                if last:
                    self.end_writing()
                await self.writer.drain()
            except (ConnectionError, OSError) as exc:
                raise NetError(f"send {type} seq {seq} to {self.peer}: {exc}") from None
        return seq

    async def recv(self) -> Frame | None:
        """The next accepted frame, or None when the peer closed the connection."""
        while not self._ready:
            if self._eof:
                return None
            try:
                data = await self.reader.read(1 << 20)
            except (ConnectionError, OSError):
                data = b""
            if not data:
                self._eof = True
                self._ready.extend(self.decoder.feed_eof())
            else:
                self._ready.extend(self.decoder.feed(data))
        return self._ready.pop(0)

    def end_writing(self) -> None:
        """Half-close: the peer reads what was written, then the end of the stream, while this side goes on
        reading until the peer closes too; every later `send` is a NetError."""
        self._ending = True
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            if self.writer.can_write_eof():
                self.writer.write_eof()  # the transport sends the FIN once its buffer is out

    async def drain_to_eof(self, linger_s: float) -> int:
        """Half-close and read (counting the bytes, handling no frame) until the peer closes too, at most
        `linger_s` seconds; the frames that came, which nobody handled. For the side that has stopped
        reading frames: a connection whose both ends close this way logs final counters at both ends (each
        end has read all the other wrote)."""
        self.end_writing()
        came = len(self._ready)
        self._ready.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(linger_s):
                while (await self.recv()) is not None:
                    came += 1
        return came

    def finish(self) -> None:
        """Run `on_close` (once) and close the socket now."""
        self._ending = True
        cb, self.on_close = self.on_close, None
        if cb is not None:
            cb(self)
        self.writer.close()

    async def close(self) -> None:
        """Close now (errors of an already broken connection are ignored); `drain_to_eof` first for counters
        that are final at both ends."""
        self.finish()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
