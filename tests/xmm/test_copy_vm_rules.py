"""V2.15: the child's node checks the address-space vector it is sent (only another
node can send one, so this is a check on network input): misordered, overlapping or
unaligned entries -> KERN_INVALID_ADDRESS; bad inheritance or protection bits ->
KERN_INVALID_ARGUMENT; outside the map -> KERN_INVALID_ADDRESS; an address in use ->
KERN_NO_SPACE; all or nothing: on any error the new task is destroyed."""

import pytest

from normach import Cluster, KernError, KernReturn, mach
from normach.xmm import messages as m

K = KernReturn
P = 4096
BASE = 0x20000000


PLANTED = []                 # uids this module made principals by hand (no right went out)


@pytest.fixture(scope="module")
def c3():
    c = Cluster(nodes=3, phys_bytes=16 << 20)
    yield c
    with c.kernels[2].lock:      # as if their (imagined) senders had let go: forgotten
        for uid in PLANTED:
            c.kernels[2].remote.principals.pop(uid, None)
    problems = c.audit()
    c.close()
    assert problems == []


def _fresh_task(c):
    """A task on node 2, and its port's uid as node 2's DIPC knows it."""
    k2 = c.kernels[2]
    t = c.task_create(node=2)
    task = max(k2.tasks, key=lambda x: x.id)
    with k2.lock:
        k2.remote.principals[task.itk_self.uid] = task.itk_self
    PLANTED.append(task.itk_self.uid)
    return t, task, list(task.itk_self.uid)


def _entry(start, size, prot=3, maxprot=7, inh=1, node=-1, lid=-1, offset=0, objsize=0):
    return [start, start + size, node, lid, offset, objsize, prot, maxprot, inh, 0, 0]


CASES = [
    ("unaligned", [_entry(BASE + 12, P)], K.KERN_INVALID_ADDRESS),
    ("misordered", [_entry(BASE + P, P), _entry(BASE, P)], K.KERN_INVALID_ADDRESS),
    ("overlapping", [_entry(BASE, 2 * P), _entry(BASE + P, P)], K.KERN_INVALID_ADDRESS),
    ("empty range", [_entry(BASE, 0)], K.KERN_INVALID_ADDRESS),
    ("outside the map", [_entry(1 << 62, P)], K.KERN_INVALID_ADDRESS),
    ("bad inheritance", [_entry(BASE, P, inh=3)], K.KERN_INVALID_ARGUMENT),
    ("prot beyond max", [_entry(BASE, P, prot=7, maxprot=1)], K.KERN_INVALID_ARGUMENT),
    ("bad prot bits", [_entry(BASE, P, prot=0x10)], K.KERN_INVALID_ARGUMENT),
    ("no such node", [_entry(BASE, P, node=9, lid=1, objsize=P)], K.KERN_INVALID_ARGUMENT),
    ("beyond its object", [_entry(BASE, 2 * P, node=0, lid=1, objsize=P)],
     K.KERN_INVALID_ADDRESS),
]


@pytest.mark.parametrize("name,entries,code", CASES, ids=[c[0] for c in CASES])
def test_V2_15_bad_vectors_are_refused_and_the_task_destroyed(c3, name, entries, code):
    t, task, uid = _fresh_task(c3)
    with pytest.raises(KernError) as e:
        c3._endpoints[0].endpoint.request(2, m.xmm_vm_map(task=uid, entries=entries), 5.0)
    assert e.value.code == code, name
    assert not task.active                                # all or nothing


def test_V2_15_address_in_use_is_no_space(c3):
    t, task, uid = _fresh_task(c3)
    mach.vm_allocate(t, BASE, P, False)
    with pytest.raises(KernError) as e:
        c3._endpoints[0].endpoint.request(
            2, m.xmm_vm_map(task=uid, entries=[_entry(BASE - P, P), _entry(BASE, P)]), 5.0)
    assert e.value.code == K.KERN_NO_SPACE
    assert not task.active                                # the first entry did not stay


def test_V2_15_a_good_vector_maps_every_entry(c3):
    t, task, uid = _fresh_task(c3)
    entries = [_entry(BASE, P, prot=1, inh=2), _entry(BASE + 4 * P, 2 * P, inh=0)]
    reply = c3._endpoints[0].endpoint.request(2, m.xmm_vm_map(task=uid, entries=entries), 5.0)
    assert reply.count == 2
    r = mach.vm_region(t, BASE)
    assert (r.address, r.size, r.protection, r.inheritance) == (BASE, P, 1, 2)
    assert mach.vm_read(t, BASE + 4 * P, 8) == bytes(8)
    mach.task_terminate(t)
