"""Free loopback ports, for every server the tests and the benchmarks start (Postgres,
relays, their cluster endpoints, nginx): the one free_port."""
import socket


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def endpoint(port):
    """A cluster mesh endpoint on loopback (--cluster-bind, --peers)."""
    return f"tcp://127.0.0.1:{port}"
