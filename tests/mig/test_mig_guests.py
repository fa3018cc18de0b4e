"""MIG-built guests (docs/mig.md): a server and a client from one .defs talk on one
node and across nodes; a guest calls the kernel through stubs generated from
kern/routines.py, on its own node and on another."""

import pathlib

import pytest

from normach import Cluster, mach

HERE = pathlib.Path(__file__).parent / "programs"
GUEST_TESTS = HERE.parent.parent.parent / "guest" / "tests"


def _build(tmp, program: str, interfaces, defines=(), sides=("User",)) -> str:
    """Compile the .defs `interfaces` (paths) with `defines` into tmp/gen and build the
    guest `program` (in programs/) with their `sides` ("User", "Server") linked in."""
    from normach.guest.build import compile_interface, compile_program
    gen = tmp / "gen"
    sources = [str(HERE / program)]
    for defs in interfaces:
        header = "mach_mig.h" if defs.name == "mach.defs" else None     # not <mach.h>
        files = compile_interface(defs, gen, defines, header=header)
        sources += [str(f) for f in files if f.name.endswith(tuple(f"{s}.c" for s in sides))]
    exe = str(tmp / program[:-2])
    compile_program(exe, sources, ["-I", str(gen), "-I", str(GUEST_TESTS)])
    return exe


@pytest.fixture(scope="module")
def calc(tmp_path_factory):
    tmp, defs = tmp_path_factory.mktemp("calc"), [HERE / "calc.defs"]
    return {"server": _build(tmp, "calc_server.c", defs, sides=("Server",)),
            "client": _build(tmp, "calc_client.c", defs)}


def _registered_port(c, program):
    """The send right `program` registers in its slot 0 once it is ready."""
    while True:
        assert program.task.active, c.output(program)
        port = mach.mach_ports_lookup(program.task_handle)[0]
        if port:
            return port


def _serve_and_call(c, calc, server_node, client_node):
    server = c.spawn(calc["server"], node=server_node)
    client = c.spawn(calc["client"], node=client_node)
    mach.mach_ports_register(client.task_handle, [_registered_port(c, server)])
    status = c.wait(client, timeout=300)
    assert (status, client.reason) == (0, ""), c.output(client)
    assert c.wait(server, timeout=120) == 0, c.output(server)
    assert "PASS" in c.output(client)
    assert "server: done" in c.output(server)


def test_a_mig_server_and_client_talk_on_one_node(calc):
    with Cluster(nodes=1) as c:
        _serve_and_call(c, calc, 0, 0)
        assert c.audit() == []


def test_a_mig_server_and_client_talk_across_nodes(calc):
    with Cluster(nodes=2) as c:
        _serve_and_call(c, calc, 0, 1)
        assert c.audit() == []


@pytest.fixture(scope="module")
def kernel_defs(tmp_path_factory):
    from normach.kern.mig_interface import write_defs
    d = tmp_path_factory.mktemp("kernel_defs")
    write_defs(d)
    return d


def test_a_mig_guest_calls_the_kernel_interfaces_generated_from_the_routine_table(
        tmp_path, kernel_defs):
    exe = _build(tmp_path, "mig_kernel.c",
                 [kernel_defs / f"{s}.defs" for s in ("mach", "mach_port", "mach_host", "clock",
                                                      "norma")], ["USERPREFIX=mig_"])
    from normach.ipc.ipc_kernel import ipc_state
    with Cluster(nodes=2) as c:
        calls = [ipc_state(c.kernel(n)).stats.kobject_calls for n in (0, 1)]
        p = c.spawn(exe, args=["1"], node=0)
        status = c.wait(p, timeout=300)
        assert (status, p.reason) == (0, ""), c.output(p)
        assert "PASS" in c.output(p)
        after = [ipc_state(c.kernel(n)).stats.kobject_calls for n in (0, 1)]
        assert after[0] - calls[0] >= 20          # messages to this node's kernel objects
        assert after[1] - calls[1] >= 6           # ... and to the child's, on node 1
        assert c.audit() == []


def test_a_guest_serves_a_kernel_interface_built_from_its_defs(tmp_path, kernel_defs):
    exe = _build(tmp_path, "mig_clock_server.c", [kernel_defs / "clock.defs"],
                 ["USERPREFIX=mig_", "SERVERPREFIX=srv_"], sides=("User", "Server"))
    with Cluster(nodes=1) as c:
        p = c.spawn(exe)
        assert (c.wait(p, timeout=300), p.reason) == (0, ""), c.output(p)
        assert "PASS" in c.output(p)
