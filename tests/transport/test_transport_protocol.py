"""DESIGN §3.1 wire format: messages declared once, codecs derived, decoder trusts nothing."""

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from normach.transport import (
    WireError,
    check_registry,
    config,
    declare,
    decode,
    encode,
    lookup,
    protocol,
)
from normach.transport.messages import echo, error_reply, ping, pong

# One message of every kind, declared in a block of ids no layer uses.
every_kind = declare(9001, "t_every_kind", [
    ("i", "int"), ("u", "uint"), ("b", "bool"), ("s", "str"), ("by", "bytes"),
    ("page", "raw"), ("l", "list"), ("m", "map"), ("page2", "raw")])


def sample():
    return every_kind(i=-5, u=2**64 - 1, b=True, s="héllo", by=b"\x00\x01", page=bytes(range(256)),
                      l=[1, "a", None, [2.5, b"x", [True]]], m={"k": [1, 2], 3: {"x": None}},
                      page2=b"")


def test_every_kind_round_trips_with_its_envelope():
    frames = encode(sample(), seq=7, node=3, incarnation=2**63 + 1)
    assert len(frames) == 3 and frames[1] == bytes(range(256)) and frames[2] == b""
    header, msg = decode(frames)
    assert msg == sample() and msg.name == "t_every_kind" and msg.id == 9001
    assert (header.version, header.id, header.seq, header.node, header.incarnation) == \
        (protocol.PROTOCOL_VERSION, 9001, 7, 3, 2**63 + 1)


def test_raw_fields_travel_as_their_own_frames_not_reencoded():
    page = bytes(range(256)) * 16
    frames = encode(echo(page))
    assert frames[1] == page
    assert page not in frames[0]


def test_messages_are_declared_once_in_a_registry():
    assert check_registry() == []
    assert lookup("ping") is ping and lookup(1) is ping and ping.reply_type() is pong
    assert pong.reply_type() is None
    with pytest.raises(AssertionError):
        declare(1, "t_other_name", [])
    with pytest.raises(AssertionError):
        declare(9002, "ping", [])
    with pytest.raises(AssertionError):
        declare(9003, "t_bad_kind", [("x", "float")])
    with pytest.raises(AssertionError):
        declare(9004, "t_reserved", [("id", "int")])


def test_message_construction_checks_field_names():
    assert ping(3) == ping(seq=3) and ping(3).seq == 3
    assert repr(error_reply(5, "x")) == "error_reply(code=5, detail='x')"
    for bad in (lambda: ping(), lambda: ping(1, 2), lambda: ping(sq=1), lambda: ping(1, seq=1)):
        with pytest.raises(TypeError):
            bad()


@pytest.mark.parametrize("msg", [
    ping(-1), ping(2**64), ping("1"), ping(True), ping(1.0),
    error_reply(2**63, "x"), error_reply(1, b"x"),
    every_kind(i=0, u=0, b=1, s="", by=b"", page=b"", l=[], m={}, page2=b""),
    every_kind(i=0, u=0, b=True, s="", by=b"", page="s", l=[], m={}, page2=b""),
    every_kind(i=0, u=0, b=True, s="", by=b"", page=b"", l=[{1: 2}], m={}, page2=b""),
    every_kind(i=0, u=0, b=True, s="", by=b"", page=b"", l=[], m={(1,): 2}, page2=b""),
    every_kind(i=0, u=0, b=True, s="", by=b"", page=b"", l=[object()], m={}, page2=b""),
])
def test_encode_refuses_values_that_do_not_fit_their_kind(msg):
    with pytest.raises(WireError):
        encode(msg)


def head(*values):
    return msgpack.packb(list(values), use_bin_type=True)


V = protocol.PROTOCOL_VERSION


@pytest.mark.parametrize("frames,why", [
    ([], "no frames"),
    ("abc", "not a list"),
    ([b""], "empty header"),
    ([b"\xc1"], "invalid msgpack"),
    ([head(V, 1, 0, 0, 0, 1) + b"\x00"], "trailing bytes"),
    ([msgpack.packb({"a": 1})], "header not an array"),
    ([head(V, 1, 0, 0)], "short envelope"),
    ([head(V + 1, 1, 0, 0, 0, 1)], "other protocol version"),
    ([head(V, 65000, 0, 0, 0)], "unknown id"),
    ([head(V, 1, 0, 0, 0)], "missing field"),
    ([head(V, 1, 0, 0, 0, 1, 2)], "extra field"),
    ([head(V, 1, 0, 0, 0, "1")], "str where uint"),
    ([head(V, 1, 0, 0, 0, 1.0)], "float where uint"),
    ([head(V, 1, 0, 0, 0, -1)], "negative uint"),
    ([head(V, 1, -1, 0, 0, 1)], "negative seq"),
    ([head(V, 1, 0, "n", 0, 1)], "str node"),
    ([head(V, 3, 0, 0, 0, 2**64 - 1, "x")], "int out of signed 64-bit range"),
    ([head(V, 3, 0, 0, 0, True, "x")], "bool where int"),
    ([head(V, 3, 0, 0, 0, 1, b"x")], "bytes where str"),
    ([head(V, 3, 0, 0, 0, 1, "x"), b"extra"], "extra raw frame"),
    ([head(V, 4, 0, 0, 0)], "missing raw frame"),
    ([head(V, 4, 0, 0, 0), "text"], "raw frame not bytes"),
    ([b"\x96\x01\x03\x00\x00\x00\x01\xa1\xff"], "invalid utf-8"),
    ([head(V, 9001, 0, 0, 0, 1, 1, True, "", b"", [msgpack.ExtType(1, b"x")], {}), b"", b""],
     "ext type in a list"),
    ([head(V, 9001, 0, 0, 0, 1, 1, True, "", b"", [{"a": 1}], {}), b"", b""], "map in a list"),
    ([head(V, 9001, 0, 0, 0, 1, 1, True, "", b"", [], {1.5: 1}), b"", b""], "float map key"),
    ([head(V, 9001, 0, 0, 0, 1, 1, True, "", b"", [], []), b"", b""], "list where map"),
])
def test_decode_rejects_malformed_frames_with_wire_error(frames, why):
    with pytest.raises(WireError):
        decode(frames)


def test_decode_rejects_deep_nesting_and_unhashable_keys():
    deep = []
    for _ in range(config.MAX_NESTING + 2):
        deep = [deep]
    with pytest.raises(WireError):
        decode([head(V, 9001, 0, 0, 0, 1, 1, True, "", b"", deep, {}), b"", b""])
    # a map keyed by an array: msgpack cannot even build it
    raw_map = b"\x81\x91\x01\x02"
    with pytest.raises(WireError):
        decode([head(V, 9001, 0, 0, 0, 1, 1, True, "", b"", [])[:-1] + b"\x90" + raw_map
                + b"", b"", b""])


def test_decode_rejects_oversize_frames(monkeypatch):
    monkeypatch.setattr(config, "MAX_RAW_BYTES", 4096)
    monkeypatch.setattr(config, "MAX_HEADER_BYTES", 128)
    assert decode(encode(echo(bytes(4096))))[1].data == bytes(4096)
    with pytest.raises(WireError):
        decode([encode(echo(b""))[0], bytes(4097)])
    with pytest.raises(WireError):
        decode([head(V, 3, 0, 0, 0, 1, "x" * 200)])
    with pytest.raises(WireError):
        encode(echo(bytes(4097)))


# -- fuzzing: whatever arrives, decode returns a valid message or raises WireError --

def decodes_or_wire_error(frames):
    try:
        header, msg = decode(frames)
    except WireError:
        return None
    assert lookup(header.id) is type(msg)
    return msg


VALID = [encode(sample(), 1, 2, 3), encode(ping(9), 5, 0, 1), encode(echo(bytes(4096)), 1, 1, 1),
         encode(error_reply(-3, "no"), 2, 2, 2)]

ints = st.integers(-(2**63), 2**64 - 1)         # what msgpack can carry
scalars = st.one_of(st.none(), st.booleans(), ints, st.floats(),
                    st.text(max_size=8), st.binary(max_size=8))
values = st.recursive(scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.one_of(st.text(max_size=4), ints),
                                                kids, max_size=4)), max_leaves=12)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.lists(st.binary(max_size=64), max_size=5))
def test_fuzz_random_frames_only_wire_error(frames):
    decodes_or_wire_error(frames)


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_fuzz_truncated_and_mutated_valid_frames_only_wire_error(frames, data):
    frames = list(frames)
    i = data.draw(st.integers(0, len(frames) - 1))
    f = bytearray(frames[i])
    mode = data.draw(st.sampled_from(["truncate", "flip", "insert", "drop_frame", "add_frame"]))
    if mode == "truncate":
        f = f[:data.draw(st.integers(0, len(f)))]
    elif mode == "flip" and f:
        for _ in range(data.draw(st.integers(1, 4))):
            f[data.draw(st.integers(0, len(f) - 1))] = data.draw(st.integers(0, 255))
    elif mode == "insert":
        pos = data.draw(st.integers(0, len(f)))
        f[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    frames[i] = bytes(f)
    if mode == "drop_frame":
        del frames[i]
    elif mode == "add_frame":
        frames.append(data.draw(st.binary(max_size=16)))
    decodes_or_wire_error(frames)


@FUZZ
@given(st.sampled_from([1, 2, 3, 4, 5, 9001]), st.lists(values, max_size=12),
       st.lists(st.binary(max_size=16), max_size=3))
def test_fuzz_wrong_types_in_a_well_formed_header_only_wire_error(mid, body, raws):
    envelope = [V, mid, 0, 0, 0]
    decodes_or_wire_error([msgpack.packb(envelope + body, use_bin_type=True), *raws])


@settings(max_examples=20, deadline=None)
@given(st.integers(config.MAX_HEADER_BYTES + 1, config.MAX_HEADER_BYTES + 64),
       st.integers(config.MAX_RAW_BYTES + 1, config.MAX_RAW_BYTES + 64))
def test_fuzz_huge_frames_only_wire_error(header_size, raw_size):
    with pytest.raises(WireError):
        decode([b"\x95" + bytes(header_size)])
    with pytest.raises(WireError):
        decode([encode(echo(b""))[0], bytes(raw_size)])
    with pytest.raises(WireError):
        decode([msgpack.packb([V, 3, 0, 0, 0, 1, "x" * header_size])])
