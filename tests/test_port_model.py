"""Port rights and names against a reference model (spec §6.1-6.2, P6.1-P6.7, §3.4, §7.2).

A hypothesis state machine drives 3 tasks (one root task that lives for the
whole run and two children of it that may be terminated and replaced) through
random port calls of the public API: allocate / allocate_name / deallocate /
destroy / mod_refs / insert_right / extract_right / move_member / rename,
messages carrying rights (mach_msg_send + mach_msg_receive) and task_terminate.

The reference model keeps, per task and name, the model port (or port set, or
nothing for a dead name), the right-type bits and the urefs; per port whether
it is alive, where its receive right is (a task, or a queued message), its
port set and its queue (model messages and send-once notifications).  The
model's rules are the spec's, not the implementation's:

* P6.3  send and receive rights of one port share one name per space
        (KERN_RIGHT_EXISTS otherwise); every send-once right has its own name.
* P6.4  receive / send-once / port set count 1; send and dead-name urefs are
        counted, more than 65535 is KERN_UREFS_OVERFLOW.
* P6.6  MOVE/COPY_SEND of a dead name delivers MACH_PORT_DEAD.
* P6.7  a send (or receive) right received for a port already named merges.
* dead names (P6.6 / D5.12): when a port dies, send urefs become dead-name
        urefs and a send-once right becomes one dead-name uref.
* §6.5  a send-once right destroyed unused sends a SEND_ONCE notification
        (id 71) on itself; P6.14: messages queued on a dying port are
        destroyed with the rights they carry.
* §3.4  error rows of mach_port_*; E3.1 for calls on a terminated task.

After every step each task's `mach_port_names` (right-type bits), every
`mach_port_get_refs`, the kernel port behind every name, the queue length and
port-set membership of every receive right, and `cluster.audit()` must match.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from normach import (
    MACH_PORT_DEAD,
    Cluster,
    KernError,
    KernReturn,
    Message,
    MsgOption,
    MsgType,
    PortDesc,
    PortRight,
    PortType,
    mach,
    param,
)
from normach.mach_types import MACH_PORT_TYPE, Notify, PortFlavor

K = KernReturn
T = MsgType
UMAX = param.UREFS_MAX
QLIMIT = param.PORT_QLIMIT_DEFAULT
S, R, SO, PS, DN = (PortType.SEND, PortType.RECEIVE, PortType.SEND_ONCE, PortType.PORT_SET,
                    PortType.DEAD_NAME)
RIGHT_BITS = int(PortType.ALL_RIGHTS)
RIGHT_KINDS = [PortRight.SEND, PortRight.RECEIVE, PortRight.SEND_ONCE, PortRight.PORT_SET,
               PortRight.DEAD_NAME]
DISPOSITIONS = [T.MOVE_RECEIVE, T.MOVE_SEND, T.MOVE_SEND_ONCE, T.COPY_SEND, T.MAKE_SEND,
                T.MAKE_SEND_ONCE]
RECEIVED = {T.MOVE_RECEIVE: T.PORT_RECEIVE, T.MOVE_SEND: T.PORT_SEND, T.COPY_SEND: T.PORT_SEND,
            T.MAKE_SEND: T.PORT_SEND, T.MOVE_SEND_ONCE: T.PORT_SEND_ONCE,
            T.MAKE_SEND_ONCE: T.PORT_SEND_ONCE}
DEAD = "DEAD"                       # a right to a dead port travelling in a message


# -- the reference model ---------------------------------------------------------------------

_ids = itertools.count(1)


class MPort:
    def __init__(self, kport):
        self.id = next(_ids)
        self.k = kport              # the kernel Port, for the identity check
        self.alive = True
        self.receiver = None        # ("task", index) | ("msg", MMsg) | None
        self.queue: list = []       # MMsg | NOTIFY
        self.pset = None            # MSet

    def __repr__(self):
        return f"P{self.id}{'' if self.alive else '(dead)'}"


class MSet:
    def __init__(self, kset):
        self.id = next(_ids)
        self.k = kset
        self.members: set = set()

    def __repr__(self):
        return f"S{self.id}"


class MMsg:
    def __init__(self, msg_id, items):
        self.id = msg_id
        self.items = items          # [(received type, MPort | DEAD)]

    def __repr__(self):
        return f"M{self.id}{self.items}"


NOTIFY = "SEND_ONCE-notification"


class Entry:
    __slots__ = ("obj", "bits", "urefs")

    def __init__(self, obj, bits, urefs=0):
        self.obj, self.bits, self.urefs = obj, bits, urefs

    def __repr__(self):
        return f"Entry({self.obj!r}, {PortType(self.bits)!r}, {self.urefs})"


class Model:
    def __init__(self, ntasks):
        self.names = [dict() for _ in range(ntasks)]

    # -- lookups
    def rev(self, ti, port):
        """The entry naming port's send/receive rights in task ti (P6.3)."""
        for name, e in self.names[ti].items():
            if e.obj is port and e.bits & (S | R):
                return name, e
        return None, None

    def carried(self, port) -> set:
        """Ports whose receive right travels, transitively, in port's queue."""
        out, todo = set(), [port]
        while todo:
            p = todo.pop()
            for m in p.queue:
                if m is NOTIFY:
                    continue
                for msgt, q in m.items:
                    if msgt == T.PORT_RECEIVE and q not in out:
                        out.add(q)
                        todo.append(q)
        return out

    # -- destruction
    def notify(self, port):
        """A send-once right to `port` destroyed unused (§6.5 SEND_ONCE)."""
        if port is not DEAD and port.alive:
            port.queue.append(NOTIFY)

    def release(self, msgt, port):
        """The kernel destroys a right it holds (in a message, a failed insert)."""
        if port is DEAD:
            return
        if msgt == T.PORT_SEND_ONCE:
            self.notify(port)
        elif msgt == T.PORT_RECEIVE:
            port.receiver = None
            self.kill(port)

    def leave_set(self, port):
        if port.pset is not None:
            port.pset.members.discard(port)
            port.pset = None

    def kill(self, port):
        """The port dies: names become dead names (urefs kept, send-once -> 1), queue destroyed."""
        if not port.alive:
            return
        port.alive = False
        port.receiver = None
        self.leave_set(port)
        for names in self.names:
            for e in names.values():
                if e.obj is port:
                    assert not e.bits & R, e
                    e.urefs = e.urefs if e.bits & S else 1
                    e.bits, e.obj = DN, None
        queue, port.queue = port.queue, []
        for m in queue:
            if m is not NOTIFY:
                for msgt, q in m.items:
                    self.release(msgt, q)

    def destroy_entry(self, ti, name):
        """mach_port_destroy: every right under the name goes."""
        e = self.names[ti].pop(name)
        if e.bits & DN:
            return
        if e.bits & PS:
            for m in list(e.obj.members):
                self.leave_set(m)
            return
        port = e.obj
        if e.bits & SO:
            self.notify(port)
        elif e.bits & R:
            port.receiver = None
            self.kill(port)

    def drop_bits(self, ti, name, bits):
        e = self.names[ti][name]
        e.bits &= ~bits
        if bits & (S | DN):
            e.urefs = 0
        if not e.bits:
            del self.names[ti][name]

    def terminate(self, ti):
        """T7.7: the space is destroyed name by name (sorted), like mach_port_destroy."""
        for name in sorted(self.names[ti]):
            if name in self.names[ti]:
                self.destroy_entry(ti, name)
        assert not self.names[ti]

    # -- insert_right (P6.3, §3.4 row): the right is consumed in every case
    def insert(self, ti, name, port, msgt, copyout=False):
        """Returns the expected error code (None: success) and applies the effects.

        `copyout`: the right arrives in a message; send urefs then saturate at
        65535 instead of failing (the receiver cannot refuse a right).
        """
        names = self.names[ti]
        err = None
        if not (isinstance(name, int) and 0 < name < MACH_PORT_DEAD):
            err = K.KERN_INVALID_VALUE
        elif port is DEAD or not port.alive:
            err = K.KERN_INVALID_CAPABILITY
        else:
            e = names.get(name)
            if msgt == T.PORT_SEND_ONCE:
                err = K.KERN_NAME_EXISTS if e is not None else None
            else:
                _oname, other = self.rev(ti, port)
                if e is not None and (e.obj is not port or e.bits & SO):
                    err = K.KERN_NAME_EXISTS        # send-once names stand alone (P6.3)
                elif other is not None and other is not e:
                    err = K.KERN_RIGHT_EXISTS
                elif (not copyout and e is not None and msgt == T.PORT_SEND and e.bits & S
                      and e.urefs >= UMAX):
                    err = K.KERN_UREFS_OVERFLOW
        if err is not None:
            self.release(msgt, port)
            return err
        e = names.get(name)
        if msgt == T.PORT_SEND_ONCE:
            names[name] = Entry(port, SO)
        elif msgt == T.PORT_SEND:
            if e is None:
                names[name] = Entry(port, S, 1)
            elif e.bits & S:
                e.urefs = min(e.urefs + 1, UMAX)
            else:
                e.bits |= S
                e.urefs = 1
        else:
            if e is None:
                names[name] = Entry(port, R)
            else:
                e.bits |= R
            port.receiver = ("task", ti)
        return None

    # -- copyin by disposition (§6.2 "sender must hold"), simulated with a ledger
    @staticmethod
    def can_copyin(e, disp, ledger, name, allow_dead=True):
        if e is None:
            return False
        st_ = ledger.setdefault(name, [e.urefs if e.bits & S else 0, bool(e.bits & R),
                                       bool(e.bits & SO), e.urefs if e.bits & DN else 0])
        if disp == T.MOVE_RECEIVE:
            ok = st_[1]
            st_[1] = False
            return ok
        if disp in (T.MAKE_SEND, T.MAKE_SEND_ONCE):
            return st_[1]
        if disp == T.COPY_SEND:
            return st_[0] > 0 or (allow_dead and st_[3] > 0)
        if disp == T.MOVE_SEND and st_[0] > 0:
            st_[0] -= 1
            return True
        if disp == T.MOVE_SEND_ONCE and st_[2]:
            st_[2] = False
            return True
        if disp in (T.MOVE_SEND, T.MOVE_SEND_ONCE) and allow_dead and st_[3] > 0:
            st_[3] -= 1
            return True
        return False

    def copyin(self, ti, name, disp):
        """Take the right out of task ti (checked before): returns (received type, MPort | DEAD)."""
        e = self.names[ti][name]
        msgt = RECEIVED[disp]
        if e.bits & DN:
            if disp in (T.MOVE_SEND, T.MOVE_SEND_ONCE):
                e.urefs -= 1
                if e.urefs == 0:
                    del self.names[ti][name]
            return msgt, DEAD
        port = e.obj
        if disp == T.MOVE_RECEIVE:
            self.drop_bits(ti, name, R)
            self.leave_set(port)
            port.receiver = None
        elif disp == T.MOVE_SEND:
            e.urefs -= 1
            if e.urefs == 0:
                self.drop_bits(ti, name, S)
        elif disp == T.MOVE_SEND_ONCE:
            del self.names[ti][name]
        return msgt, port

    def copyout(self, ti, msgt, port):
        """A right arriving in a message: the name it gets (None: a new name), applied later."""
        if port is DEAD or not port.alive:
            return MACH_PORT_DEAD
        if msgt == T.PORT_SEND_ONCE:
            return None
        name, _e = self.rev(ti, port)
        return name


# -- the state machine -----------------------------------------------------------------------

def _code(fn, *args):
    """Call fn; returns (None, result) or (code, None) for a KernError."""
    try:
        return None, fn(*args)
    except KernError as e:
        return e.code, None


def _cname(code):
    try:
        return K(code).name
    except ValueError:
        return str(code)


class PortMachine(RuleBasedStateMachine):
    NTASKS = 3

    def __init__(self):
        super().__init__()
        self.cluster = Cluster(nodes=1, phys_bytes=8 << 20)
        root = self.cluster.task_create(node=0, name="root")
        self.tasks = [root] + [mach.task_create(root, False) for _ in range(self.NTASKS - 1)]
        self.model = Model(self.NTASKS)
        self.msg_ids = itertools.count(1000)
        self.log: list = []

    def teardown(self):
        problems = self.cluster.audit()
        self.cluster.close()
        problems += self.cluster.audit()
        assert problems == [], "\n".join(problems)

    # -- helpers
    def kspace(self, ti):
        return self.tasks[ti].port.kobject.itk_space

    def expect(self, code, fn, *args):
        got, result = _code(fn, *args)
        assert got == code, (f"{fn.__name__}{args[1:]}: expected {_cname(code) if code else 'success'}"
                             f", got {_cname(got) if got else 'success'}; model "
                             f"{self.model.names}")
        return result

    def pick_name(self, data, ti, pred=lambda e: True):
        """A name of task ti satisfying pred; now and then an unknown name instead."""
        names = sorted(n for n, e in self.model.names[ti].items() if pred(e))
        if names and data.draw(st.integers(0, 7), label="unknown name?") != 0:
            return data.draw(st.sampled_from(names), label="name")
        return data.draw(st.sampled_from([0x7FFFFF01, 0x1234567]), label="unknown name")

    def fitting_disp(self, data, e, allowed=DISPOSITIONS):
        """A disposition the entry can give (§6.2), now and then any disposition."""
        fit = []
        if e is not None:
            if e.bits & S:
                fit += [T.COPY_SEND, T.MOVE_SEND]
            if e.bits & R:
                fit += [T.MAKE_SEND, T.MAKE_SEND_ONCE, T.MOVE_RECEIVE]
            if e.bits & SO:
                fit += [T.MOVE_SEND_ONCE]
        fit = [d for d in fit if d in allowed]
        if fit and data.draw(st.integers(0, 5), label="fitting?") != 0:
            return data.draw(st.sampled_from(fit), label="disposition")
        return data.draw(st.sampled_from(list(allowed)), label="any disposition")

    def new_name(self, data, ti):
        """A name for insert/allocate_name/rename: usually free, sometimes in use or invalid."""
        used = sorted(self.model.names[ti])
        opts = [st.integers(0x1000_0000, 0x7FFF_FFFF).filter(lambda n: n not in self.model.names[ti])]
        if used:
            opts.append(st.sampled_from(used))
        opts.append(st.sampled_from([0, MACH_PORT_DEAD]))
        return data.draw(st.one_of(*opts), label="new_name")

    def task_index(self, data, label="task"):
        return data.draw(st.integers(0, self.NTASKS - 1), label=label)

    @initialize()
    def seed(self):
        """Each task gets two receive rights and a port set; its neighbour a send right
        to each receive right and a send-once right to the first."""
        m = self.model
        for ti in range(self.NTASKS):
            for right in (PortRight.RECEIVE, PortRight.RECEIVE, PortRight.PORT_SET):
                self._allocated(ti, mach.mach_port_allocate(self.tasks[ti], right), right)
        for ti in range(self.NTASKS):
            tj = (ti + 1) % self.NTASKS
            rnames = sorted(n for n, e in m.names[ti].items() if e.bits & R)
            for i, n in enumerate(rnames):
                for disp in ([T.MAKE_SEND, T.MAKE_SEND_ONCE] if i == 0 else [T.MAKE_SEND]):
                    h = mach.mach_port_extract_right(self.tasks[ti], n, disp)
                    msgt, port = m.copyin(ti, n, disp)
                    dest = 0x2000_0000 + 0x100 * len(m.names[tj])
                    assert m.insert(tj, dest, port, msgt) is None
                    move = T.MOVE_SEND if disp == T.MAKE_SEND else T.MOVE_SEND_ONCE
                    mach.mach_port_insert_right(self.tasks[tj], dest, h, move)

    # -- allocation (P6.5)
    @rule(data=st.data(), right=st.sampled_from([PortRight.RECEIVE, PortRight.PORT_SET,
                                                  PortRight.DEAD_NAME, PortRight.SEND,
                                                  PortRight.SEND_ONCE, 5, 99, -1]))
    def allocate(self, data, right):
        ti = self.task_index(data)
        if right not in (PortRight.RECEIVE, PortRight.PORT_SET, PortRight.DEAD_NAME):
            self.expect(K.KERN_INVALID_VALUE, mach.mach_port_allocate, self.tasks[ti], right)
            return
        name = self.expect(None, mach.mach_port_allocate, self.tasks[ti], right)
        self._allocated(ti, name, right)

    def _allocated(self, ti, name, right):
        assert name not in self.model.names[ti], f"new name {name:#x} already in use"
        obj = self.kspace(ti).lookup(name).object
        if right == PortRight.RECEIVE:
            port = MPort(obj)
            port.receiver = ("task", ti)
            self.model.names[ti][name] = Entry(port, R)
        elif right == PortRight.PORT_SET:
            self.model.names[ti][name] = Entry(MSet(obj), PS)
        else:
            self.model.names[ti][name] = Entry(None, DN, 1)

    @rule(data=st.data(), right=st.sampled_from([PortRight.RECEIVE, PortRight.PORT_SET,
                                                  PortRight.DEAD_NAME, PortRight.SEND, 7]))
    def allocate_name(self, data, right):
        ti = self.task_index(data)
        name = self.new_name(data, ti)
        if right not in (PortRight.RECEIVE, PortRight.PORT_SET, PortRight.DEAD_NAME):
            code = K.KERN_INVALID_VALUE
        elif name in (0, MACH_PORT_DEAD):
            code = K.KERN_INVALID_VALUE
        elif name in self.model.names[ti]:
            code = K.KERN_NAME_EXISTS
        else:
            code = None
        self.expect(code, mach.mach_port_allocate_name, self.tasks[ti], right, name)
        if code is None:
            self._allocated(ti, name, right)

    # -- references (P6.4)
    @rule(data=st.data())
    def deallocate(self, data):
        ti = self.task_index(data)
        name = self.pick_name(data, ti)
        e = self.model.names[ti].get(name)
        if e is None:
            code = K.KERN_INVALID_NAME
        elif e.bits & DN:
            code = None
            e.urefs -= 1
            if e.urefs == 0:
                del self.model.names[ti][name]
        elif e.bits & SO:
            code = None
            self.model.destroy_entry(ti, name)
        elif e.bits & S:
            code = None
            e.urefs -= 1
            if e.urefs == 0:
                self.model.drop_bits(ti, name, S)
        else:
            code = K.KERN_INVALID_RIGHT
        self.expect(code, mach.mach_port_deallocate, self.tasks[ti], name)

    @rule(data=st.data())
    def destroy(self, data):
        ti = self.task_index(data)
        name = self.pick_name(data, ti)
        if name not in self.model.names[ti]:
            self.expect(K.KERN_INVALID_NAME, mach.mach_port_destroy, self.tasks[ti], name)
            return
        self.model.destroy_entry(ti, name)
        self.expect(None, mach.mach_port_destroy, self.tasks[ti], name)

    def _mod_refs_expect(self, ti, name, right, delta):
        m = self.model
        if right not in RIGHT_KINDS:
            return K.KERN_INVALID_VALUE
        e = m.names[ti].get(name)
        if e is None:
            return K.KERN_INVALID_NAME
        if not e.bits & MACH_PORT_TYPE(right):
            return K.KERN_INVALID_RIGHT
        if right in (PortRight.RECEIVE, PortRight.SEND_ONCE, PortRight.PORT_SET):
            if delta not in (-1, 0):
                return K.KERN_INVALID_VALUE
            if delta == -1:
                if right == PortRight.RECEIVE:
                    port = e.obj
                    m.drop_bits(ti, name, R)
                    port.receiver = None
                    m.kill(port)
                else:
                    m.destroy_entry(ti, name)
            return None
        urefs = e.urefs + delta
        if urefs < 0:
            return K.KERN_INVALID_VALUE
        if urefs > UMAX:
            return K.KERN_UREFS_OVERFLOW
        e.urefs = urefs
        if urefs == 0 and delta:
            m.drop_bits(ti, name, MACH_PORT_TYPE(right))
        return None

    @rule(data=st.data(), right=st.sampled_from(RIGHT_KINDS + [5, 99, -1]),
          delta=st.integers(-3, 3))
    def mod_refs(self, data, right, delta):
        ti = self.task_index(data)
        name = self.pick_name(data, ti)
        code = self._mod_refs_expect(ti, name, right, delta)
        self.expect(code, mach.mach_port_mod_refs, self.tasks[ti], name, right, delta)

    @rule(data=st.data(), extra=st.sampled_from([0, 1, -1]))
    def mod_refs_to_the_limit(self, data, extra):
        """P6.4: up to 65535 urefs; one more is KERN_UREFS_OVERFLOW; below 0 is INVALID_VALUE."""
        ti = self.task_index(data)
        names = sorted(n for n, e in self.model.names[ti].items() if e.bits & (S | DN))
        if not names:
            return
        name = data.draw(st.sampled_from(names), label="name")
        e = self.model.names[ti][name]
        right = PortRight.SEND if e.bits & S else PortRight.DEAD_NAME
        if extra == -1:
            delta = -e.urefs - data.draw(st.integers(0, 1), label="below")
        else:
            delta = UMAX - e.urefs + extra
        code = self._mod_refs_expect(ti, name, right, delta)
        self.expect(code, mach.mach_port_mod_refs, self.tasks[ti], name, right, delta)

    # -- insert_right in the same task (P6.3)
    @rule(data=st.data(), disp=st.sampled_from([T.MAKE_SEND, T.MAKE_SEND_ONCE]))
    def insert_made_right(self, data, disp):
        ti = self.task_index(data)
        src = self.pick_name(data, ti, lambda e: bool(e.bits & R))
        e = self.model.names[ti].get(src)
        same = data.draw(st.booleans(), label="same name")
        name = src if same else self.new_name(data, ti)
        if e is None or not e.bits & R:
            self.expect(K.MACH_SEND_INVALID_RIGHT, mach.mach_port_insert_right, self.tasks[ti],
                        name, src, disp)
            return
        code = self.model.insert(ti, name, e.obj, RECEIVED[disp])
        self.expect(code, mach.mach_port_insert_right, self.tasks[ti], name, src, disp)

    # -- extract_right + insert_right into another task, via a handle
    @rule(data=st.data())
    def extract_and_insert(self, data):
        m = self.model
        ti = self.task_index(data, "from")
        # P6.6 extraction of a dead name is covered by its own regression test below
        name = self.pick_name(data, ti, lambda e: not e.bits & DN)
        e = m.names[ti].get(name)
        disp = self.fitting_disp(data, e, DISPOSITIONS + [T.PORT_NAME, 99])
        if disp not in DISPOSITIONS:
            code = K.KERN_INVALID_VALUE
        elif e is None:
            code = K.KERN_INVALID_NAME
        elif not m.can_copyin(e, disp, {}, name):
            code = K.KERN_INVALID_RIGHT
        else:
            code = None
        h = self.expect(code, mach.mach_port_extract_right, self.tasks[ti], name, disp)
        if code is not None:
            return
        msgt, port = m.copyin(ti, name, disp)
        assert h.right == msgt and h.port is port.k, (h, msgt, port)
        tj = self.task_index(data, "to")
        opts = [self.new_name(data, tj)]
        rname, _e = m.rev(tj, port)
        if rname is not None:
            opts.append(rname)
        dest = data.draw(st.sampled_from(opts), label="dest name")
        move = {T.PORT_SEND: T.MOVE_SEND, T.PORT_SEND_ONCE: T.MOVE_SEND_ONCE,
                T.PORT_RECEIVE: T.MOVE_RECEIVE}[msgt]
        code = m.insert(tj, dest, port, msgt)
        self.expect(code, mach.mach_port_insert_right, self.tasks[tj], dest, h, move)
        assert h.spent, "a handle passed with a MOVE disposition is spent"

    # -- messages carrying rights (§6.2, P6.6, P6.7, P6.14, P6.15)
    @rule(data=st.data(), nbody=st.integers(0, 3))
    def send_message(self, data, nbody):
        m = self.model
        ti = self.task_index(data, "sender")
        dest = self.pick_name(data, ti, lambda e: bool(e.bits & (S | R | SO)))
        dest_disp = self.fitting_disp(data, m.names[ti].get(dest))
        body_names, body = [], []
        for _ in range(nbody):
            n = self.pick_name(data, ti)
            body_names.append(n)
            body.append(self.fitting_disp(data, m.names[ti].get(n)))
        ledger: dict = {}
        names = m.names[ti]
        de = names.get(dest)
        code = None
        if dest_disp == T.MOVE_RECEIVE:
            code = K.MACH_SEND_INVALID_HEADER        # the destination takes a send disposition
        elif not m.can_copyin(de, dest_disp, ledger, dest, allow_dead=False):
            code = K.MACH_SEND_INVALID_DEST
        else:
            for n, d in zip(body_names, body):
                if not m.can_copyin(names.get(n), d, ledger, n):
                    code = K.MACH_SEND_INVALID_RIGHT
                    break
        port = de.obj if de is not None and isinstance(de.obj, MPort) else None
        if code is None:
            # a receive right queued on itself (or on a port it carries) is a cycle that no
            # one can ever receive: legal in Mach but it leaks; keep the model away from it
            for n, d in zip(body_names, body):
                if d == T.MOVE_RECEIVE:
                    moved = names[n].obj
                    if port is moved or port in m.carried(moved):
                        return
            if RECEIVED[dest_disp] != T.PORT_SEND_ONCE and len(port.queue) >= QLIMIT:
                code = K.MACH_SEND_TIMED_OUT
        msg = Message(remote_port=dest, remote_disp=dest_disp, id=next(self.msg_ids),
                      body=[PortDesc(n, d) for n, d in zip(body_names, body)])
        self.expect(code, mach.mach_msg_send, self.tasks[ti], msg, MsgOption.SEND_TIMEOUT, 0)
        if code is not None:
            return
        m.copyin(ti, dest, dest_disp)
        mm = MMsg(msg.id, [m.copyin(ti, n, d) for n, d in zip(body_names, body)])
        for msgt, q in mm.items:
            if msgt == T.PORT_RECEIVE:
                q.receiver = ("msg", mm)
        port.queue.append(mm)

    @rule(data=st.data())
    def receive_message(self, data):
        m = self.model
        ti = self.task_index(data, "receiver")
        busy = sorted(n for n, e in m.names[ti].items() if e.bits & R and e.obj.queue)
        if busy and data.draw(st.integers(0, 3), label="busy port?") != 0:
            name = data.draw(st.sampled_from(busy), label="name")
        else:
            name = self.pick_name(data, ti, lambda e: bool(e.bits & (R | PS)))
        e = m.names[ti].get(name)
        task = self.tasks[ti]
        if e is None or not e.bits & (R | PS):
            self.expect(K.MACH_RCV_INVALID_NAME, mach.mach_msg_receive, task, name,
                        MsgOption.RCV_TIMEOUT, 0)
            return
        if e.bits & PS:
            busy = [p for p in e.obj.members if p.queue]
            if len(busy) > 1:
                return                  # which member is served first is not specified
            if not busy:
                self.expect(K.MACH_RCV_TIMED_OUT, mach.mach_msg_receive, task, name,
                            MsgOption.RCV_TIMEOUT, 0)
                return
            port = busy[0]
        else:
            port = e.obj
            if port.pset is not None:
                self.expect(K.MACH_RCV_IN_SET, mach.mach_msg_receive, task, name,
                            MsgOption.RCV_TIMEOUT, 0)
                return
            if not port.queue:
                self.expect(K.MACH_RCV_TIMED_OUT, mach.mach_msg_receive, task, name,
                            MsgOption.RCV_TIMEOUT, 0)
                return
        port_name, _ = m.rev(ti, port)
        got = self.expect(None, mach.mach_msg_receive, task, name, MsgOption.RCV_TIMEOUT, 0)
        head = port.queue.pop(0)
        assert got.local_port == port_name and got.remote_port == 0, got
        if head is NOTIFY:
            assert got.id == Notify.SEND_ONCE and got.body == [], got
            assert got.local_disp == T.PORT_SEND_ONCE, got
            return
        assert got.id == head.id and len(got.body) == len(head.items), (got, head)
        for desc, (msgt, q) in zip(got.body, head.items):
            assert isinstance(desc, PortDesc) and desc.disposition == msgt, (desc, msgt)
            want = m.copyout(ti, msgt, q)
            if want is None:
                assert desc.name not in m.names[ti] and desc.name not in (0, MACH_PORT_DEAD), \
                    f"P6.3: {desc} should have a new name; model {m.names[ti]}"
            else:
                assert desc.name == want, f"P6.7: {desc} should be {want:#x}; model {m.names[ti]}"
            if want == MACH_PORT_DEAD:
                continue
            code = m.insert(ti, desc.name, q, msgt, copyout=True)
            assert code is None, (code, desc)

    # -- port sets (P6.21)
    @rule(data=st.data(), remove=st.booleans())
    def move_member(self, data, remove):
        m = self.model
        ti = self.task_index(data)
        member = self.pick_name(data, ti, lambda e: bool(e.bits & R))
        after = 0 if remove else self.pick_name(data, ti, lambda e: bool(e.bits & PS))
        me = m.names[ti].get(member)
        ae = m.names[ti].get(after)
        if me is None:
            code = K.KERN_INVALID_NAME
        elif not me.bits & R:
            code = K.KERN_INVALID_RIGHT
        elif after == 0:
            code = K.KERN_NOT_IN_SET if me.obj.pset is None else None
        elif ae is None:
            code = K.KERN_INVALID_NAME
        elif not ae.bits & PS:
            code = K.KERN_INVALID_RIGHT
        else:
            code = None
        self.expect(code, mach.mach_port_move_member, self.tasks[ti], member, after)
        if code is None:
            m.leave_set(me.obj)
            if after:
                me.obj.pset = ae.obj
                ae.obj.members.add(me.obj)

    # -- rename
    @rule(data=st.data())
    def rename(self, data):
        m = self.model
        ti = self.task_index(data)
        old = self.pick_name(data, ti)
        new = self.new_name(data, ti)
        if old not in m.names[ti]:
            code = K.KERN_INVALID_NAME
        elif new in (0, MACH_PORT_DEAD):
            code = K.KERN_INVALID_VALUE
        elif new in m.names[ti]:
            code = K.KERN_NAME_EXISTS
        else:
            code = None
        self.expect(code, mach.mach_port_rename, self.tasks[ti], old, new)
        if code is None:
            m.names[ti][new] = m.names[ti].pop(old)

    # -- task_terminate (T7.7) of a child task
    @rule(data=st.data())
    def terminate_child(self, data):
        ti = data.draw(st.integers(1, self.NTASKS - 1), label="child")
        if len(self.model.names[ti]) < 4:
            return                      # terminating an empty task tests little
        h = self.tasks[ti]
        self.model.terminate(ti)
        self.expect(None, mach.task_terminate, h)
        self.expect(K.KERN_INVALID_TASK, mach.mach_port_names, h)           # E3.1
        self.expect(K.KERN_INVALID_TASK, mach.mach_port_allocate, h, PortRight.RECEIVE)
        self.tasks[ti] = mach.task_create(self.tasks[0], False)

    # -- the check
    @invariant()
    def kernel_matches_model(self):
        m = self.model
        for ti, h in enumerate(self.tasks):
            names, types = mach.mach_port_names(h)
            got = {n: t & RIGHT_BITS for n, t in zip(names, types)}
            want = {n: int(e.bits) for n, e in m.names[ti].items()}
            assert got == want, (f"task {ti}: names/types {[(hex(n), PortType(t)) for n, t in got.items()]}"
                                 f" != model {m.names[ti]}")
            space = self.kspace(ti)
            for n, e in m.names[ti].items():
                for right in RIGHT_KINDS:
                    bit = MACH_PORT_TYPE(right)
                    if not e.bits & bit:
                        want_refs = 0
                    elif right in (PortRight.SEND, PortRight.DEAD_NAME):
                        want_refs = e.urefs
                    else:
                        want_refs = 1
                    refs = mach.mach_port_get_refs(h, n, right)
                    assert refs == want_refs, (ti, hex(n), right.name, refs, e)
                if e.obj is not None:
                    assert space.lookup(n).object is e.obj.k, (ti, hex(n), e)
                if e.bits & R:
                    status = mach.mach_port_get_attributes(h, n, PortFlavor.RECEIVE_STATUS)
                    assert status.msgcount == len(e.obj.queue), (ti, hex(n), status, e.obj.queue)
                    pset = e.obj.pset
                    want_set = 0 if pset is None else next(
                        sn for sn, se in m.names[ti].items() if se.obj is pset)
                    assert status.pset == want_set, (ti, hex(n), status)
        problems = self.cluster.audit()
        assert problems == [], "\n".join(problems)


def test_P6_1_to_P6_7_random_port_operations_match_reference_model():
    run_state_machine_as_test(
        PortMachine,
        settings=settings(max_examples=60, stateful_step_count=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.filter_too_much]))


# -- regressions found by the model ------------------------------------------------------------

def test_P6_6_extract_right_of_dead_name_gives_MACH_PORT_DEAD(cluster, task):
    """P6.6: a dead name moved or copied as a send right delivers MACH_PORT_DEAD; the
    move consumes one dead-name uref (the copy none).  The Python front end must not
    crash turning the kernel's dead right into a handle."""
    d = mach.mach_port_allocate(task, PortRight.DEAD_NAME)
    mach.mach_port_mod_refs(task, d, PortRight.DEAD_NAME, 2)
    assert mach.mach_port_extract_right(task, d, T.COPY_SEND) == MACH_PORT_DEAD
    assert mach.mach_port_get_refs(task, d, PortRight.DEAD_NAME) == 3
    assert mach.mach_port_extract_right(task, d, T.MOVE_SEND) == MACH_PORT_DEAD
    assert mach.mach_port_get_refs(task, d, PortRight.DEAD_NAME) == 2
    assert mach.mach_port_extract_right(task, d, T.MOVE_SEND_ONCE) == MACH_PORT_DEAD
    assert mach.mach_port_get_refs(task, d, PortRight.DEAD_NAME) == 1


def test_P6_6_dead_name_in_message_is_received_as_MACH_PORT_DEAD(cluster, task):
    """P6.6 through a message: MOVE_SEND of a dead name arrives as MACH_PORT_DEAD."""
    r = mach.mach_port_allocate(task, PortRight.RECEIVE)
    d = mach.mach_port_allocate(task, PortRight.DEAD_NAME)
    mach.mach_msg_send(task, Message(remote_port=r, remote_disp=T.MAKE_SEND, id=7,
                                     body=[PortDesc(d, T.MOVE_SEND)]))
    assert d not in mach.mach_port_names(task)[0]
    got = mach.mach_msg_receive(task, r, MsgOption.RCV_TIMEOUT, 0)
    assert got.body == [PortDesc(MACH_PORT_DEAD, T.PORT_SEND)]


@pytest.mark.parametrize("disp", [T.MOVE_SEND, T.MOVE_SEND_ONCE])
def test_D5_12_dead_names_keep_urefs_when_port_dies(cluster, task, disp):
    """Send urefs become dead-name urefs; a send-once right becomes one dead-name uref."""
    other = cluster.task_create()
    r = mach.mach_port_allocate(task, PortRight.RECEIVE)
    make = T.MAKE_SEND if disp == T.MOVE_SEND else T.MAKE_SEND_ONCE
    h = mach.mach_port_extract_right(task, r, make)
    mach.mach_port_insert_right(other, 0x5000, h, disp)
    if disp == T.MOVE_SEND:
        mach.mach_port_mod_refs(other, 0x5000, PortRight.SEND, 4)
    mach.mach_port_destroy(task, r)
    assert mach.mach_port_type(other, 0x5000) & RIGHT_BITS == PortType.DEAD_NAME
    want = 5 if disp == T.MOVE_SEND else 1
    assert mach.mach_port_get_refs(other, 0x5000, PortRight.DEAD_NAME) == want
