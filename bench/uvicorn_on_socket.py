"""``python bench/uvicorn_on_socket.py FD``: the app under uvicorn on an inherited listening socket.

bench.common.Server gives each process a socket of its own on one port (SO_REUSEPORT). uvicorn's
own ``--fd`` takes any descriptor for a UNIX socket, so TCP_NODELAY would not be set on its
connections (Nagle + delayed ACK: 40 ms stalls); ``socket.socket(fileno=…)`` reads the real family.
"""

import socket
import sys

import uvicorn

if __name__ == "__main__":
    listening = socket.socket(fileno=int(sys.argv[1]))
    config = uvicorn.Config(
        "app.main:create_app",
        factory=True,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run(sockets=[listening])
