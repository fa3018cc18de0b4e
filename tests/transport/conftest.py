"""Fixtures for the transport tests: endpoints that are always closed."""

import uuid

import pytest
from transport_helpers import echo_handler

from normach.transport import Endpoint


@pytest.fixture
def make_endpoint():
    """Factory: make_endpoint(node, kind="inproc"|"tcp", peers=..., handler=..., secret=...)."""
    made = []
    tag = uuid.uuid4().hex[:10]

    def make(node, kind="inproc", peers=None, handler=echo_handler, secret=None, address=None):
        if address is None:
            address = f"inproc://t-{tag}-{node}" if kind == "inproc" else "tcp://127.0.0.1:0"
        ep = Endpoint(node, address, dict(peers or {}), handler, secret=secret)
        made.append(ep)
        return ep

    make.tag = tag
    yield make
    for ep in made:
        ep.close()


@pytest.fixture(params=["inproc", "tcp"])
def pair(request, make_endpoint):
    """Two connected endpoints (node 0 -> node 1), over inproc and over tcp."""
    b = make_endpoint(1, request.param)
    a = make_endpoint(0, request.param, peers={1: b.address})
    b.add_peer(0, a.address)
    return a, b
