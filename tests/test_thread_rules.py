"""Thread rules T7.1-T7.5 and the §3.4 rows for thread_* (spec §3.3 E3.1, §3.4, §7.1)."""

import dataclasses

import pytest
from spin import spin_state

from normach import KernError, KernReturn, ThreadStateFlavor, mach
from normach.kern.thread import X86DebugState64, X86FloatState64, X86ThreadState64
from normach.mach_types import ThreadRunState

K = KernReturn
F = ThreadStateFlavor
U64 = (1 << 64) - 1
U128 = (1 << 128) - 1
GPRS = [f.name for f in dataclasses.fields(X86ThreadState64)]
NWORDS_THREAD = len(GPRS)            # 23 64-bit words
NWORDS_FLOAT = 64                    # the FXSAVE area: 512 bytes
U80 = (1 << 80) - 1


def code_of(fn, *args):
    with pytest.raises(KernError) as ei:
        fn(*args)
    return ei.value.code


def info(th):
    return mach.thread_info(th, 3)


def sample_thread_state(seed=0) -> X86ThreadState64:
    vals = [((i + 1 + seed) * 0x0123_4567_89AB_CDEF) & U64 for i in range(NWORDS_THREAD)]
    return X86ThreadState64(**dict(zip(GPRS, vals)))


SPIN_FIXED = ("rip", "rsp", "rflags", "cs", "fs", "gs")     # what spin_state sets up


def sample_spin_state(task, seed=0) -> X86ThreadState64:
    """A state that really runs (`jmp .` in `task`), sample values in every other register."""
    regs = {n: v for n, v in dataclasses.asdict(sample_thread_state(seed)).items()
            if n not in SPIN_FIXED}
    return spin_state(task, **regs)


def sample_float_state() -> X86FloatState64:
    xmm = [((i + 1) * 0x0011_2233_4455_6677_8899_AABB_CCDD_EEFF) & U128 for i in range(16)]
    return X86FloatState64(xmm=xmm, mxcsr=0x1F80 | 0x3F)


def sample_x87_state() -> X86FloatState64:
    """Every FXSAVE field set: TOP 5, st0-st2 in use (physical 5, 6, 7), all masked."""
    st = [((i + 3) * 0x1234_5678_9ABC_DEF0_1357) & U80 for i in range(8)]
    return dataclasses.replace(sample_float_state(), fcw=0x27F, fsw=5 << 11 | 0x20, ftw=0xE0,
                               fop=0x5E9, fip=0x4000_1234, fdp=0x7FFF_0000_1000, st=st)


@pytest.fixture
def thread(task):
    return mach.thread_create(task)


@pytest.fixture
def dead_thread(task):
    th = mach.thread_create(task)
    mach.thread_terminate(th)
    return th


# -- T7.1 thread_create ---------------------------------------------------------------------

def test_T7_1_thread_created_suspended(thread):
    i = info(thread)
    assert i["suspend_count"] == 1
    assert i["run_state"] == ThreadRunState.STOPPED


def test_T7_1_thread_runs_after_resume(task, thread):
    mach.thread_set_state(thread, F.x86_THREAD_STATE64, spin_state(task))
    mach.thread_resume(thread)
    i = info(thread)
    assert i["suspend_count"] == 0
    assert i["run_state"] == ThreadRunState.RUNNING


def test_T7_1_thread_joins_task(task):
    assert mach.task_info(task, 1)["thread_count"] == 0
    th = mach.thread_create(task)
    assert mach.task_info(task, 1)["thread_count"] == 1
    assert [h.port for h in mach.task_threads(task)] == [th.port]


def test_T7_1_threads_are_distinct(task):
    a, b = mach.thread_create(task), mach.thread_create(task)
    assert a.port is not b.port
    mach.thread_resume(a)
    assert info(b)["run_state"] == ThreadRunState.STOPPED


def test_T7_1_thread_create_in_suspended_task_not_run_by_thread_resume(task):
    mach.task_suspend(task)
    th = mach.thread_create(task)
    mach.thread_resume(th)
    assert info(th)["run_state"] == ThreadRunState.STOPPED
    mach.task_resume(task)
    assert info(th)["run_state"] == ThreadRunState.RUNNING


def test_T7_1_thread_create_on_terminated_task_is_invalid_argument(cluster):
    t = cluster.task_create()
    mach.task_terminate(t)
    assert code_of(mach.thread_create, t) == K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("target", [None, 0, 5, "task"])
def test_T7_1_thread_create_non_handle_is_send_invalid_dest(target):
    assert code_of(mach.thread_create, target) == K.MACH_SEND_INVALID_DEST


def test_T7_1_thread_create_on_thread_handle_is_invalid_argument(thread):
    assert code_of(mach.thread_create, thread) == K.KERN_INVALID_ARGUMENT


def test_T7_1_thread_limit_is_resource_shortage(task):
    mach.task_set_limits(task, max_threads=2)
    a = mach.thread_create(task)
    mach.thread_create(task)
    assert code_of(mach.thread_create, task) == K.KERN_RESOURCE_SHORTAGE
    assert mach.task_info(task, 1)["thread_count"] == 2
    mach.thread_terminate(a)                   # a terminated thread no longer counts
    mach.thread_create(task)
    assert code_of(mach.thread_create, task) == K.KERN_RESOURCE_SHORTAGE


def test_T7_1_thread_limit_zero(task):
    mach.task_set_limits(task, max_threads=0)
    assert code_of(mach.thread_create, task) == K.KERN_RESOURCE_SHORTAGE


@pytest.mark.parametrize("inherit_memory", [True, False])
def test_T7_1_thread_limit_inherited_by_child(task, inherit_memory):
    mach.task_set_limits(task, max_threads=1)
    child = mach.task_create(task, inherit_memory)
    mach.thread_create(child)
    assert code_of(mach.thread_create, child) == K.KERN_RESOURCE_SHORTAGE
    assert mach.task_info(child, 1)["threads_max"] == 1


def test_T7_1_thread_limit_counts_per_task(task):
    mach.task_set_limits(task, max_threads=1)
    child = mach.task_create(task, False)
    mach.thread_create(task)
    mach.thread_create(child)                   # the child has its own count


def test_T7_1_thread_limit_inherited_by_grandchild(task):
    mach.task_set_limits(task, max_threads=0)
    gc = mach.task_create(mach.task_create(task, False), False)
    assert code_of(mach.thread_create, gc) == K.KERN_RESOURCE_SHORTAGE


# -- T7.3 thread_suspend / thread_resume ------------------------------------------------------

def test_T7_3_resume_from_zero_is_failure(thread):
    mach.thread_resume(thread)
    assert code_of(mach.thread_resume, thread) == K.KERN_FAILURE
    assert info(thread)["suspend_count"] == 0
    assert info(thread)["run_state"] == ThreadRunState.RUNNING


def test_T7_3_suspend_counts_nest(thread):
    mach.thread_resume(thread)
    for n in range(1, 4):
        mach.thread_suspend(thread)
        assert info(thread)["suspend_count"] == n
        assert info(thread)["run_state"] == ThreadRunState.STOPPED
    for n in (2, 1):
        mach.thread_resume(thread)
        assert info(thread)["suspend_count"] == n
        assert info(thread)["run_state"] == ThreadRunState.STOPPED
    mach.thread_resume(thread)
    assert info(thread)["run_state"] == ThreadRunState.RUNNING


def test_T7_3_suspend_of_created_thread_counts_from_one(thread):
    mach.thread_suspend(thread)
    assert info(thread)["suspend_count"] == 2
    mach.thread_resume(thread)
    assert info(thread)["run_state"] == ThreadRunState.STOPPED
    mach.thread_resume(thread)
    assert info(thread)["run_state"] == ThreadRunState.RUNNING


def test_T7_3_thread_and_task_suspension_combine(task, thread):
    mach.thread_resume(thread)
    mach.thread_suspend(thread)
    mach.task_suspend(task)
    mach.thread_resume(thread)
    assert info(thread)["run_state"] == ThreadRunState.STOPPED     # task still suspended
    mach.thread_suspend(thread)
    mach.task_resume(task)
    assert info(thread)["run_state"] == ThreadRunState.STOPPED     # thread still suspended
    mach.thread_resume(thread)
    assert info(thread)["run_state"] == ThreadRunState.RUNNING


@pytest.mark.parametrize("target", [None, 0, 5, "thread"])
def test_T7_3_non_handle_is_send_invalid_dest(target):
    assert code_of(mach.thread_suspend, target) == K.MACH_SEND_INVALID_DEST
    assert code_of(mach.thread_resume, target) == K.MACH_SEND_INVALID_DEST


def test_T7_3_task_handle_is_invalid_argument(task):
    assert code_of(mach.thread_suspend, task) == K.KERN_INVALID_ARGUMENT
    assert code_of(mach.thread_resume, task) == K.KERN_INVALID_ARGUMENT
    assert code_of(mach.thread_get_state, task, F.x86_THREAD_STATE64) == K.KERN_INVALID_ARGUMENT
    assert code_of(mach.thread_terminate, task) == K.KERN_INVALID_ARGUMENT
    assert code_of(mach.thread_info, task, 3) == K.KERN_INVALID_ARGUMENT


# -- T7.4 thread_get_state / thread_set_state ---------------------------------------------------

def test_T7_4_thread_state_round_trip_dataclass(thread):
    st = sample_thread_state()
    mach.thread_set_state(thread, F.x86_THREAD_STATE64, st)
    got = mach.thread_get_state(thread, F.x86_THREAD_STATE64)
    assert isinstance(got, X86ThreadState64)
    assert got == st


def test_T7_4_thread_state_round_trip_64_bit_extremes(thread):
    for fill in (0, U64, 1 << 63, (1 << 63) - 1):
        st = X86ThreadState64(**{n: fill for n in GPRS})
        mach.thread_set_state(thread, F.x86_THREAD_STATE64, st)
        assert mach.thread_get_state(thread, F.x86_THREAD_STATE64) == st


def test_T7_4_thread_state_round_trip_dict(thread):
    d = {n: (i * 0x1111_1111_1111_1111) & U64 for i, n in enumerate(GPRS)}
    mach.thread_set_state(thread, F.x86_THREAD_STATE64, d)
    assert dataclasses.asdict(mach.thread_get_state(thread, F.x86_THREAD_STATE64)) == d


def test_T7_4_thread_state_round_trip_word_list(thread):
    words = [U64 - i for i in range(NWORDS_THREAD)]
    mach.thread_set_state(thread, F.x86_THREAD_STATE64, words)
    got = mach.thread_get_state(thread, F.x86_THREAD_STATE64)
    assert got.to_words() == words
    assert got.rax == U64 and got.gs_base == U64 - (NWORDS_THREAD - 1)


def test_T7_4_thread_state_word_tuple(thread):
    words = tuple(range(NWORDS_THREAD))
    mach.thread_set_state(thread, F.x86_THREAD_STATE64, words)
    assert mach.thread_get_state(thread, F.x86_THREAD_STATE64).to_words() == list(words)


def test_T7_4_float_state_round_trip_dataclass(thread):
    st = sample_float_state()
    mach.thread_set_state(thread, F.x86_FLOAT_STATE64, st)
    got = mach.thread_get_state(thread, F.x86_FLOAT_STATE64)
    assert isinstance(got, X86FloatState64)
    assert got.xmm == st.xmm
    assert got.mxcsr == st.mxcsr


def test_T7_4_float_state_full_128_bit_xmm(thread):
    xmm = [U128, 1 << 127, 1 << 64, U64, 0, 1, (1 << 64) | 1, U128 - 1] * 2
    mach.thread_set_state(thread, F.x86_FLOAT_STATE64, X86FloatState64(xmm=xmm, mxcsr=0))
    got = mach.thread_get_state(thread, F.x86_FLOAT_STATE64)
    assert got.xmm == xmm
    assert got.mxcsr == 0


def test_T7_4_float_state_round_trip_dict(thread):
    st = sample_x87_state()
    mach.thread_set_state(thread, F.x86_FLOAT_STATE64, dataclasses.asdict(st))
    assert mach.thread_get_state(thread, F.x86_FLOAT_STATE64) == st


def test_T7_4_float_state_words_are_the_fxsave_area(thread):
    """Word 0: fcw, fsw, ftw, fop; 1: fip; 2: fdp; 3: mxcsr and MXCSR_MASK; 4-19: st0-st7
    in 16-byte slots; 20-51: xmm0-15 as lo/hi words; 52-63 reserved (Intel's layout)."""
    words = [0] * NWORDS_FLOAT
    words[0] = 0x37F | 0x0042 << 16 | 0x81 << 32 | 0x123 << 48
    words[1], words[2], words[3] = 0x1111, 0x2222, 0x1F80
    for i in range(8):
        words[4 + 2 * i], words[5 + 2 * i] = i, 0x3FFF - i      # mantissa, sign+exponent
    for i in range(16):
        words[20 + 2 * i], words[21 + 2 * i] = i, U64 - i       # lo, hi
    mach.thread_set_state(thread, F.x86_FLOAT_STATE64, words)
    got = mach.thread_get_state(thread, F.x86_FLOAT_STATE64)
    assert (got.fcw, got.fsw, got.ftw, got.fop, got.fip, got.fdp, got.mxcsr) == \
        (0x37F, 0x42, 0x81, 0x123, 0x1111, 0x2222, 0x1F80)
    assert got.st == [((0x3FFF - i) << 64) | i for i in range(8)]
    assert got.xmm == [((U64 - i) << 64) | i for i in range(16)]
    assert got.to_words()[:3] == words[:3] and got.to_words()[4:] == words[4:]
    assert got.to_words()[3] == 0x1F80 | 0xFFFF << 32           # MXCSR_MASK, as FXSAVE writes


def test_T7_4_float_state_reserved_bits_are_ignored_as_fxrstor_does(thread):
    words = X86FloatState64().to_words()
    words[0] |= 0xFF << 40 | 0x1F << 59                # reserved byte, fop bits 11-15
    words[5] |= 0xABCD << 16                           # the 6 reserved bytes of st0's slot
    words[3] = 0xFFFF_FFFF                             # mxcsr bits above MXCSR_MASK, mask
    words[60] = U64                                    # the reserved tail
    mach.thread_set_state(thread, F.x86_FLOAT_STATE64, words)
    got = mach.thread_get_state(thread, F.x86_FLOAT_STATE64)
    assert (got.fop, got.st[0], got.mxcsr) == (0, 0, 0xFFFF)
    assert got.to_words()[60] == 0


def test_T7_4_a_new_thread_has_the_float_state_of_fninit(thread):
    got = mach.thread_get_state(thread, F.x86_FLOAT_STATE64)
    assert (got.fcw, got.fsw, got.ftw, got.mxcsr) == (0x37F, 0, 0, 0x1F80)


@pytest.mark.parametrize("field,value", [("fcw", 1 << 16), ("ftw", 1 << 8), ("fip", 1 << 64),
                                         ("mxcsr", 1 << 32), ("st", [1 << 80] + [0] * 7),
                                         ("st", [0] * 7), ("fsw", -1)])
def test_T7_4_float_field_wider_than_its_register_is_invalid_argument(thread, field, value):
    bad = dataclasses.replace(sample_x87_state(), **{field: value})
    assert code_of(mach.thread_set_state, thread, F.x86_FLOAT_STATE64, bad) == \
        K.KERN_INVALID_ARGUMENT


def test_T7_4_x87_and_debug_state_kept_while_the_thread_runs(task, thread):
    """Loaded into the CPU, run (`jmp .` uses neither), saved back: unchanged."""
    mach.thread_set_state(thread, F.x86_THREAD_STATE64, sample_spin_state(task))
    mach.thread_set_state(thread, F.x86_FLOAT_STATE64, sample_x87_state())
    ds = X86DebugState64(dr0=0x1000, dr1=0x2000, dr2=0x3000, dr3=0x4000, dr6=0x4000_0FF0,
                         dr7=0x0010_0405)                 # L0 and L1: write watchpoint, execute
    mach.thread_set_state(thread, F.x86_DEBUG_STATE64, ds)
    mach.thread_resume(thread)
    mach.thread_suspend(thread)
    mach.thread_resume(thread)
    mach.thread_suspend(thread)
    assert mach.thread_get_state(thread, F.x86_FLOAT_STATE64) == sample_x87_state()
    assert mach.thread_get_state(thread, F.x86_DEBUG_STATE64) == ds


def test_T7_4_flavors_are_independent(thread):
    ts, fs = sample_thread_state(), sample_float_state()
    mach.thread_set_state(thread, F.x86_THREAD_STATE64, ts)
    mach.thread_set_state(thread, F.x86_FLOAT_STATE64, fs)
    assert mach.thread_get_state(thread, F.x86_THREAD_STATE64) == ts
    mach.thread_set_state(thread, F.x86_THREAD_STATE64, sample_thread_state(7))
    assert mach.thread_get_state(thread, F.x86_FLOAT_STATE64).xmm == fs.xmm


def test_T7_4_state_is_per_thread(task):
    a, b = mach.thread_create(task), mach.thread_create(task)
    mach.thread_set_state(a, F.x86_THREAD_STATE64, sample_thread_state(1))
    mach.thread_set_state(b, F.x86_THREAD_STATE64, sample_thread_state(2))
    assert mach.thread_get_state(a, F.x86_THREAD_STATE64) == sample_thread_state(1)
    assert mach.thread_get_state(b, F.x86_THREAD_STATE64) == sample_thread_state(2)


def test_T7_4_get_returns_a_copy(thread):
    mach.thread_set_state(thread, F.x86_FLOAT_STATE64, sample_float_state())
    got = mach.thread_get_state(thread, F.x86_FLOAT_STATE64)
    got.xmm[0] = 0xDEAD
    got.mxcsr = 0
    again = mach.thread_get_state(thread, F.x86_FLOAT_STATE64)
    assert again.xmm == sample_float_state().xmm and again.mxcsr == sample_float_state().mxcsr


def test_T7_4_set_copies_the_callers_state(thread):
    st = sample_float_state()
    mach.thread_set_state(thread, F.x86_FLOAT_STATE64, st)
    st.xmm[3] = 0
    ts = sample_thread_state()
    mach.thread_set_state(thread, F.x86_THREAD_STATE64, ts)
    ts.rax = 0
    assert mach.thread_get_state(thread, F.x86_FLOAT_STATE64).xmm == sample_float_state().xmm
    assert mach.thread_get_state(thread, F.x86_THREAD_STATE64) == sample_thread_state()


def test_T7_4_state_copied_between_threads_of_different_tasks(task):
    other = mach.task_create(task, False)
    a, b = mach.thread_create(task), mach.thread_create(other)
    mach.thread_set_state(a, F.x86_THREAD_STATE64, sample_thread_state(3))
    mach.thread_set_state(b, F.x86_THREAD_STATE64, mach.thread_get_state(a, F.x86_THREAD_STATE64))
    assert mach.thread_get_state(b, F.x86_THREAD_STATE64) == sample_thread_state(3)


def test_T7_4_state_kept_across_suspend_resume(task, thread):
    """The thread really runs in between (`jmp .` changes no register, flag or xmm)."""
    st = sample_spin_state(task)
    mach.thread_set_state(thread, F.x86_THREAD_STATE64, st)
    mach.thread_set_state(thread, F.x86_FLOAT_STATE64, sample_float_state())
    mach.thread_resume(thread)
    mach.thread_suspend(thread)
    assert mach.thread_get_state(thread, F.x86_THREAD_STATE64) == st
    fs = mach.thread_get_state(thread, F.x86_FLOAT_STATE64)
    assert (fs.xmm, fs.mxcsr) == (sample_float_state().xmm, sample_float_state().mxcsr)
    mach.thread_resume(thread)
    assert mach.thread_get_state(thread, F.x86_THREAD_STATE64) == st     # taken while running


@pytest.mark.parametrize("flavor", [0, 1, 3, 6, 99, -1, 1 << 64, None, "x86_THREAD_STATE64"])
def test_T7_4_unknown_flavor_is_invalid_argument(thread, flavor):
    assert code_of(mach.thread_get_state, thread, flavor) == K.KERN_INVALID_ARGUMENT
    assert code_of(mach.thread_set_state, thread, flavor, [0] * 64) == K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("n", [0, 1, NWORDS_THREAD - 1])
def test_T7_4_short_thread_state_is_invalid_argument(thread, n):
    mach.thread_set_state(thread, F.x86_THREAD_STATE64, sample_thread_state())
    assert code_of(mach.thread_set_state, thread, F.x86_THREAD_STATE64, [1] * n) == \
        K.KERN_INVALID_ARGUMENT
    assert mach.thread_get_state(thread, F.x86_THREAD_STATE64) == sample_thread_state()


@pytest.mark.parametrize("n", [0, 16, NWORDS_FLOAT - 1])
def test_T7_4_short_float_state_is_invalid_argument(thread, n):
    assert code_of(mach.thread_set_state, thread, F.x86_FLOAT_STATE64, [1] * n) == \
        K.KERN_INVALID_ARGUMENT


def test_T7_4_dict_missing_or_extra_field_is_invalid_argument(thread):
    d = dataclasses.asdict(sample_thread_state())
    missing = dict(d)
    del missing["rip"]
    assert code_of(mach.thread_set_state, thread, F.x86_THREAD_STATE64, missing) == \
        K.KERN_INVALID_ARGUMENT
    extra = dict(d, r16=0)
    assert code_of(mach.thread_set_state, thread, F.x86_THREAD_STATE64, extra) == \
        K.KERN_INVALID_ARGUMENT
    assert code_of(mach.thread_set_state, thread, F.x86_FLOAT_STATE64, {"xmm": [0] * 16}) == \
        K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("field", ["rax", "rip", "rflags", "gs_base"])
@pytest.mark.parametrize("value", [1 << 64, (1 << 64) + 5, 1 << 100, -1])
def test_T7_4_thread_state_value_not_unsigned_64_is_invalid_argument(thread, field, value):
    mach.thread_set_state(thread, F.x86_THREAD_STATE64, sample_thread_state())
    bad = dataclasses.replace(sample_thread_state(), **{field: value})
    assert code_of(mach.thread_set_state, thread, F.x86_THREAD_STATE64, bad) == \
        K.KERN_INVALID_ARGUMENT
    d = dict(dataclasses.asdict(sample_thread_state()), **{field: value})
    assert code_of(mach.thread_set_state, thread, F.x86_THREAD_STATE64, d) == \
        K.KERN_INVALID_ARGUMENT
    assert mach.thread_get_state(thread, F.x86_THREAD_STATE64) == sample_thread_state()


def test_T7_4_word_list_value_not_unsigned_64_is_invalid_argument(thread):
    for v in (1 << 64, -1):
        words = [0] * NWORDS_THREAD
        words[5] = v
        assert code_of(mach.thread_set_state, thread, F.x86_THREAD_STATE64, words) == \
            K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("value", [1 << 128, (1 << 128) + 1, -1])
def test_T7_4_xmm_value_not_unsigned_128_is_invalid_argument(thread, value):
    mach.thread_set_state(thread, F.x86_FLOAT_STATE64, sample_float_state())
    xmm = list(sample_float_state().xmm)
    xmm[9] = value
    assert code_of(mach.thread_set_state, thread, F.x86_FLOAT_STATE64,
                   X86FloatState64(xmm=xmm, mxcsr=0x1F80)) == K.KERN_INVALID_ARGUMENT
    assert code_of(mach.thread_set_state, thread, F.x86_FLOAT_STATE64,
                   {"xmm": xmm, "mxcsr": 0x1F80}) == K.KERN_INVALID_ARGUMENT
    assert mach.thread_get_state(thread, F.x86_FLOAT_STATE64).xmm == sample_float_state().xmm


def test_T7_4_mxcsr_not_unsigned_64_is_invalid_argument(thread):
    assert code_of(mach.thread_set_state, thread, F.x86_FLOAT_STATE64,
                   X86FloatState64(mxcsr=1 << 64)) == K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("bad", ["1", 1.0, None, True])
def test_T7_4_non_integer_register_is_invalid_argument(thread, bad):
    words = [0] * NWORDS_THREAD
    words[0] = bad
    assert code_of(mach.thread_set_state, thread, F.x86_THREAD_STATE64, words) == \
        K.KERN_INVALID_ARGUMENT
    st = dataclasses.replace(sample_thread_state(), rbx=bad)
    assert code_of(mach.thread_set_state, thread, F.x86_THREAD_STATE64, st) == \
        K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("state", [None, 5, "state", b"\x00" * 184, object()])
def test_T7_4_state_of_wrong_type_is_invalid_argument(thread, state):
    assert code_of(mach.thread_set_state, thread, F.x86_THREAD_STATE64, state) == \
        K.KERN_INVALID_ARGUMENT


def test_T7_4_state_of_other_flavor_is_invalid_argument(thread):
    assert code_of(mach.thread_set_state, thread, F.x86_THREAD_STATE64, sample_float_state()) == \
        K.KERN_INVALID_ARGUMENT
    assert code_of(mach.thread_set_state, thread, F.x86_FLOAT_STATE64, sample_thread_state()) == \
        K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("xmm", [[0] * 15, [], "0123456789abcdef", [None] * 16,
                                 [0] * 15 + ["x"]],
                         ids=["15-regs", "no-regs", "string", "nones", "str-element"])
def test_T7_4_malformed_xmm_list_is_invalid_argument(thread, xmm):
    """Too few xmm registers is 'count too small'; non-integers are bad values: both are
    KERN_INVALID_ARGUMENT, never a Python exception escaping the kernel."""
    mach.thread_set_state(thread, F.x86_FLOAT_STATE64, sample_float_state())
    assert code_of(mach.thread_set_state, thread, F.x86_FLOAT_STATE64,
                   {"xmm": xmm, "mxcsr": 0x1F80}) == K.KERN_INVALID_ARGUMENT
    assert code_of(mach.thread_set_state, thread, F.x86_FLOAT_STATE64,
                   X86FloatState64(xmm=xmm, mxcsr=0x1F80)) == K.KERN_INVALID_ARGUMENT
    assert mach.thread_get_state(thread, F.x86_FLOAT_STATE64).xmm == sample_float_state().xmm


def test_T7_4_state_calls_on_non_handle_are_send_invalid_dest():
    assert code_of(mach.thread_get_state, 7, F.x86_THREAD_STATE64) == K.MACH_SEND_INVALID_DEST
    assert code_of(mach.thread_set_state, None, F.x86_THREAD_STATE64, [0] * 23) == \
        K.MACH_SEND_INVALID_DEST


# -- T7.5 thread_terminate, and calls on terminated threads (37) ------------------------------------

def test_T7_5_terminate_shrinks_task_threads(task):
    ths = [mach.thread_create(task) for _ in range(3)]
    mach.thread_terminate(ths[1])
    left = mach.task_threads(task)
    assert [h.port for h in left] == [ths[0].port, ths[2].port]
    assert mach.task_info(task, 1)["thread_count"] == 2
    mach.thread_terminate(ths[0])
    mach.thread_terminate(ths[2])
    assert mach.task_threads(task) == []
    assert mach.task_info(task, 1)["thread_count"] == 0


def test_T7_5_terminate_running_thread(task, thread):
    mach.thread_set_state(thread, F.x86_THREAD_STATE64, spin_state(task))
    mach.thread_resume(thread)
    assert info(thread)["run_state"] == ThreadRunState.RUNNING
    mach.thread_terminate(thread)
    assert code_of(mach.thread_info, thread, 3) == K.KERN_TERMINATED


@pytest.mark.parametrize("call", [
    lambda th: mach.thread_suspend(th),
    lambda th: mach.thread_resume(th),
    lambda th: mach.thread_get_state(th, F.x86_THREAD_STATE64),
    lambda th: mach.thread_get_state(th, F.x86_FLOAT_STATE64),
    lambda th: mach.thread_set_state(th, F.x86_THREAD_STATE64, [0] * NWORDS_THREAD),
    lambda th: mach.thread_set_state(th, F.x86_FLOAT_STATE64, [0] * NWORDS_FLOAT),
    lambda th: mach.thread_terminate(th),
    lambda th: mach.thread_info(th, 3),
], ids=["suspend", "resume", "get_state", "get_float", "set_state", "set_float", "terminate",
        "info"])
def test_T7_5_calls_on_terminated_thread_are_terminated(dead_thread, call):
    assert code_of(call, dead_thread) == K.KERN_TERMINATED


def test_T7_5_terminated_check_precedes_argument_check(dead_thread):
    """A terminated thread answers KERN_TERMINATED even with an otherwise bad flavor/state."""
    assert code_of(mach.thread_set_state, dead_thread, F.x86_THREAD_STATE64,
                   [0] * NWORDS_THREAD) == K.KERN_TERMINATED


def test_T7_5_threads_of_terminated_task_are_terminated(cluster):
    t = cluster.task_create()
    th = mach.thread_create(t)
    mach.task_terminate(t)
    for fn, args in [(mach.thread_suspend, ()), (mach.thread_resume, ()),
                     (mach.thread_get_state, (F.x86_THREAD_STATE64,)),
                     (mach.thread_set_state, (F.x86_THREAD_STATE64, [0] * NWORDS_THREAD)),
                     (mach.thread_terminate, ())]:
        assert code_of(fn, th, *args) == K.KERN_TERMINATED, fn.__name__


def test_T7_5_terminate_suspended_thread(thread):
    mach.thread_suspend(thread)
    mach.thread_terminate(thread)
    assert code_of(mach.thread_resume, thread) == K.KERN_TERMINATED


def test_T7_5_terminate_one_thread_leaves_others(task):
    a, b = mach.thread_create(task), mach.thread_create(task)
    st = sample_spin_state(task)
    mach.thread_set_state(b, F.x86_THREAD_STATE64, st)
    mach.thread_terminate(a)
    mach.thread_resume(b)
    assert info(b)["run_state"] == ThreadRunState.RUNNING
    assert mach.thread_get_state(b, F.x86_THREAD_STATE64) == st
    assert [h.port for h in mach.task_threads(task)] == [b.port]


def test_T7_5_terminated_thread_does_not_reappear_after_task_resume(task):
    th = mach.thread_create(task)
    mach.task_suspend(task)
    mach.thread_terminate(th)
    mach.task_resume(task)
    assert mach.task_threads(task) == []


@pytest.mark.parametrize("flavor", [0, 1, 99])
def test_thread_info_unknown_flavor_is_invalid_argument(thread, flavor):
    assert code_of(mach.thread_info, thread, flavor) == K.KERN_INVALID_ARGUMENT


# -- x86_DEBUG_STATE64 (Mach i386 debug_state_is_valid64) ----------------------------------------

def test_T7_4_debug_state_of_a_new_thread_is_zero(thread):
    assert mach.thread_get_state(thread, F.x86_DEBUG_STATE64) == X86DebugState64()


def test_T7_4_debug_state_is_fixed_up_as_mach_does(thread):
    """dr4 and dr5 read as 0; dr7 keeps its low 32 bits, with bit 10 set and bits 11, 12,
    14 and 15 clear."""
    words = [0x1000, 0x2000, 0x3000, 0x4000, 5, 6, 0xFFFF_0FF0, 0xABCD_0000_0000_F801]
    mach.thread_set_state(thread, F.x86_DEBUG_STATE64, words)
    got = mach.thread_get_state(thread, F.x86_DEBUG_STATE64)
    assert got.to_words() == [0x1000, 0x2000, 0x3000, 0x4000, 0, 0, 0xFFFF_0FF0, 0x2401]


@pytest.mark.parametrize("dr7", [0x2, 0x8, 0x20, 0x80,          # G0-G3: global enables
                                 0x1 | 2 << 16, 0x4 | 2 << 20,  # R/W 10b: I/O breakpoints
                                 0x1 | 1 << 18])                # execute, length 2
def test_T7_4_debug_state_mach_refuses_is_invalid_argument(thread, dr7):
    ds = X86DebugState64(dr0=0x1000, dr1=0x1000, dr7=dr7)
    assert code_of(mach.thread_set_state, thread, F.x86_DEBUG_STATE64, ds) == \
        K.KERN_INVALID_ARGUMENT
    assert mach.thread_get_state(thread, F.x86_DEBUG_STATE64) == X86DebugState64()


def test_T7_4_enabled_breakpoint_outside_user_memory_is_invalid_argument(thread):
    from normach import param
    top = param.VM_MAX_ADDRESS
    assert code_of(mach.thread_set_state, thread, F.x86_DEBUG_STATE64,
                   X86DebugState64(dr2=top, dr7=0x10)) == K.KERN_INVALID_ARGUMENT
    mach.thread_set_state(thread, F.x86_DEBUG_STATE64, X86DebugState64(dr2=top, dr7=0x40))
    assert mach.thread_get_state(thread, F.x86_DEBUG_STATE64).dr2 == top    # not enabled: kept


@pytest.mark.parametrize("n", [0, 7])
def test_T7_4_short_debug_state_is_invalid_argument(thread, n):
    assert code_of(mach.thread_set_state, thread, F.x86_DEBUG_STATE64, [0] * n) == \
        K.KERN_INVALID_ARGUMENT
