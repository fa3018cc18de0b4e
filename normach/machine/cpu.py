"""One x86-64 CPU per Mach thread, on unicorn.

Memory.  Every CPU maps the node's whole physical pool once, at guest-physical
0, and runs in unicorn's virtual-TLB mode: the TLB-fill hook translates a
guest virtual address through the task's pmap.  A hit (the common case) is a
dict lookup; a miss, or an access the translation does not allow, calls
`vm_fault` under the kernel lock and retries.  A fault the kernel cannot
resolve stops the CPU with a pending Mach exception.

Modes (guarded by `CPU.lock`, a small lock that is never held while blocking):
  GUEST    executing guest code (inside emu_start, no hook running the kernel)
  KERNEL   inside a hook or the run loop, about to return to guest code
  BLOCKED  inside a trap that may wait (registers saved in the thread state)
  PARKED   in the run loop, waiting to be runnable
  EXITED   the thread is gone

Stopping.  Another thread never calls `emu_stop` on a running CPU: unicorn would
roll it back into an instruction whose store is done, and run that store again
(stop_hook.py).  It raises the CPU's stop cell instead; a native block hook
stops the CPU at the next block boundary.  The CPU's own hooks (a trap, an
interrupt) may call `emu_stop` directly: they run at an instruction boundary.

TLB shootdown.  A revocation (pmap.revoke) asks every CPU of the task to flush
its TLB.  A CPU that is not in GUEST mode executes no guest code: it only gets
`flush_pending`, and flushes before it next enters guest code.  A CPU in GUEST
mode is asked to stop and the revoker waits for its acknowledgement, which the
CPU gives after it has left emu_start and flushed.  The revoker holds the kernel
lock while waiting; acknowledging needs only `CPU.lock`, so a CPU never waits
for the revoker that waits for it.
"""

from __future__ import annotations

import threading
import time

from unicorn import (UC_ARCH_X86, UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH, UC_HOOK_INSN,
                     UC_HOOK_INSN_INVALID, UC_HOOK_INTR, UC_HOOK_TLB_FILL, UC_MODE_64,
                     UC_TLB_VIRTUAL, Uc, UcError)
from unicorn.unicorn_const import UC_MEM_FETCH, UC_MEM_READ, UC_MEM_WRITE, UC_PROT_ALL
from unicorn.x86_const import (UC_X86_INS_IN, UC_X86_INS_OUT, UC_X86_INS_SYSCALL,
                               UC_X86_INS_SYSENTER, UC_X86_REG_RAX, UC_X86_REG_RIP)

from .. import param
from ..errors import KernError, KernReturn
from ..kern.thread import set_current_thread
from ..mach_types import ThreadStateFlavor
from . import regs, stop_hook, usermode

GUEST, KERNEL, BLOCKED, PARKED, EXITED = "guest", "kernel", "blocked", "parked", "exited"
UNTIL = 0xFFFF_FFFF_FFFF_F000          # emulation stop address, mapped to reserved frame 0
_RESERVED_VPN = (UNTIL - 15 * param.PAGE_SIZE) >> param.PAGE_SHIFT   # never user memory
_WRITE = 2
_ACCESS = {UC_MEM_READ: 1, UC_MEM_WRITE: _WRITE, UC_MEM_FETCH: 4}
TCG_BUFFER = 32 << 20                  # translation cache per CPU (unicorn's default is 1 GiB)

EXC_BAD_ACCESS, EXC_BAD_INSTRUCTION, EXC_ARITHMETIC, EXC_BREAKPOINT = 1, 2, 3, 6
EXC_I386_INVOP, EXC_I386_GPFLT = 1, 13      # codes of EXC_BAD_INSTRUCTION (Mach i386)
EXC_I386_DIV, EXC_I386_BPT = 1, 2           # of EXC_ARITHMETIC and EXC_BREAKPOINT


class CPU:
    """A unicorn CPU executing one Mach thread in its own OS thread.

    Fields: lock guards mode, flush_pending, stop_cell.request; the kernel lock
    guards the rest.
      load_pending  the thread's saved state must be loaded before running
      retry_insn    a fill was refused to run the instruction again (_fill_slow)
      pending_exc   (exception, codes) recorded by a hook, delivered by the run loop
      stats         fills, faults, traps, stops, flushes
    """

    def __init__(self, machine, thread):
        self.machine = machine
        self.kernel = machine.kernel
        self.thread = thread
        self.pmap = thread.task.map.pmap
        self.lock = threading.Lock()
        self.mode = PARKED
        self.flush_pending = False
        self.ack = threading.Event()
        self.load_pending = True
        self.restart = False
        self.clock = None          # the OS thread's CPU-time clock (readable from any thread)
        self.mark = 0.0            # its reading when CPU time was last charged (_charge)
        self.kernel_s = 0.0        # since: CPU seconds in traps and faults (system time)
        self.retry_insn = False              # a refused fill: resume at the instruction
        self.pending_exc = None
        self.reported = False                # the CPU reported an exception (usermode.py)
        self.stats = {"fills": 0, "faults": 0, "traps": 0, "stops": 0, "flushes": 0,
                      "retries": 0}
        self.stop_cell = None                # set by _make_uc; lives as long as uc
        self.uc = self._make_uc()
        self.os_thread = threading.Thread(target=self._run, daemon=True,
                                          name=f"cpu-{thread.task.name}-{thread.id}")

    def _make_uc(self) -> Uc:
        phys = self.kernel.phys
        uc = Uc(UC_ARCH_X86, UC_MODE_64)
        uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
        uc.ctl_set_tcg_buffer_size(TCG_BUFFER)
        uc.mem_map_ptr(0, phys.nframes * param.PAGE_SIZE, UC_PROT_ALL, phys.base_address)
        uc.hook_add(UC_HOOK_TLB_FILL, self._fill)
        uc.hook_add(UC_HOOK_INSN, self._syscall, None, 1, 0, UC_X86_INS_SYSCALL)
        uc.hook_add(UC_HOOK_INTR, self._interrupt)
        uc.hook_add(UC_HOOK_INSN_INVALID, self._invalid)
        uc.hook_add(UC_HOOK_INSN, self._port_io, None, 1, 0, UC_X86_INS_IN)
        uc.hook_add(UC_HOOK_INSN, self._port_io, None, 1, 0, UC_X86_INS_OUT)
        uc.hook_add(UC_HOOK_INSN, self._sysenter, None, 1, 0, UC_X86_INS_SYSENTER)
        self.stop_cell = stop_hook.install(uc)
        usermode.prepare_frame(phys.frame_view(0))
        usermode.enter(uc, _RESERVED_VPN << param.PAGE_SHIFT, UNTIL)
        return uc

    def start(self) -> None:
        self.os_thread.start()

    # -- mode transitions ------------------------------------------------------------
    def _set_mode(self, mode: str, left_emulation: bool = False) -> None:
        """Leave or enter guest code; flushes a pending TLB flush before guest code.

        `left_emulation`: emu_start has returned, so a stop request is answered.
        """
        with self.lock:
            if left_emulation:
                self.stop_cell.request = 0
            if self.flush_pending:
                self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)
                self.flush_pending = False
                self.stats["flushes"] += 1
            self.mode = mode
            if mode != GUEST:
                self.ack.set()

    def request_flush(self) -> bool:
        """A revocation touched this CPU's pmap.  Returns True if the caller must wait."""
        with self.lock:
            self.flush_pending = True
            if self.mode != GUEST:
                return False
            self.ack.clear()
            self.stop_cell.request = 1
        return True

    def wait_flushed(self) -> None:
        """Wait for the acknowledgement of a flush requested while in guest code."""
        while not self.ack.wait(0.002):
            with self.lock:
                if self.mode != GUEST:
                    return

    def _stop_guest(self) -> None:
        """Ask the CPU to leave guest code at its next block boundary, if it runs any."""
        with self.lock:
            if self.mode == GUEST:
                self.stop_cell.request = 1

    # -- kernel side: thread control ----------------------------------------------------
    def thread_changed(self, thread) -> None:
        """The thread's run state changed (kernel lock held): stop guest code if it must stop."""
        if not thread.runnable:
            self._stop_guest()

    def wait_stopped(self) -> None:
        """Wait until the thread executes nothing (kernel lock held; released while waiting)."""
        assert self.kernel.lock.held()
        th = self.thread
        while self.mode in (GUEST, KERNEL) and not (th.runnable and th.has_state):
            self._stop_guest()
            th.changed.wait(0.01)

    def in_trap(self) -> bool:
        """True while the thread waits in a kernel call (a blocking trap, an exception)."""
        return self.mode == BLOCKED

    def wait_trap_left(self) -> None:
        """Wait until the thread has left its kernel call (kernel lock held; released while
        waiting): thread_abort's second half."""
        assert self.kernel.lock.held()
        while self.mode == BLOCKED and self.thread.active:
            self.thread.changed.wait(0.01)

    def save_state(self, thread) -> None:
        """Make thread.state current: stop the CPU for the duration if it runs guest code.

        A thread BLOCKED in a trap keeps its registers in the CPU, paused inside
        the hook (it cannot go on without the kernel lock, which the caller
        holds): they are read from there, so traps pay nothing for it.
        """
        if self.mode in (GUEST, KERNEL):
            thread.hold()
            try:
                self.wait_stopped()
            finally:
                thread.release()
        if self.mode == BLOCKED and not self.load_pending:
            regs.save(self.uc, thread.state)

    def load_state(self, thread) -> None:
        """thread.state was replaced (after save_state stopped the CPU): load it before the
        thread next runs guest code; a thread blocked in a trap restarts at the new state."""
        self.load_pending = True
        if self.mode == BLOCKED:
            self.restart = True

    # -- the run loop ------------------------------------------------------------------
    def _cpu_now(self) -> float:
        """CPU seconds this CPU's OS thread has used (a wait uses none)."""
        return time.clock_gettime(self.clock) if self.clock is not None else time.thread_time()

    def _run(self) -> None:
        set_current_thread(self.thread)
        if hasattr(time, "pthread_getcpuclockid"):
            self.clock = time.pthread_getcpuclockid(threading.get_ident())
        k, th = self.kernel, self.thread
        try:
            while True:
                with k.lock:
                    if not self._park():
                        break
                    self._set_mode(KERNEL)
                self.machine.token.acquire(self)
                with k.lock:
                    if not (th.active and th.runnable and th.has_state):
                        self.machine.token.release(self)
                        continue
                    self._load()
                    rip = th.state[ThreadStateFlavor.x86_THREAD_STATE64].rip
                    self._set_mode(GUEST)
                self.mark, self.kernel_s = self._cpu_now(), 0.0
                err = self._emulate(rip)
                if self.reported:
                    self.reported = False
                    usermode.forget_exception(self.uc)
                self._set_mode(KERNEL, left_emulation=True)
                self.machine.token.release(self)
                with k.lock:
                    self._charge()
                    if not self.load_pending:
                        regs.save(self.uc, th.state)
                    exc, self.pending_exc = self.pending_exc, None
                    if self.retry_insn:
                        self.retry_insn, err = False, None
                    if exc is None and err is not None:
                        exc = (EXC_BAD_INSTRUCTION, [int(KernReturn.KERN_FAILURE), 0])
                if exc is not None:
                    self.machine.deliver_exception(self, *exc)
        finally:
            with k.lock:
                self._set_mode(EXITED)
                th.changed.notify_all()
                self.machine.cpu_exited(self)

    def _charge(self, slice_end: bool = True) -> None:
        """Charge the thread the CPU time its CPU's OS thread used since the last charge
        (time.thread_time: a wait uses none): in traps and faults, system time; the
        rest, guest code, user time.  At the end of each slice, and as each trap
        begins (so that task_info sees it).  Conditions: kernel lock held."""
        th, now = self.thread, self._cpu_now()
        user = max(now - self.mark - self.kernel_s, 0.0)
        th.times[0] += int(user * 1e6)
        th.times[1] += int(self.kernel_s * 1e6)
        self.mark, self.kernel_s = now, 0.0
        if slice_end:
            th.task.events["slices"] += 1

    def running_user_s(self) -> float:
        """User seconds of the slice in progress not yet charged: what a thread that
        runs guest code without trapping has used since its slice began (thread_info
        adds it).  Read from another thread.  Conditions: kernel lock held."""
        if self.mode != GUEST or self.clock is None:
            return 0.0
        return max(time.clock_gettime(self.clock) - self.mark - self.kernel_s, 0.0)

    def _park(self) -> bool:
        """Wait (kernel lock held) until the thread may run; False if it is gone."""
        th = self.thread
        self.mode = PARKED
        th.changed.notify_all()
        while th.active and not (th.runnable and th.has_state):
            th.changed.wait()
        return th.active

    def _load(self) -> None:
        if self.load_pending:
            regs.load(self.uc, self.thread.state)
            self.load_pending = False

    def _emulate(self, rip: int):
        try:
            self.uc.emu_start(rip, UNTIL)
        except UcError as e:
            return e
        finally:
            self.stats["stops"] += 1
        return None

    # -- hooks (the CPU's own OS thread, GIL held, kernel lock not held) -----------------
    def _fill(self, uc, vaddr, access, entry, _ud) -> bool:
        vpn = vaddr >> param.PAGE_SHIFT
        e = self.pmap.entries.get(vpn)
        need = _ACCESS.get(access, 1)
        if e is not None and e[1] & need:
            entry.paddr = e[0] << param.PAGE_SHIFT
            entry.perms = e[1]
            self.stats["fills"] += 1
            return True
        if vpn >= _RESERVED_VPN:
            entry.paddr, entry.perms = 0, 5       # the stop page (and unicorn's look-ahead)
            return True
        return self._fill_slow(vaddr, vpn, need, entry)

    def _fill_slow(self, vaddr: int, vpn: int, need: int, entry) -> bool:
        """A TLB miss the pmap cannot satisfy: fault, then fill (or refuse).

        Instruction retry.  unicorn runs a read-modify-write instruction (xchg,
        lock add, cmpxchg) as a load, then a store, each with its own TLB fill.
        If the store's fault waited for other nodes, another node may have
        written the location since the load: storing now would complete the
        instruction with a stale value (an xchg that takes a lock another node
        just released, and reports it busy).  So a write whose fault waited is
        refused: unicorn rolls the CPU back to the start of the instruction,
        and the run loop resumes there, with the page now held for writing.
        """
        t0 = self._cpu_now()
        try:
            return self._fault_and_fill(vaddr, vpn, need, entry)
        finally:
            self.kernel_s += self._cpu_now() - t0

    def _fault_and_fill(self, vaddr: int, vpn: int, need: int, entry) -> bool:
        from ..vm.fault import vm_fault
        self._set_mode(KERNEL)
        self.stats["faults"] += 1
        k = self.kernel
        while True:
            with k.lock:
                self.thread.task.events["faults"] += 1
                restarts = k.stats.fault_restarts
                try:
                    vm_fault(self.thread.task.map, vaddr, need)
                except KernError as err:
                    if self.pending_exc is None:
                        self.pending_exc = (EXC_BAD_ACCESS, [err.code, vaddr])
                    return False
                except Exception as e:             # a kernel bug
                    self._panic(e, f"fault at {vaddr:#x}")
                    return False
                waited = k.stats.fault_restarts != restarts   # the lock was released
            if waited and need & _WRITE:
                self.retry_insn = True
                self.stats["retries"] += 1
                return False
            self._set_mode(GUEST)
            e = self.pmap.entries.get(vpn)          # re-read after any flush
            if e is not None and e[1] & need:
                entry.paddr = e[0] << param.PAGE_SHIFT
                entry.perms = e[1]
                return True
            self._set_mode(KERNEL)

    def _syscall(self, uc, _ud) -> None:
        from ..kern.traps import TRAPS, trap_unknown
        self.stats["traps"] += 1
        number = uc.reg_read(UC_X86_REG_RAX)
        if number >> 63:
            number -= 1 << 64
        trap = TRAPS.get(number)
        if trap is None:
            trap = trap_unknown(number)
        self._set_mode(KERNEL)
        args = regs.syscall_args(uc)
        self.restart = False
        if trap.blocking:                   # another CPU may run while this one waits
            self.machine.token.release(self)
        with self.kernel.lock:
            self._charge(slice_end=False)
            t0 = self.mark                  # the trap's start: the charge just read it
            self.thread.task.events["traps"] += 1
            if trap.blocking:           # registers stay in the CPU; save_state reads them
                self.mode = BLOCKED
                self.thread.changed.notify_all()
            try:
                result = trap.call(self.thread, args)
            except Exception as e:                 # a kernel bug: never the guest's fault
                self._panic(e, f"trap {trap.name}")
                result = int(KernReturn.KERN_FAILURE)
            self.thread.abort_pending = False      # thread_abort ends with the call
        if trap.blocking:
            self.machine.token.acquire(self)
        self.kernel_s += self._cpu_now() - t0           # (a wait in it used no CPU)
        with self.kernel.lock:
            self._return_to_guest(uc, result)

    def _panic(self, exc: Exception, where: str) -> None:
        """Record a kernel bug met while serving this CPU and stop the thread's task.

        The node goes on; `Machine.panics` keeps the evidence (tests assert it stays empty).
        """
        import traceback
        self.machine.panics.append(f"{where}: {''.join(traceback.format_exception(exc))}")
        self.pending_exc = (EXC_BAD_INSTRUCTION, [int(KernReturn.KERN_FAILURE), 0])
        self.uc.emu_stop()

    def _return_to_guest(self, uc, result) -> None:
        """End a trap (kernel lock held): result in rax, stop if the thread must not go on."""
        th = self.thread
        ts = th.state[ThreadStateFlavor.x86_THREAD_STATE64]
        if result is not None:
            value = result & 0xFFFF_FFFF_FFFF_FFFF
            if self.load_pending and self.restart:
                pass                              # a new state was set meanwhile: it wins
            else:
                uc.reg_write(UC_X86_REG_RAX, value)
                ts.rax = value
        must_stop = not (th.active and th.runnable) or self.restart
        self._set_mode(GUEST)
        if must_stop:
            uc.emu_stop()

    def preempt(self) -> None:
        """The time slice is over and another CPU waits: stop at the next block."""
        self._stop_guest()

    def _interrupt(self, uc, intno, _ud) -> None:
        """An exception of the guest (a privileged instruction in ring 3 is #GP, 13)."""
        self.reported = True
        rip = uc.reg_read(UC_X86_REG_RIP)
        if intno == 0:
            self.pending_exc = (EXC_ARITHMETIC, [EXC_I386_DIV, rip])
        elif intno == 3:
            self.pending_exc = (EXC_BREAKPOINT, [EXC_I386_BPT, rip])
        else:
            self.pending_exc = (EXC_BAD_INSTRUCTION, [intno, rip])
        uc.emu_stop()

    def _invalid(self, uc, _ud) -> bool:
        self.pending_exc = (EXC_BAD_INSTRUCTION, [EXC_I386_INVOP, uc.reg_read(UC_X86_REG_RIP)])
        return False

    def _port_io(self, uc, _port, _size, *_value_and_ud):
        """`in`/`out` in user mode: #GP on a real machine (unicorn lets them run).  The
        registers are taken here, at the instruction: unicorn stops a few instructions
        later, and the thread resumes (if a handler lets it) from this state."""
        self._refuse(uc, uc.reg_read(UC_X86_REG_RIP), EXC_I386_GPFLT)
        return 0

    def _sysenter(self, uc, _ud) -> None:
        """`sysenter` (unicorn: a no-op that jumps astray): an invalid instruction."""
        self._refuse(uc, uc.reg_read(UC_X86_REG_RIP) - 2, EXC_I386_INVOP)

    def _refuse(self, uc, rip: int, code: int) -> None:
        uc.reg_write(UC_X86_REG_RIP, rip)
        regs.save(uc, self.thread.state)
        self.load_pending = True                # this state, not where unicorn stops
        self.pending_exc = (EXC_BAD_INSTRUCTION, [code, rip])
        uc.emu_stop()

    def __repr__(self) -> str:
        return f"<CPU {self.thread.task.name}/{self.thread.id} {self.mode} {self.stats}>"
