"""MIG for guests: `.defs` interfaces compiled into C stubs in normach's message format.

Mach programmers do not pack messages by hand: they declare an interface (a
subsystem of numbered routines with typed arguments) and the Mach Interface
Generator writes a user stub per routine — a C function that packs its
arguments, sends the request, waits for the reply and unpacks it — and a server
stub per routine, with a demux that a server loop (`mach_msg_server`) calls on
each request it receives.

* `parser.py`: the .defs language (after cpp) into `model.Subsystem`;
* `model.py`: types, routines, and where each argument travels (the layout);
* `cgen.py`: the header, the user stubs, the server stubs and the demux;
* `compile.py`: preprocess, parse, write the three files.

The package imports nothing of normach's: `guest/build.py` runs it with the guest
toolchain (`normach mig`), and the kernel reads its own interfaces with the parser.

The kernel publishes its own routines as .defs (kern/mig_interface.py) and reads
a guest's request to a kernel port in the same layout.  docs/mig.md is the
user's guide.
"""
