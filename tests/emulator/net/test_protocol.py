"""Wire frames: round trips of real tensors, and every kind of bad frame dropped and counted, never raised."""

from __future__ import annotations

import asyncio
import json
import struct

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeroam.emulator.net.protocol import (
    MAC_BYTES,
    MAGIC,
    MAX_HEADER,
    PREFIX_BYTES,
    TYPES,
    Channel,
    Decoder,
    Encoder,
    Tally,
    decode_tensors,
    load_secret,
    new_secret,
)
from edgeroam.errors import NetError, ProtocolError

SECRET = b"s" * 32
RUN = "run-1"


def enc(src: str = "c1", first: int = 1) -> Encoder:
    return Encoder(SECRET, RUN, src, first_seq=first)


def dec(**kw) -> Decoder:
    return Decoder(SECRET, run=RUN, **kw)


def layer_tensors(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"conv1/weight": torch.randn(8, 3, 3, 3, generator=g), "conv1/bias": torch.randn(8, generator=g),
            "fc/weight": torch.randn(10, 32, generator=g).to(torch.float16),
            "idx": torch.arange(7, dtype=torch.int64)}


def test_real_tensors_round_trip() -> None:
    t = layer_tensors()
    seq, data = enc().encode("layers", "e1", client=3, layers=["conv1", "fc"], tensors=t, meta={"k": 1})
    (f,) = dec().feed(data)
    assert (f.type, f.src, f.dst, f.seq, f.client, f.layers, f.meta) == ("layers", "c1", "e1", seq, 3,
                                                                         ("conv1", "fc"), {"k": 1})
    assert f.size == len(data)
    got = f.tensors()
    assert sorted(got) == sorted(t)
    for k, v in t.items():
        assert got[k].dtype == v.dtype and torch.equal(got[k], v)


def test_views_are_sent_as_their_own_data() -> None:
    base = torch.arange(100, dtype=torch.float32)
    _, data = enc().encode("layers", "e1", tensors={"a": base[10:20], "b": base.view(10, 10)[:, 0]})
    (f,) = dec().feed(data)
    got = f.tensors()
    assert torch.equal(got["a"], base[10:20]) and torch.equal(got["b"], base.view(10, 10)[:, 0])


def test_byte_by_byte_feed_gives_the_same_frames() -> None:
    e = enc()
    stream = b"".join(e.encode(t, "e1", client=i, tensors=layer_tensors(i))[1]
                      for i, t in enumerate(["hello", "layers", "ack"]))
    d = dec()
    frames = [f for b in stream for f in d.feed(bytes([b]))]
    assert [f.type for f in frames] == ["hello", "layers", "ack"]
    assert d.dropped == {} and d.accepted == 3 and d.pending == 0


@pytest.mark.parametrize("bit", range(0, 8 * 400, 13))
def test_flipped_bit_is_dropped_counted_and_next_frame_survives(bit: int) -> None:
    e = enc()
    _, bad = e.encode("layers", "e1", client=1, layers=["l1"], tensors=layer_tensors(1))
    _, good = e.encode("ack", "e1", client=1, ref=5)
    bad = bytearray(bad)
    pos = bit // 8 if bit // 8 < 60 else len(bad) - 1 - (bit // 8 - 60) % len(bad)
    bad[pos] ^= 1 << (bit % 8)
    d = dec()
    frames = d.feed(bytes(bad) + good) + d.feed_eof()
    assert [f.type for f in frames] == ["ack"]
    assert sum(d.dropped.values()) >= 1
    assert set(d.dropped) <= {"bad_magic", "oversize", "truncated", "bad_mac"}


def test_replayed_frame_dropped_and_counted() -> None:
    e = enc()
    _, a = e.encode("layers", "e1", client=1, tensors=layer_tensors())
    _, b = e.encode("ack", "e1")
    d = dec()
    assert [f.type for f in d.feed(a + b + a + b)] == ["layers", "ack"]
    assert d.dropped == {"replay": 2}


def test_seq_window_is_per_sender_and_shared_by_a_tally() -> None:
    tally = Tally()
    _, a1 = enc("c1", first=10).encode("hello", "e1")
    _, b1 = enc("c2", first=1).encode("hello", "e1")
    assert len(Decoder(SECRET, tally=tally).feed(a1 + b1)) == 2
    # another connection of the same receiver sees the replay
    again = Decoder(SECRET, tally=tally)
    assert again.feed(a1) == [] and tally.dropped == {"replay": 1}


def test_restarted_sender_continues_above_its_old_numbers() -> None:
    d = dec()
    d.feed(Encoder(SECRET, RUN, "c1").encode("hello", "e1")[1])
    assert len(d.feed(Encoder(SECRET, RUN, "c1").encode("hello", "e1")[1])) == 1


def test_oversize_lengths_dropped_counted_without_waiting() -> None:
    e = enc()
    _, good = e.encode("ack", "e1")
    huge_body = MAGIC + struct.pack(">IQ", 10, 1 << 40) + b"x" * 40
    huge_head = MAGIC + struct.pack(">IQ", MAX_HEADER + 1, 0) + b"x" * 40
    d = dec(max_body=1000)
    assert [f.type for f in d.feed(huge_body + huge_head + good)] == ["ack"]
    assert d.dropped["oversize"] == 2
    big = enc("c9").encode("layers", "e1", body=b"\0" * 2000)[1]
    d2 = dec(max_body=1000)
    assert d2.feed(big) == [] and d2.dropped["oversize"] == 1 and d2.pending < len(big)


def test_wrong_secret_dropped_and_counted() -> None:
    _, forged = Encoder(b"x" * 32, RUN, "c1", first_seq=1).encode("layers", "e1", tensors=layer_tensors())
    _, good = enc(first=1).encode("ack", "e1")
    d = dec()
    assert [f.type for f in d.feed(forged + good)] == ["ack"]
    assert d.dropped == {"bad_mac": 1}
    # the forged frame did not move the replay window: the real seq 1 was accepted


def test_unknown_type_wrong_run_wrong_dst_counted() -> None:
    e = enc()
    d = Decoder(SECRET, run=RUN, me="e1", types=TYPES - {"bye"})
    frames = d.feed(e.encode("bye", "e1")[1] + Encoder(SECRET, "other", "c1").encode("ack", "e1")[1]
                    + e.encode("ack", "e2")[1] + e.encode("ack", "*")[1])
    assert [f.dst for f in frames] == ["*"]
    assert d.dropped == {"unknown_type": 1, "wrong_run": 1, "wrong_dst": 1}


def signed(head: bytes, body: bytes = b"", secret: bytes = SECRET) -> bytes:
    """A correctly signed frame around any header and body bytes (what a peer with the secret could send)."""
    import hashlib
    import hmac

    pre = MAGIC + struct.pack(">IQ", len(head), len(body)) + head + body
    return pre + hmac.new(secret, pre, hashlib.sha256).digest()


def header(**over) -> dict:
    h = {"type": "ack", "run": RUN, "src": "c1", "dst": "e1", "seq": 1, "client": None, "layers": [],
         "ts": 0.0}
    h.update(over)
    return h


@pytest.mark.parametrize("bad", [
    b"not json", b"[1,2]", b'{"type": "ack"}', b"\xff\xfe",
    json.dumps(header(seq=-1)).encode(), json.dumps(header(seq=True)).encode(),
    json.dumps(header(layers="l1")).encode(), json.dumps(header(extra=1)).encode(),
    json.dumps(header(client="3")).encode(), json.dumps(header(meta=[1])).encode(),
    json.dumps(header()).replace("0.0", "NaN").encode(), b"[" * 30000 + b"]" * 30000,
])
def test_signed_but_malformed_header_dropped(bad: bytes) -> None:
    d = dec()
    assert d.feed(signed(bad)) == [] and d.dropped == {"bad_header": 1}


def test_signed_but_not_safetensors_body_dropped() -> None:
    d = dec()
    assert d.feed(signed(json.dumps(header(type="layers")).encode(), b"\x08\0\0\0\0\0\0\0{}garbage")) == []
    assert d.dropped == {"bad_body": 1}
    with pytest.raises(ProtocolError, match="bad_body"):
        decode_tensors(b"\xff" * 16)


def test_truncated_stream_counted_at_eof() -> None:
    _, a = enc().encode("layers", "e1", tensors=layer_tensors())
    d = dec()
    assert d.feed(a[:-5]) == [] and d.feed_eof() == []
    assert d.dropped["truncated"] >= 1


def test_garbage_between_frames_counted_once() -> None:
    e = enc()
    d = dec()
    frames = d.feed(b"hello world" + e.encode("ack", "e1")[1] + b"EEEER" + e.encode("ack", "e1")[1] + b"ER")
    assert len(frames) == 2 and d.dropped == {"bad_magic": 2} and d.pending == 2
    assert d.feed_eof() == [] and d.dropped["bad_magic"] == 3


def test_encoder_refuses_unknown_type_and_big_header() -> None:
    with pytest.raises(ProtocolError, match="unknown_type"):
        enc().encode("nope", "e1")
    with pytest.raises(ProtocolError, match="oversize"):
        enc().encode("ack", "e1", meta={"x": "y" * MAX_HEADER})


def test_frame_layout() -> None:
    _, data = enc().encode("ack", "e1", body=b"")
    hlen, blen = struct.unpack(">IQ", data[3:PREFIX_BYTES])
    assert data[:3] == b"ER1" and blen == 0 and len(data) == PREFIX_BYTES + hlen + MAC_BYTES
    assert json.loads(data[PREFIX_BYTES: PREFIX_BYTES + hlen])["type"] == "ack"


def test_no_pickle_in_the_protocol() -> None:
    from pathlib import Path

    import edgeroam.emulator.net.protocol as mod

    src = Path(mod.__file__).read_text()
    assert "pickle" not in src.replace("No pickle", "").replace("no pickle", "")
    assert "torch.load" not in src


def test_load_secret(tmp_path, monkeypatch) -> None:
    s = new_secret()
    (tmp_path / "hex").write_text(s.hex() + "\n")
    (tmp_path / "raw").write_bytes(s)
    assert load_secret(tmp_path / "hex") == s == load_secret(tmp_path / "raw")
    assert load_secret(env={"EDGEROAM_RUN_SECRET": s.hex()}) == s
    with pytest.raises(NetError, match="16 bytes"):
        load_secret(env={})
    with pytest.raises(NetError, match="hex"):
        load_secret(env={"EDGEROAM_RUN_SECRET": "zz"})
    with pytest.raises(NetError, match="nope"):
        load_secret(tmp_path / "nope")


frames_st = st.lists(
    st.tuples(st.sampled_from(sorted(TYPES)), st.integers(0, 3), st.lists(st.text(max_size=5), max_size=3),
              st.binary(max_size=64)),
    max_size=5)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=frames_st, cuts=st.lists(st.integers(0, 2000), max_size=6),
       flips=st.lists(st.integers(0, 10**6), max_size=3), junk=st.binary(max_size=40))
def test_hypothesis_frames_never_crash(frames, cuts, flips, junk) -> None:
    e = enc()
    good = [e.encode(t, "e1", client=c, layers=ls, tensors={"x": torch.frombuffer(bytearray(b or b"\0"),
                                                                                   dtype=torch.uint8)})[1]
            for t, c, ls, b in frames]
    stream = bytearray(junk + b"".join(good))
    for f in flips:
        if stream:
            stream[f % len(stream)] ^= 1 << (f % 8)
    d = dec()
    out, last = [], 0
    for c in sorted(cuts) + [len(stream)]:
        out += d.feed(bytes(stream[last:c]))
        last = max(last, c)
    out += d.feed_eof()
    assert len(out) <= len(good)
    if not flips:
        assert [f.type for f in out] == [t for t, *_ in frames]
    seqs = [f.seq for f in out]
    assert seqs == sorted(set(seqs))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_hypothesis_arbitrary_bytes_never_crash(data: bytes) -> None:
    d = dec()
    assert d.feed(data) + d.feed_eof() == []
    d2 = dec()
    assert d2.feed(MAGIC + data) + d2.feed_eof() == []


def test_channel_over_a_real_socket() -> None:
    async def main() -> tuple[list, dict]:
        got: list = []
        done = asyncio.Event()

        async def serve(reader, writer):
            ch = Channel(reader, writer, enc("e1"), dec(me="e1"), "client")
            while (f := await ch.recv()) is not None:
                got.append((f.type, f.tensors()))
                await ch.send("ack", f.src, ref=f.seq, layers=f.layers)
            done.set()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            ch = Channel(r, w, enc("c1"), dec(me="c1"), "edge")
            t = layer_tensors(5)
            seq = await ch.send("layers", "e1", client=1, layers=["conv1"], tensors=t)
            w.write(b"garbage")  # the server counts it and goes on
            seq2 = await ch.send("hello", "e1")
            acks = [await ch.recv(), await ch.recv()]
            await ch.close()
            await asyncio.wait_for(done.wait(), 5)
        finally:
            server.close()
            await server.wait_closed()
        return got, {"acks": [a.ref for a in acks], "seqs": [seq, seq2], "t": t}

    got, info = asyncio.run(asyncio.wait_for(main(), 10))
    assert info["acks"] == info["seqs"]
    assert [g[0] for g in got] == ["layers", "hello"]
    assert all(torch.equal(got[0][1][k], v) for k, v in info["t"].items())
