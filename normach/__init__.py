"""normach: a NORMA-style Mach multicomputer in Python.

Public surface: `Cluster`, the Mach routines in `normach.mach`, the errors
`KernError` / `KernReturn`, and the constants of `normach.mach_types`.
"""

from importlib.metadata import PackageNotFoundError, version as _version

from .errors import KernError, KernReturn
from .norma import routines as _norma_routines  # noqa: F401  (the NORMA layer plugs in)
from .mach_types import (MACH_PORT_DEAD, MACH_PORT_NULL, MsgOption, MsgType, Notify, PortRight,
                         PortType, TaskSpecialPort, ThreadStateFlavor, VMInherit, VMProt)
from . import mach
from .ipc.message import Message, OOLDesc, OOLPortsDesc, PortDesc
from .cluster import Cluster

try:
    __version__ = _version("normach")
except PackageNotFoundError:             # a checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__", "Cluster", "mach", "KernError", "KernReturn", "VMInherit", "VMProt", "PortRight",
           "PortType", "MsgType", "MsgOption", "Notify", "TaskSpecialPort", "ThreadStateFlavor",
           "MACH_PORT_NULL", "MACH_PORT_DEAD", "Message", "PortDesc", "OOLDesc", "OOLPortsDesc"]
