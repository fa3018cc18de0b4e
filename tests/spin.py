"""A register state a test thread can really run with.

Threads execute x86-64 code as soon as they have a state and are runnable, so a
test that resumes a thread must give it somewhere harmless to run.
`spin_state(task)` puts `jmp .` (an endless loop that changes no register and
no flag) on a read/execute page of `task` and returns a state that starts
there with its own stack page; keyword arguments set the other registers.
"""

from normach import VMProt, mach
from normach.kern.thread import X86ThreadState64

PAGE = 4096
JMP_SELF = b"\xeb\xfe"          # jmp .


def spin_page(task) -> int:
    """A read/execute page of `task` starting with `jmp .`; returns its address."""
    code = mach.vm_allocate(task, 0, PAGE, True)
    mach.vm_write(task, code, JMP_SELF)
    mach.vm_protect(task, code, PAGE, False, VMProt.READ | VMProt.EXECUTE)
    return code


def spin_state(task, **regs) -> X86ThreadState64:
    """A thread state that loops forever at a `jmp .` page of `task`.

    rip = the page, rsp = 64 bytes below the top of a fresh stack page,
    rflags = 0x202; `regs` overrides any field (e.g. rax=5, r15=2**64-1).
    """
    code = spin_page(task)
    stack = mach.vm_allocate(task, 0, PAGE, True)
    fields = {"rip": code, "rsp": stack + PAGE - 64, "rflags": 0x202}
    fields.update(regs)
    return X86ThreadState64(**fields)
