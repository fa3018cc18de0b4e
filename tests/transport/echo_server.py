"""A node endpoint in its own process, for the cross-process transport test.

Usage: python echo_server.py [secret-hex]
Binds tcp://127.0.0.1 on a free port, prints the bound address on one line,
answers echo requests, and exits when its stdin is closed.
"""

import sys

from normach.transport import Endpoint
from normach.transport.messages import echo_reply


def main():
    secret = bytes.fromhex(sys.argv[1]) if len(sys.argv) > 1 else None
    ep = Endpoint(1, "tcp://127.0.0.1:0", {}, lambda sender, msg: echo_reply(msg.data),
                  secret=secret)
    print(ep.address, flush=True)
    sys.stdin.read()
    ep.close()


if __name__ == "__main__":
    main()
