"""DESIGN §3.1: with a cluster secret the transport is authenticated (CurveZMQ over tcp)."""

import threading

import pytest
from waiting import wait_until

from normach import KernError, KernReturn
from normach.transport import curve_keys
from normach.transport.messages import echo, echo_reply, ping

SECRET = b"cluster secret"


def test_keys_are_derived_from_the_secret():
    pub, sec = curve_keys(SECRET)
    assert len(pub) == len(sec) == 40 and curve_keys(SECRET) == (pub, sec)
    assert curve_keys(b"other")[0] != pub


def test_an_authenticated_peer_works(make_endpoint):
    b = make_endpoint(1, "tcp", secret=SECRET)
    a = make_endpoint(0, "tcp", peers={1: b.address}, secret=SECRET)
    b.add_peer(0, a.address)
    assert a.request(1, echo(b"secret page" * 400), 5).data == b"secret page" * 400
    assert b.request(0, ping(3), 5).seq == 3
    assert b.stats["dropped_unauthenticated"] == 0


@pytest.mark.parametrize("intruder_secret", [b"wrong secret", None])
def test_a_peer_without_the_secret_gets_no_answer(make_endpoint, intruder_secret):
    called = threading.Event()

    def handler(sender, msg):
        called.set()
        return echo_reply(msg.data)
    b = make_endpoint(1, "tcp", handler=handler, secret=SECRET)
    intruder = make_endpoint(0, "tcp", peers={1: b.address}, secret=intruder_secret)
    with pytest.raises(KernError) as e:
        intruder.request(1, echo(b"let me in"), 30.0 if intruder_secret else 1.0)
    if intruder_secret:      # its own handshake fails: it is told so at once, not after 30 s
        assert e.value.code == KernReturn.KERN_NO_ACCESS
        assert "authentication failed" in str(e.value)
    else:
        assert e.value.code == KernReturn.KERN_NODE_DOWN
    assert wait_until(lambda: b.stats["dropped_unauthenticated"] >= 1)
    assert not called.is_set() and b.stats["received"] == 0
    # the node still serves its own cluster
    friend = make_endpoint(2, "tcp", peers={1: b.address}, secret=SECRET)
    assert friend.request(1, echo(b"ok"), 5).data == b"ok"
