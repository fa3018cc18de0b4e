"""The transport's tunables, read from `normach/param.py` (where every tunable lives).

The transport reads them through this module (`config.X`) at the moment of use,
so a test may override one here.
"""

from .. import param

MAX_HEADER_BYTES = param.TRANSPORT_MAX_HEADER_BYTES
MAX_RAW_BYTES = param.TRANSPORT_MAX_RAW_BYTES
FRAME_BYTES = param.TRANSPORT_FRAME_BYTES
MAX_NESTING = param.TRANSPORT_MAX_NESTING
HANDLER_THREADS = param.TRANSPORT_HANDLER_THREADS
NOTIFY_THREADS = param.TRANSPORT_NOTIFY_THREADS
RECONNECT_IVL_MS = param.TRANSPORT_RECONNECT_IVL_MS
RECONNECT_IVL_MAX_MS = param.TRANSPORT_RECONNECT_IVL_MAX_MS
HANDSHAKE_IVL_MS = param.TRANSPORT_HANDSHAKE_IVL_MS
INPROC_BIND_RETRY_S = param.TRANSPORT_INPROC_BIND_RETRY_S
