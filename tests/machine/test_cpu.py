"""The CPU: guest code runs, faults resolve through the pmap, traps, exceptions,
preemption, thread state on running threads, and TLB shootdown on revocation.
"""


import pytest
from snippets import symbol
from waiting import wait_until

from normach import KernError, KernReturn, VMInherit, VMProt, mach
from normach.kern.thread import X86ThreadState64
from normach.mach_types import TaskInfoFlavor, ThreadInfoFlavor

SPIN = r"""
volatile u64 counter;
void _start(void) { for (;;) counter++; }
"""


def test_program_runs_and_its_exit_status_is_reported(cluster, build_snippet):
    prog = build_snippet("sum", r"""
    static int data[50000];
    void _start(void) {
        u64 s = 0;
        for (int i = 0; i < 50000; i++) data[i] = i;
        for (int i = 0; i < 50000; i++) s += data[i];
        EXIT(s == 1249975000UL ? 42 : 1);
    }""")
    p = cluster.spawn(prog)
    assert cluster.wait(p, timeout=30) == 42
    assert p.reason == ""


def test_unresolved_fault_without_handler_kills_task_with_reason(cluster, build_snippet):
    prog = build_snippet("segv", "void _start(void) { *(volatile int *)0x10 = 1; EXIT(0); }")
    p = cluster.spawn(prog)
    assert cluster.wait(p, timeout=30) == 128 + 11
    assert "EXC_BAD_ACCESS" in p.reason and "KERN_INVALID_ADDRESS" in p.reason


def test_write_to_read_only_text_is_protection_failure(cluster, build_snippet):
    prog = build_snippet("rotext", r"""
    void _start(void) { *(volatile char *)&_start = 0; EXIT(0); }""")
    p = cluster.spawn(prog)
    assert cluster.wait(p, timeout=30) == 128 + 11
    assert "KERN_PROTECTION_FAILURE" in p.reason


def test_illegal_instruction_is_exc_bad_instruction(cluster, build_snippet):
    p = cluster.spawn(build_snippet("ud2", 'void _start(void) { __asm__ volatile("ud2"); }'))
    assert cluster.wait(p, timeout=30) == 128 + 4
    assert "EXC_BAD_INSTRUCTION" in p.reason


def test_divide_error_is_exc_arithmetic(cluster, build_snippet):
    p = cluster.spawn(build_snippet("div0", r"""
    volatile int zero;
    void _start(void) { EXIT(10 / zero); }"""))
    assert cluster.wait(p, timeout=30) == 128 + 8
    assert "EXC_ARITHMETIC" in p.reason


def test_busy_loop_is_preempted_and_can_be_terminated(cluster, build_snippet):
    """Two endless loops do not starve a third program; task_terminate stops them."""
    spin = build_snippet("spin", SPIN)
    loops = [cluster.spawn(spin), cluster.spawn(spin)]
    short = cluster.spawn(build_snippet("short", r"""
    void _start(void) { volatile u64 x = 0; for (int i = 0; i < 3000000; i++) x++; EXIT(3); }"""))
    assert cluster.wait(short, timeout=60) == 3
    for p in loops:
        assert p.task.active
        mach.task_terminate(p.task_handle)
        assert cluster.wait(p, timeout=10) == 128 + 9


def _counter(task, address):
    return lambda: int.from_bytes(mach.vm_read(task, address, 8), "little")


def test_T7_3_suspend_stops_a_running_thread_and_resume_continues(cluster, build_snippet):
    """While the thread is suspended a second spinner on the node counts on: the
    suspended one's counter does not move meanwhile."""
    prog = build_snippet("spin2", SPIN)
    p, other = cluster.spawn(prog), cluster.spawn(prog)
    counter = symbol(prog, "counter")
    read, meanwhile = _counter(p.task_handle, counter), _counter(other.task_handle, counter)

    def others_run_a_while():
        start = meanwhile()
        wait_until(lambda: meanwhile() > start + 100_000, "the other spinner")

    wait_until(lambda: read() > 1000)
    th = mach.task_threads(p.task_handle)[0]
    mach.thread_suspend(th)
    frozen = read()
    others_run_a_while()
    assert read() == frozen
    mach.thread_resume(th)
    wait_until(lambda: read() > frozen)
    mach.task_suspend(p.task_handle)
    frozen = read()
    others_run_a_while()
    assert read() == frozen
    mach.task_resume(p.task_handle)
    wait_until(lambda: read() > frozen)


RMW_LOOP = r"""
volatile u64 added, incremented, swapped, wrong, finish;
void _start(void) {
    u64 i = 0;
    for (; !finish; i++) {
        __atomic_fetch_add(&added, 1, __ATOMIC_RELAXED);            /* lock add */
        __asm__ volatile("addq $1, %0" : "+m"(incremented));        /* add [mem] */
        if (__atomic_exchange_n(&swapped, i + 1, __ATOMIC_SEQ_CST) != i)   /* xchg */
            wrong++;
    }
    EXIT(added == i && incremented == i && wrong == 0 ? 0 : 1);
}"""


def test_T7_3_stopping_a_thread_never_repeats_a_read_modify_write(cluster, build_snippet):
    """Suspend, get_state and TLB shootdowns stop a thread hundreds of times in the
    middle of read-modify-write instructions; none runs twice (unicorn would roll a
    CPU stopped from another thread back into an instruction whose store was done)."""
    prog = build_snippet("rmw", RMW_LOOP)
    p = cluster.spawn(prog)
    th = mach.task_threads(p.task_handle)[0]
    for _ in range(300):
        mach.thread_suspend(th)
        mach.thread_resume(th)
        mach.thread_get_state(th, 4)
        mach.task_terminate(mach.task_create(p.task_handle, True))   # copy-on-write: shootdown
    mach.vm_write(p.task_handle, symbol(prog, "finish"), (1).to_bytes(8, "little"))
    assert cluster.wait(p, timeout=60) == 0, p.reason


def test_T7_4_state_of_a_running_thread_is_exact_and_settable(cluster, build_snippet):
    """get_state stops the thread; set_state redirects it (rip, registers)."""
    prog = build_snippet("regs", r"""
    volatile u64 out;
    void target(void) { u64 v; __asm__ volatile("mov %%r12, %0" : "=r"(v)); out = v; EXIT(9); }
    void _start(void) { for (;;) __asm__ volatile("" ::: "memory"); }""")
    p = cluster.spawn(prog)
    th = mach.task_threads(p.task_handle)[0]
    wait_until(lambda: _has_run(th), "the thread to run")
    s = mach.thread_get_state(th, 4)
    assert symbol(prog, "_start") <= s.rip < symbol(prog, "_start") + 64
    s.rip = symbol(prog, "target")
    s.r12 = 0xDEADBEEFCAFEF00D
    s.rsp = (s.rsp & ~0xF) - 8
    mach.thread_set_state(th, 4, s)
    assert cluster.wait(p, timeout=30) == 9


def _has_run(thread) -> bool:
    """The thread has been charged CPU time: it is running its loop."""
    return mach.thread_info(thread, ThreadInfoFlavor.THREAD_BASIC_INFO)["user_time"] > 0


def test_revocation_leaves_no_stale_writable_translation(cluster, build_snippet):
    """vm_protect(READ) on a page a running thread keeps writing: once the call returns,
    not one more write lands; the next write faults (TLB shootdown with acknowledgement)."""
    prog = build_snippet("writer", SPIN)
    p = cluster.spawn(prog)
    counter = symbol(prog, "counter")
    mach.vm_inherit(p.task_handle, counter & ~0xFFF, 4096, VMInherit.SHARE)
    watcher = mach.task_create(p.task_handle, True)       # shares the page, outlives the writer
    read = lambda: int.from_bytes(mach.vm_read(watcher, counter, 8), "little")  # noqa
    wait_until(lambda: read() > 10000)
    mach.vm_protect(p.task_handle, counter & ~0xFFF, 4096, False, VMProt.READ)
    frozen = read()
    assert cluster.wait(p, timeout=30) == 128 + 11     # its next write faulted ...
    assert "KERN_PROTECTION_FAILURE" in p.reason
    assert read() == frozen                            # ... and none landed before
    mach.task_terminate(watcher)


def test_V2_7_copy_on_write_through_the_cpu(cluster, build_snippet):
    """A guest writes a COPY-inherited page after task_create: the child keeps the snapshot."""
    prog = build_snippet("cow", r"""
    volatile u64 value = 1;
    volatile u64 go;
    void _start(void) { while (!go) ; value = 2; for (;;) ; }""")
    p = cluster.spawn(prog)
    value, go = symbol(prog, "value"), symbol(prog, "go")
    child = mach.task_create(p.task_handle, True)
    mach.vm_write(p.task_handle, go, (1).to_bytes(8, "little"))
    wait_until(lambda: mach.vm_read(p.task_handle, value, 8)[0] == 2)
    assert mach.vm_read(child, value, 8)[0] == 1
    mach.task_terminate(child)


def test_V2_6_share_through_the_cpu(cluster, build_snippet):
    """A SHARE-inherited page written by the guest is seen by the child at once."""
    prog = build_snippet("share", SPIN)
    p = cluster.spawn(prog)
    counter = symbol(prog, "counter")
    mach.vm_inherit(p.task_handle, counter & ~0xFFF, 4096, VMInherit.SHARE)
    child = mach.task_create(p.task_handle, True)
    first = int.from_bytes(mach.vm_read(child, counter, 8), "little")
    wait_until(lambda: int.from_bytes(mach.vm_read(child, counter, 8), "little") > first + 1000)
    mach.task_terminate(child)


def test_thread_moved_by_its_state_gives_the_same_result(cluster, build_snippet):
    """Stop a checksum mid-run, copy its state into a new thread of a task sharing its
    memory, resume there: the same checksum as an uninterrupted run."""
    prog = build_snippet("checksum", r"""
    volatile u64 result, done;
    static unsigned char buf[1 << 16];
    void _start(void) {
        u64 h = 1469598103934665603UL;
        for (int i = 0; i < (1 << 16); i++) buf[i] = (unsigned char)(i * 7 + 3);
        for (int round = 0; round < 600; round++)
            for (int i = 0; i < (1 << 16); i++) { h ^= buf[i] + round; h *= 1099511628211UL; }
        result = h; done = 1;
        for (;;) ;
    }""")
    res, done = symbol(prog, "result"), symbol(prog, "done")

    def finished(task):
        return mach.vm_read(task, done, 8)[0] == 1

    ref = cluster.spawn(prog)
    wait_until(lambda: finished(ref.task_handle), timeout=120)
    expected = mach.vm_read(ref.task_handle, res, 8)
    mach.task_terminate(ref.task_handle)

    p = cluster.spawn(prog)
    th = mach.task_threads(p.task_handle)[0]
    wait_until(lambda: _has_run(th), "the thread to run")
    mach.thread_suspend(th)
    assert not finished(p.task_handle)
    gp, fp = mach.thread_get_state(th, 4), mach.thread_get_state(th, 5)
    r = mach.vm_region(p.task_handle, 0)
    addr = 0
    while True:                         # share the whole address space with the new task
        try:
            r = mach.vm_region(p.task_handle, addr)
        except KernError:
            break
        mach.vm_inherit(p.task_handle, r.address, r.size, VMInherit.SHARE)
        addr = r.address + r.size
    other = mach.task_create(p.task_handle, True)
    mach.task_terminate(p.task_handle)
    moved = mach.thread_create(other)
    mach.thread_set_state(moved, 4, gp)
    mach.thread_set_state(moved, 5, fp)
    mach.thread_resume(moved)
    wait_until(lambda: finished(other), timeout=120)
    assert mach.vm_read(other, res, 8) == expected
    mach.task_terminate(other)


def test_thread_state_round_trips_through_the_cpu(cluster, build_snippet):
    p = cluster.spawn(build_snippet("idle", SPIN))
    th = mach.task_threads(p.task_handle)[0]
    mach.thread_suspend(th)
    s = mach.thread_get_state(th, 4)
    words = s.to_words()
    s2 = X86ThreadState64.from_words(words)
    s2.rax, s2.r15, s2.fs_base = 1, 2 ** 64 - 1, 0x1234000
    mach.thread_set_state(th, 4, s2)
    got = mach.thread_get_state(th, 4)
    assert (got.rax, got.r15, got.fs_base, got.rip) == (1, 2 ** 64 - 1, 0x1234000, s.rip)
    fp = mach.thread_get_state(th, 5)
    fp.xmm[3] = (1 << 127) | 5
    mach.thread_set_state(th, 5, fp)
    assert mach.thread_get_state(th, 5).xmm[3] == (1 << 127) | 5


def test_terminated_thread_state_calls_are_kern_terminated(cluster, build_snippet):
    p = cluster.spawn(build_snippet("idle2", SPIN))
    th = mach.task_threads(p.task_handle)[0]
    mach.thread_terminate(th)
    with pytest.raises(KernError) as e:
        mach.thread_get_state(th, 4)
    assert e.value.code == KernReturn.KERN_TERMINATED


def test_guest_memory_larger_than_physical_memory_pages_out_and_back(build_snippet):
    """A guest touches 4x more pages than the node has frames: pageout revokes its
    translations (shootdown), page-in brings the data back; every byte checks."""
    from normach import Cluster
    prog = build_snippet("bigmem", r"""
    #define PAGES 512
    static volatile unsigned char area[PAGES * 4096];
    void _start(void) {
        for (int round = 0; round < 2; round++)
            for (int p = 0; p < PAGES; p++)
                for (int i = 0; i < 4096; i += 512)
                    area[p * 4096 + i] = (unsigned char)(p * 31 + i / 512 + round);
        for (int p = 0; p < PAGES; p++)
            for (int i = 0; i < 4096; i += 512)
                if (area[p * 4096 + i] != (unsigned char)(p * 31 + i / 512 + 1))
                    EXIT(1);
        EXIT(0);
    }""")
    with Cluster(nodes=1, phys_bytes=128 * 4096) as c:
        p = c.spawn(prog)
        assert c.wait(p, timeout=120) == 0, p.reason
        stats = c.kernels[0].stats
        assert stats.pageouts > 0 and stats.pageins > 0
        assert c.audit() == []


def test_a_thread_running_without_traps_is_charged_its_time_as_it_runs(cluster, build_snippet):
    """thread_info and task_info count the slice in progress: a loop that never traps
    (and is never preempted, being alone) shows user time growing."""
    prog = build_snippet("spin3", SPIN)
    p = cluster.spawn(prog)
    th = mach.task_threads(p.task_handle)[0]
    read = _counter(p.task_handle, symbol(prog, "counter"))
    wait_until(lambda: _has_run(th), "user time")
    first = mach.thread_info(th, ThreadInfoFlavor.THREAD_BASIC_INFO)["user_time"]
    progress = read()
    wait_until(lambda: read() > progress + 1_000_000, "a million more iterations")
    later = mach.thread_info(th, ThreadInfoFlavor.THREAD_BASIC_INFO)["user_time"]
    assert later > first
    times = mach.task_info(p.task_handle, TaskInfoFlavor.TASK_THREAD_TIMES_INFO)
    assert times["user_time"] >= later
    mach.task_terminate(p.task_handle)
