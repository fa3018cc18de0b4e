"""Another node's malformed XMM messages never crash a node nor corrupt its memory:
each is refused with a Mach code (or harmlessly ignored), the node goes on serving,
and every invariant still holds (DESIGN §3.1: network input is never trusted)."""

import pytest

from normach import Cluster, KernError, mach
from normach.xmm import messages as m

PAGE = 4096


@pytest.fixture(scope="module")
def shared():
    """Node 0 shares two pages with a clone on node 2; node 1 plays the bad peer."""
    c = Cluster(nodes=3, phys_bytes=16 << 20)
    t = c.task_create(node=0)
    a = mach.vm_allocate(t, 0, 2 * PAGE, True)
    mach.vm_write(t, a, b"intact")
    clone = mach.norma_task_clone(t, True, 2)
    assert mach.vm_read(clone, a, 6) == b"intact"
    (xid,) = c.kernels[0].xmm.managers
    yield c, t, clone, a, list(xid)
    problems = c.audit()
    c.close()
    assert problems == []


def _send(c, node, msg):
    """Node 1 sends `msg` to `node`; returns the reply or the KernError."""
    try:
        return c._endpoints[1].endpoint.request(node, msg, 5.0)
    except KernError as e:
        return e


BAD = [
    lambda x: m.xmm_request(xid=x, offset=3, desired=1, has=0, ahead=0),
    lambda x: m.xmm_request(xid=x, offset=-PAGE, desired=1, has=0, ahead=0),
    lambda x: m.xmm_request(xid=x, offset=1 << 40, desired=3, has=0, ahead=0),
    lambda x: m.xmm_request(xid=x, offset=0, desired=7, has=0, ahead=0),
    lambda x: m.xmm_request(xid=x, offset=0, desired=1, has=5, ahead=1 << 30),
    lambda x: m.xmm_request(xid=[x[0], -5], offset=0, desired=1, has=0, ahead=0),
    lambda x: m.xmm_request(xid=["a", "b"], offset=0, desired=1, has=0, ahead=0),
    lambda x: m.xmm_request(xid=[1, 2, 3], offset=0, desired=1, has=0, ahead=0),
    lambda x: m.xmm_lock(xid=x, offset=5, keep=0, seq=1),
    lambda x: m.xmm_lock(xid=x, offset=0, keep=99, seq=-1),
    lambda x: m.xmm_attach(xids=[x, "junk"], gens=[1]),
    lambda x: m.xmm_attach(xids=[[9, 9]], gens=["g"]),
    lambda x: m.xmm_release(xid=x, gen=1, offsets=[0, 0], seqs=[1, 1], final=True, data=bytes(2 * PAGE)),
    lambda x: m.xmm_release(xid=x, gen=1, offsets=[1 << 50], seqs=[1], final=False, data=bytes(PAGE)),
    lambda x: m.xmm_release(xid=x, gen=1, offsets=[0], seqs=["s"], final=True, data=b"short"),
    lambda x: m.xmm_copy(xid=[x[0], 12345]),
    lambda x: m.xmm_vm_map(task=[0, 1], entries=[[1, 2, 3]]),
    lambda x: m.xmm_vm_map(task=["x"], entries=[["nope"]]),
    lambda x: m.xmm_push(xid=x, offsets=[3], seqs=[1], data=bytes(PAGE)),
    lambda x: m.xmm_push(xid=x, offsets=[0], seqs=[1], data=b""),
    lambda x: m.xmm_adopt(xid=[7, 7]),
    lambda x: m.xmm_where(xid=x, ranges=[[0, 1 << 60], "x"]),
]


@pytest.mark.parametrize("bad", range(len(BAD)))
def test_malformed_xmm_messages_are_refused_and_memory_stays_coherent(shared, bad):
    c, t, clone, a, xid = shared
    for node in (0, 2):                       # the manager node and a client node
        _send(c, node, BAD[bad](xid))
    for k in c.kernels:
        assert k.remote is not None and k.machine.panics == []
        assert c._endpoints[k.node].endpoint.stats["handler_errors"] == 0
    text = b"still coherent %02d" % bad
    mach.vm_write(clone, a, text)
    assert mach.vm_read(t, a, len(text)) == text
    assert c.audit() == []
    assert mach.vm_read(clone, a + PAGE, 4) == bytes(4)
