"""Crafted executables (finding 4 and 11): the loader refuses what is not a program and
never spends more than the program can pay for."""

import resource
import struct

import pytest

from normach import Cluster, KernError, KernReturn

K = KernReturn


def _phdrs(image: bytes):
    """[(offset of the header, p_type, p_offset, p_vaddr, p_filesz, p_memsz)]."""
    phoff, = struct.unpack_from("<Q", image, 32)
    phentsize, phnum = struct.unpack_from("<HH", image, 54)
    out = []
    for i in range(phnum):
        at = phoff + i * phentsize
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz = \
            struct.unpack_from("<IIQQQQQ", image, at)
        out.append((at, p_type, p_offset, p_vaddr, p_filesz, p_memsz))
    return out


def _patched(image: bytes, which: int, **fields) -> bytes:
    """`image` with the which-th PT_LOAD header's fields changed (p_offset, p_filesz, p_memsz)."""
    loads = [h for h in _phdrs(image) if h[1] == 1]
    at = loads[which][0]
    out = bytearray(image)
    names = {"p_offset": 8, "p_filesz": 32, "p_memsz": 40}
    for name, value in fields.items():
        struct.pack_into("<Q", out, at + names[name], value)
    return bytes(out)


@pytest.fixture(scope="module")
def hello(adversary):
    from normach.guest.build import compile_program
    import pathlib
    import tempfile
    src = pathlib.Path(__file__).resolve().parents[2] / "guest" / "tests" / "hello.c"
    out = pathlib.Path(tempfile.mkdtemp()) / "hello"
    compile_program(str(out), [str(src)])
    return out.read_bytes()


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _spawn_image(c, tmp_path, image: bytes, name="crafted"):
    path = tmp_path / name
    path.write_bytes(image)
    return c.spawn(str(path))


def test_a_segment_of_a_terabyte_is_refused_without_a_per_page_loop(hello, tmp_path):
    """Finding 4: a 1 TiB bss froze the node for 23 s under the kernel lock (a loop per
    page) and grew it to 2.6 GB.  The map is built per segment: 1 TiB is over the task's
    VM limit and refused at once; the node's other programs never waited."""
    image = _patched(hello, len([h for h in _phdrs(hello) if h[1] == 1]) - 1, p_memsz=1 << 40)
    before = _rss_mib()
    with Cluster(nodes=1) as c:
        with pytest.raises(KernError) as e:
            _spawn_image(c, tmp_path, image)
        assert e.value.code in (K.KERN_NO_SPACE, K.KERN_RESOURCE_SHORTAGE)
        p = c.spawn(_write(tmp_path, hello))     # the node serves the next program
        assert c.wait(p, timeout=60) == 0
        assert c.audit() == []
    assert _rss_mib() - before < 64


def test_a_huge_bss_under_the_limit_costs_nothing_until_touched(hello, tmp_path):
    """64 GiB of bss is one lazily filled map entry: the program runs, the node holds
    only the pages it touched."""
    loads = [h for h in _phdrs(hello) if h[1] == 1]
    image = _patched(hello, len(loads) - 1, p_memsz=64 << 30)
    before = _rss_mib()
    with Cluster(nodes=1) as c:
        p = _spawn_image(c, tmp_path, image)
        assert c.wait(p, timeout=60) == 0, (p.reason, c.output(p))
        assert c.audit() == []
    assert _rss_mib() - before < 64


def test_a_segment_whose_bytes_lie_past_the_end_of_the_file_is_refused(hello, tmp_path):
    """Finding 11: a segment whose p_offset lay past the end of the file loaded as zeros.
    It is not a program: KERN_INVALID_ARGUMENT."""
    with Cluster(nodes=1) as c:
        for fields in ({"p_offset": len(hello) + 4096},
                       {"p_filesz": len(hello) * 2},
                       {"p_offset": (1 << 64) - 8}):
            image = _patched(hello, 0, **fields)
            with pytest.raises(KernError) as e:
                _spawn_image(c, tmp_path, image)
            assert e.value.code == K.KERN_INVALID_ARGUMENT, fields
        assert c.audit() == []


def _write(tmp_path, image: bytes) -> str:
    path = tmp_path / "plain"
    path.write_bytes(image)
    return str(path)
