"""The adversarial suite: guests, peers and callers that misbehave on purpose.

Each test plays one adversary (a guest program under programs/, a raw network
client, a fuzzer, a killer of node processes) and asserts what the system owes
everyone else: every node and server still serves, no right or memory is left
behind, and the kernel invariants hold (audit)."""

import pathlib

import pytest

PROGRAMS = pathlib.Path(__file__).parent / "programs"


@pytest.fixture(scope="session")
def adversary(tmp_path_factory):
    """adversary(name) -> path of the built guest program programs/<name>.c."""
    from normach.guest.build import compile_program
    out = tmp_path_factory.mktemp("adversaries")
    cache = {}

    def get(name):
        if name not in cache:
            exe = str(out / name)
            compile_program(exe, [str(PROGRAMS / f"{name}.c")])
            cache[name] = exe
        return cache[name]
    return get
