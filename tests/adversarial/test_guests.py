"""Misbehaving guests: each must fail alone, with a Mach error, and leave its node,
its servers and every other program whole."""

from normach import Cluster, mach


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
        # nothing the abuser sent stays in the server's space or map: only its own
        # console port was added (one receive right per program)
        assert _space_names(console.task) == before + 1
        assert _mapped_bytes(console.task) == mapped
        q = c.spawn(adversary("console_abuse"), node=0)
        assert c.wait(q, timeout=120) == 0, c.output(q)
        assert c.audit() == []
