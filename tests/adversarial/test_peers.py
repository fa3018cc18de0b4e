"""Raw network clients (findings 5 and 7): what a stranger or a holder of the secret can
make a node do without being the node it claims to be."""

from __future__ import annotations

import socket
import struct

import pytest

from normach import Cluster, KernError, KernReturn, MsgType, PortRight, PortType, mach
from normach.mach_types import NORMA_HOST_PORT
from normach.transport import Endpoint, config
from normach.transport.messages import ping

from waiting import wait_until

SECRET = b"adversarial secret"


@pytest.fixture
def tcp3():
    c = Cluster(nodes=3, transport="tcp", secret=SECRET)
    yield c
    c.close()


def _greeting(mechanism: bytes) -> bytes:
    """A ZMTP 3.0 greeting of a client: signature, version, mechanism, as-server 0."""
    return (b"\xff" + bytes(8) + b"\x7f" + b"\x03\x00" + mechanism.ljust(20, b"\0")
            + b"\x00" + bytes(31))


def test_a_stranger_cannot_make_a_node_hold_a_large_frame_before_the_handshake(tcp3):
    """Finding 5: the 16 MiB frame limit applied before authentication too, so each
    unauthenticated connection could make a node hold ~14 MiB.  Every zmq frame is now at
    most a few KiB, before and after the handshake (messages travel in chunks): a
    stranger announcing a 16 MiB command is cut off once it passes the limit, and the
    node goes on serving."""
    address = tcp3._endpoints[0].endpoint.address
    host, port = address.rsplit("//", 1)[1].rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    s.settimeout(30)
    cut_off = False
    try:
        s.sendall(_greeting(b"CURVE"))
        s.sendall(b"\x06" + struct.pack(">Q", 16 << 20))       # a long command: 16 MiB
        chunk = bytes(64 << 10)
        for _ in range((16 << 20) // len(chunk)):
            s.sendall(chunk)
    except (BrokenPipeError, ConnectionResetError):
        cut_off = True
    finally:
        s.close()
    assert cut_off, "the node took a 16 MiB frame from a stranger"
    assert config.FRAME_BYTES <= 16 << 10
    t = tcp3.task_create(node=0)
    assert mach.vm_allocate(t, 0, 4096, True)


def test_a_holder_of_the_secret_cannot_speak_for_a_live_node(tcp3):
    """Finding 7: anyone with the secret sent one ping "from node 1" with a new
    incarnation, and node 0 declared node 1 restarted: its rights to node 1's ports
    became dead names.  A node's identity is its key: a message that says "node 1" from
    another key is dropped (dropped_spoofed) while node 1 lives, and nothing changes."""
    c = tcp3
    owner = c.task_create(node=1)
    name = mach.mach_port_allocate(owner, PortRight.RECEIVE)
    holder = c.task_create(node=0)
    holder_name = 0x4403
    right = mach.mach_port_extract_right(owner, name, MsgType.MAKE_SEND)
    mach.mach_port_insert_right(holder, holder_name, right, MsgType.MOVE_SEND)
    ep0 = c._endpoints[0].endpoint
    wait_until(lambda: ep0.peer_key(1) is not None)            # node 1 has spoken to node 0
    downs_before = ep0.stats["peers_down"]
    with Endpoint(1, "tcp://127.0.0.1:0", {0: ep0.address}, None, secret=SECRET) as forger:
        for seq in range(3):
            try:
                forger.request(0, ping(seq), 1.0)
            except Exception:
                pass                                            # no answer: it was dropped
    wait_until(lambda: ep0.stats["dropped_spoofed"] >= 3)
    assert ep0.stats["peers_down"] == downs_before
    assert 1 not in c.kernel(0).remote.down
    assert mach.mach_port_type(holder, holder_name) & PortType.SEND
    assert not mach.mach_port_type(holder, holder_name) & PortType.DEAD_NAME
    assert c.audit() == []


def test_a_membership_table_cannot_replace_a_live_members_key_or_address():
    """A holder of the secret sent ctl_peers naming a live node with its own key and
    address: the node took it, which redirected that node's traffic and made the
    forger's key the one its messages were taken from.  A live member's entry never
    changes (the node asks the member first: it answers); once the member is declared
    down, a new one may take its place."""
    import zmq
    from normach.dipc import control as ctl
    from normach.node_process import NodeProcess
    from normach.transport.endpoint import Endpoint
    member = Endpoint(1, "tcp://127.0.0.1:0", {}, None, secret=SECRET)   # node 1, alive
    key_a, key_b = member.public_key.decode(), zmq.curve_keypair()[0].decode()
    node = NodeProcess(0, 3, "tcp://127.0.0.1:0", SECRET, 16 << 20)
    try:
        ep = node.net.endpoint
        with pytest.raises(KernError) as e:                     # only a member may tell
            node.handle(2, ctl.ctl_peers(table={1: [member.address, key_a]}))
        assert e.value.code == KernReturn.KERN_NO_ACCESS and 1 not in node.table
        node.learn({1: [member.address, key_a]})                # as a member's ctl_peers
        assert node.table[1] == [member.address, key_a]
        forged = ["tcp://127.0.0.1:2", key_b]
        node.learn({1: forged})                                 # node 1 answers: it lives
        assert node.table[1] == [member.address, key_a]
        assert ep.peer_key(1) == key_a.encode() and node.pending[1] == forged
        member.close()
        ep._declare_down(1, None, "test: node 1 stopped")
        wait_until(lambda: node.table[1] == forged)              # its new incarnation
        assert ep.peer_key(1) == key_b.encode() and 1 not in node.pending
    finally:
        node.shutdown()
        member.close()


def test_a_dead_nodes_tombstones_never_cover_its_host_ports_and_go_when_it_returns():
    """Tombstones keep late rights to a dead foreign port dead.  They were kept by uid
    alone, and a node that died left tombstones for its host ports (whose uids never
    change) and for serials its next incarnation hands out again: once it restarted,
    its host port and any right whose uid came round again arrived as dead names."""
    with Cluster(nodes=3) as c:
        t0 = c.task_create(node=0)
        child = mach.norma_task_create(t0, False, 1)          # node 0 holds node-1 rights
        host = mach.norma_get_special_port(c.host_priv(0), 1, NORMA_HOST_PORT)
        assert host is not None
        dipc = c.kernel(0).remote
        c.kill_node(1)
        wait_until(lambda: 1 in dipc.down)
        with c.kernel(0).lock:
            buried = [u for u in dipc.tombstones if u[0] == 1]
        assert buried, "node 1's ports left no tombstones"
        assert all(u[1] >= 0 for u in buried), buried           # none for its host ports
        dipc.node_up(1)                                          # a new incarnation answers
        with c.kernel(0).lock:
            assert not [u for u in dipc.tombstones if u[0] == 1]
            assert 1 not in dipc.down
        child.deallocate()
        host.deallocate()


def test_a_client_joins_as_itself_and_only_members_tell_the_membership():
    """A client's ctl_join names the client that sends it (not another index), and is
    recorded by that node alone; ctl_peers from anyone but a member is refused."""
    from normach.dipc import control as ctl
    from normach.node_process import NodeProcess
    node = NodeProcess(0, 3, "tcp://127.0.0.1:0", SECRET, 16 << 20)
    try:
        client = (1 << 20) + 5
        with pytest.raises(KernError) as e:
            node.handle(client, ctl.ctl_join(node=client + 1, address="tcp://127.0.0.1:9", key=""))
        assert e.value.code == KernReturn.KERN_NO_ACCESS and node.clients == {}
        reply = node.handle(client, ctl.ctl_join(node=client, address="tcp://127.0.0.1:9", key=""))
        assert reply.nnodes == 3 and client in node.clients and client not in node.table
        with pytest.raises(KernError) as e:
            node.handle(client, ctl.ctl_peers(table={1: ["tcp://127.0.0.1:1", ""]}))
        assert e.value.code == KernReturn.KERN_NO_ACCESS and 1 not in node.table
        node.handle(client, ctl.ctl_leave(node=client))
        assert node.clients == {}
    finally:
        node.shutdown()
