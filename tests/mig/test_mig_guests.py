"""MIG-built guests (docs/mig.md): a server and a client from one .defs talk on one
node and across nodes; a guest calls the kernel through stubs generated from
kern/routines.py, on its own node and on another."""

import pathlib

import pytest

from normach import Cluster, mach

HERE = pathlib.Path(__file__).parent / "programs"
GUEST_TESTS = HERE.parent.parent.parent / "guest" / "tests"


def _build(tmp, defs, sources, defines=()):
    from normach.guest.build import compile_program
    from normach.guest.build import compile_interface
    out = tmp / "gen"
    compile_interface(HERE / defs, out, defines)
    stem = defs[:-5]
    exes = {}
    for name, src, side in sources:
        exe = str(tmp / name)
        compile_program(exe, [str(HERE / src), str(out / f"{stem}{side}.c")],
                        ["-I", str(out), "-I", str(GUEST_TESTS)])
        exes[name] = exe
    return exes


@pytest.fixture(scope="module")
def calc(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("calc"), "calc.defs",
                  [("server", "calc_server.c", "Server"), ("client", "calc_client.c", "User")])


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


def _build_kernel_client(tmp, kernel_defs, program, subsystems, defines):
    from normach.guest.build import compile_program
    from normach.guest.build import compile_interface
    gen = tmp / "gen"
    sources = [str(HERE / program)]
    for sub in subsystems:
        header = "mach_mig.h" if sub == "mach" else None      # not <mach.h>
        files = compile_interface(kernel_defs / f"{sub}.defs", gen, defines, header=header)
        sources += [str(f) for f in files if f.suffix == ".c"
                    and (f.name.endswith("User.c") or "SERVERPREFIX=srv_" in defines)]
    exe = str(tmp / program[:-2])
    compile_program(exe, sources, ["-I", str(gen), "-I", str(GUEST_TESTS)])
    return exe


def test_a_mig_guest_calls_the_kernel_interfaces_generated_from_the_routine_table(
        tmp_path, kernel_defs):
    exe = _build_kernel_client(tmp_path, kernel_defs, "mig_kernel.c",
                               ["mach", "mach_port", "mach_host", "clock", "norma"],
                               ["USERPREFIX=mig_"])
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
    exe = _build_kernel_client(tmp_path, kernel_defs, "mig_clock_server.c", ["clock"],
                               ["USERPREFIX=mig_", "SERVERPREFIX=srv_"])
    with Cluster(nodes=1) as c:
        p = c.spawn(exe)
        assert (c.wait(p, timeout=300), p.reason) == (0, ""), c.output(p)
        assert "PASS" in c.output(p)
