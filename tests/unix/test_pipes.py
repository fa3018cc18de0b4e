"""Pipes and poll/select under the Unix server: a bounded buffer in the server whose
waiting reads, writes and polls are answered when the pipe changes."""

from tests.unix.conftest import run_guest, run_native


def test_U1_6_pipe_poll_select_epipe_as_natively(cluster, linux_exe):
    exe = linux_exe("pipes_poll")
    native = run_native(exe)
    assert native[0] == 0
    assert b"empty poll: 0 revents=0" in native[1]
    assert b"write no reader: -1 epipe=1" in native[1]
    assert run_guest(cluster, exe) == native


def test_U1_6_a_write_with_no_reader_raises_sigpipe(cluster, linux_exe):
    exe = linux_exe("pipes_sigpipe")
    native = run_native(exe)
    assert native == (128 + 13, b"child signaled=1 sig=13\n")
    assert run_guest(cluster, exe) == native
