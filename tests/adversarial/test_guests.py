"""Misbehaving guests: each must fail alone, with a Mach error, and leave its node,
its servers and every other program whole."""

from normach import Cluster, mach

from waiting import wait_until


def _mapped_bytes(task_handle) -> int:
    """The bytes of every region of the task's map."""
    from normach import KernError
    total, address = 0, 0
    while True:
        try:
            r = mach.vm_region(task_handle, address)
        except KernError:
            return total
        total += r.size
        address = r.address + r.size


def _space_names(task_handle) -> int:
    names, _types = mach.mach_port_names(task_handle)
    return len(names)


def test_console_server_survives_malformed_requests(adversary):
    """Finding 1: a migrate request whose task right is a send-once or receive right
    killed the console server (and every later printf hung).  Now each bad request is
    answered with MIG_BAD_ARGUMENTS / MIG_BAD_ID, the rights and memory it carried are
    destroyed, and the server serves the next program."""
    with Cluster(nodes=2) as c:
        console = c.console(0)
        before = _space_names(console.task)
        mapped = _mapped_bytes(console.task)
        p = c.spawn(adversary("console_abuse"), node=0)
        status = c.wait(p, timeout=120)
        assert (status, p.reason) == (0, ""), c.output(p)
        assert "PASS" in c.output(p)
        assert console.stats.refused >= 5 and console.stats.bugs == 0
        assert console.thread.is_alive()
        # nothing the abuser sent stays in the server's space or map, and its own console
        # port goes once the program has ended (no-senders)
        wait_until(lambda: _space_names(console.task) == before)
        assert _mapped_bytes(console.task) == mapped
        q = c.spawn(adversary("console_abuse"), node=0)
        assert c.wait(q, timeout=120) == 0, c.output(q)
        assert c.audit() == []


def test_P6_8_message_id_out_of_32_bits_is_refused_not_delivered(adversary):
    """Finding 8: a Python sender's msgh_id of 2**40 was queued and crashed the guest that
    received it (struct.error while writing the header).  msgh_id is a 32-bit integer_t:
    a wider id is MACH_SEND_INVALID_HEADER, the unsigned spelling of 32 bits arrives as
    the signed id, and an inline integer wider than 64 bits is MACH_SEND_INVALID_TYPE."""
    from normach import KernError, KernReturn, Message, MsgType
    with Cluster(nodes=1) as c:
        p = c.spawn(adversary("receive_ids"), node=0)
        wait_until(lambda: "ready" in c.output(p))
        port = mach.mach_port_extract_right(p.task_handle, 0x5103, MsgType.MAKE_SEND)
        me = c.task_create(node=0)
        name = 0x777
        mach.mach_port_insert_right(me, name, port, MsgType.MOVE_SEND)
        for bad_id in (1 << 40, -(1 << 31) - 1, 1 << 32):
            try:
                mach.mach_msg_send(me, Message(remote_port=name, id=bad_id))
                raise AssertionError(f"id {bad_id} accepted")
            except KernError as e:
                assert e.code == KernReturn.MACH_SEND_INVALID_HEADER
        try:
            mach.mach_msg_send(me, Message(remote_port=name, id=5, body=[1 << 64]))
            raise AssertionError("a 65-bit inline integer accepted")
        except KernError as e:
            assert e.code == KernReturn.MACH_SEND_INVALID_TYPE
        mach.mach_msg_send(me, Message(remote_port=name, id=0xFFFFFFFF, body=[(1 << 64) - 1]))
        mach.mach_msg_send(me, Message(remote_port=name, id=0))
        assert c.wait(p, timeout=60) == 0, (p.reason, c.output(p))
        assert c.output(p).split("\n")[1:3] == ["id -1", "id 0"]
        assert c.audit() == []


def test_host_priv_is_a_bootstrap_privilege_not_a_trap_for_everyone(adversary):
    """Finding 2: any guest took host_priv by trap -101 (its node's, and through
    norma_get_special_port every other node's), and could replace special ports.  Now
    the trap answers MACH_PORT_NULL unless the task was started privileged (or is the
    child of such a task), and no name in an ordinary task's space works as host_priv."""
    with Cluster(nodes=2) as c:
        p = c.spawn(adversary("privilege"), args=["no"], node=0)
        assert c.wait(p, timeout=120) == 0, c.output(p)
        q = c.spawn(adversary("privilege"), args=["yes"], node=0, privileged=True)
        assert c.wait(q, timeout=60) == 0, c.output(q)
        assert c.audit() == []


def test_the_privilege_passes_to_children_local_and_remote():
    """A privileged task's children inherit the privilege, like its other bootstrap
    state (§0.1: a remote child inherits what a local child does); others never have it."""
    with Cluster(nodes=2) as c:
        plain = c.task_create(node=0)
        k0 = c.kernel(0)
        parent = next(t for t in k0.tasks if t.itk_self is plain.port)
        assert not parent.privileged
        with k0.lock:
            parent.privileged = True          # as launch(privileged=True) does
        local = mach.task_create(plain, False)
        remote = mach.norma_task_create(plain, False, 1)
        assert next(t for t in k0.tasks if t.itk_self is local.port).privileged
        principal = c.kernel(1).remote.principals.get(tuple(remote.port.proxy[0]))
        assert principal.kobject.privileged
        assert not any(t.privileged for t in c.kernel(1).tasks if t is not principal.kobject)


PRIVILEGED_INSTRUCTIONS = 12        # programs/privileged.c's table, without the division


def test_privileged_instructions_raise_exc_bad_instruction(adversary):
    """Finding 11: a guest wrote cr0 (and ran wrmsr, cli, hlt, in/out, ...) and went on.
    Guest code now runs in ring 3: each privileged instruction is EXC_BAD_INSTRUCTION,
    which kills a program that has no handler."""
    with Cluster(nodes=1) as c:
        programs = [c.spawn(adversary("privileged"), args=["one", i])
                    for i in range(PRIVILEGED_INSTRUCTIONS)]
        for i, p in enumerate(programs):
            c.wait(p, timeout=60)
            assert "survived" not in c.output(p), f"instruction {i} ran"
            assert "EXC_BAD_INSTRUCTION" in p.reason, (i, p.reason)
        assert c.audit() == []


def test_exceptions_in_a_row_each_reach_the_handler_as_themselves(adversary):
    """A handler that skips each faulting instruction sees 13 exceptions in a row, each
    as itself (unicorn took the second for a double fault and stopped reporting after
    the third)."""
    with Cluster(nodes=1) as c:
        p = c.spawn(adversary("privileged"), args=["handled"])
        assert c.wait(p, timeout=60) == 0, (p.reason, c.output(p))
        assert "PASS" in c.output(p)
        assert c.audit() == []
