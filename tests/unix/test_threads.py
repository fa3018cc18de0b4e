"""Threads under the Unix server: clone of a thread (pthread_create), the futex under
mutexes, condition variables, semaphores and pthread_join, thread-local storage,
futex timeouts."""

from tests.unix.conftest import run_guest, run_native


def test_U1_4_pthreads_mutex_condvar_tls_join_give_the_native_output(cluster, linux_exe):
    exe = linux_exe("threads_pthread", "-pthread")
    native = run_native(exe)
    assert native[0] == 5, native
    assert run_guest(cluster, exe, timeout=300) == native


def test_U1_4_futex_waits_time_out_with_ETIMEDOUT(cluster, linux_exe):
    exe = linux_exe("threads_timeout", "-pthread")
    native = run_native(exe)
    assert b"cond_timedwait: ETIMEDOUT" in native[1] and native[0] == 0, native
    assert run_guest(cluster, exe, timeout=300) == native


def test_U1_4_threads_end_by_pthread_exit_detached_or_with_the_process(cluster, linux_exe):
    exe = linux_exe("threads_exit", "-pthread")
    native = run_native(exe)
    assert native[0] == 3 and b"tids distinct: 1" in native[1], native
    assert run_guest(cluster, exe, timeout=300) == native


def test_U1_4_rounds_of_short_threads_are_created_ended_and_joined(cluster, linux_exe):
    exe = linux_exe("threads_many", "-pthread")
    native = run_native(exe)
    assert native == (0, b"sum=2790\n"), native
    assert run_guest(cluster, exe, timeout=300) == native
