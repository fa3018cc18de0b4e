"""Tunables of the transport layer, one comment each.

These belong in `normach/param.py` beside the kernel's tunables; they live here
until that file's owner moves them (the transport reads them only through this
module, so moving them is a one-line import change here).
"""

MAX_HEADER_BYTES = 1 << 20          # largest msgpack header frame (frame 0) a node accepts
MAX_RAW_BYTES = 16 << 20            # largest raw (page data) frame a node accepts
MAX_NESTING = 16                    # deepest nesting of lists/maps inside a "list"/"map" field
HANDLER_THREADS = 8                 # worker threads per endpoint that run request handlers
NOTIFY_THREADS = 1                  # threads per endpoint that run on_peer_down callbacks (in order)
RECONNECT_IVL_MS = 100              # first delay before a DEALER reconnects to a peer
RECONNECT_IVL_MAX_MS = 1000         # longest delay between a DEALER's reconnect attempts
HANDSHAKE_IVL_MS = 5000             # a connection that has not finished its handshake by then is dropped
INPROC_BIND_RETRY_S = 2.0           # how long a restarted endpoint retries binding a still-closing inproc name
