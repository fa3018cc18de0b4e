"""DESIGN §3.1: the same code serves a node in another process, over tcp."""

import os
import pathlib
import subprocess
import sys

import pytest

import normach
from normach.transport.messages import echo, ping

SERVER = pathlib.Path(__file__).with_name("echo_server.py")


@pytest.fixture
def server_process():
    """Start echo_server.py; yields a function that starts it with an optional secret."""
    procs = []

    def start(secret=None):
        env = dict(os.environ)
        root = str(pathlib.Path(normach.__file__).parent.parent)
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        args = [sys.executable, str(SERVER)] + ([secret.hex()] if secret else [])
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                             text=True)
        procs.append(p)
        address = p.stdout.readline().strip()
        assert address.startswith("tcp://"), address
        return address

    yield start
    for p in procs:
        p.stdin.close()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.mark.parametrize("secret", [None, b"s3cret"])
def test_request_reply_with_an_endpoint_in_a_child_process(make_endpoint, server_process, secret):
    address = server_process(secret)
    a = make_endpoint(0, "tcp", peers={1: address}, secret=secret)
    assert a.request(1, ping(5), 10).seq == 5
    page = os.urandom(65536)
    assert a.request(1, echo(page), 5).data == page
    assert a.request(1, echo(b"small"), 5).data == b"small"
