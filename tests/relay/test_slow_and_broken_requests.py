"""Requests that are slow or lie about their size (issue 10, items 3 and 4): a few
hundred sockets sending their headers a byte at a time must not stop new clients (the
header pool is large, and a request not complete within --handshake-timeout-ms is
closed); a POST whose Content-Length is huge, negative or missing, or whose body is
chunked, is answered at once and the connection closed; a body that stalls is closed at
the deadline. /api/health answers during and after each."""
import socket
import time

from support.phoenix import PhoenixClient, assert_serves, join_config, run, unique_topic

HANDSHAKE_MS = 1500
SLOW_SOCKETS = 320


def slow_relay(relay_factory):
    return relay_factory(args=["--handshake-timeout-ms", str(HANDSHAKE_MS)])


def raw_connect(relay, timeout=5):
    s = socket.create_connection((relay.host, relay.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(sock, timeout=5):
    """Everything the server sends until it closes (or timeout): (bytes, closed)."""
    data, closed, _ = read_timed(sock, timeout)
    return data, closed


def read_timed(sock, timeout=5):
    """(bytes, closed, seconds until the first byte) of what the server sends."""
    started = time.monotonic()
    deadline = started + timeout
    data, first = b"", None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False, first
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, False, first
        except ConnectionResetError:
            return data, True, first
        if not chunk:
            return data, True, first
        if first is None:
            first = time.monotonic() - started
        data += chunk


def status_of(response):
    line = response.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 else None


def timed_health(relay):
    started = time.monotonic()
    assert relay.health() is not None
    return time.monotonic() - started


def test_slow_headers_do_not_stop_new_clients(relay_factory):
    relay = slow_relay(relay_factory)
    relay.http_timeout = 3  # a healthy relay answers in milliseconds
    slow = []
    try:
        for i in range(SLOW_SOCKETS):
            s = raw_connect(relay)
            s.sendall(b"GET /socket/websocket?vsn=1.0.0 HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)

        async def body():
            # Every slow socket holds a partial request; new clients are served at once.
            for _ in range(3):
                for s in slow:
                    try:
                        s.sendall(b"X")  # one more byte of a header that never ends
                    except OSError:
                        pass
                assert timed_health(relay) < 2
                await assert_serves(relay)
        run(body())

        # The slow sockets are closed once the handshake timeout has passed.
        deadline = time.monotonic() + HANDSHAKE_MS / 1000 + 5
        open_ones = list(slow)
        while open_ones and time.monotonic() < deadline:
            still = []
            for s in open_ones:
                _, closed = read_response(s, timeout=0.01)
                if not closed:
                    still.append(s)
            open_ones = still
            time.sleep(0.1)
        assert not open_ones, f"{len(open_ones)} of {SLOW_SOCKETS} slow sockets still open"
        assert timed_health(relay) < 2
    finally:
        for s in slow:
            s.close()


def test_an_idle_connection_is_closed_at_the_handshake_deadline(relay_factory):
    relay = slow_relay(relay_factory)
    s = raw_connect(relay)
    started = time.monotonic()
    _, closed = read_response(s, timeout=HANDSHAKE_MS / 1000 + 5)
    assert closed and time.monotonic() - started >= HANDSHAKE_MS / 1000 - 0.2
    s.close()
    # A client that completes its handshake in time is not affected.
    async def body():
        c = await PhoenixClient.open(relay)
        topic = unique_topic()
        assert (await c.join(topic, join_config()))["status"] == "ok"
        time.sleep(HANDSHAKE_MS / 1000 + 0.5)
        assert (await c.heartbeat())["status"] == "ok"
    run(body())


def post(relay, headers, body=b""):
    s = raw_connect(relay)
    head = "POST /api/broadcast HTTP/1.1\r\nHost: x\r\n" + f"Authorization: Bearer {relay.token()}\r\n"
    head += "Content-Type: application/json\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    s.sendall(head.encode() + body)
    return s


def test_huge_content_length_is_refused_at_once(relay_factory):
    relay = slow_relay(relay_factory)
    s = post(relay, {"Content-Length": str(10 ** 12)}, b'{"messages":')
    response, closed, first = read_timed(s, timeout=HANDSHAKE_MS / 1000 + 5)
    assert status_of(response) == 413, response
    assert b"5000000" in response and b"connection: close" in response.lower()  # --max-frame-bytes
    assert first < 1  # at once, not after a terabyte
    assert closed  # and the connection does not hang (the request's deadline)
    s.close()
    assert relay.health() is not None


def test_negative_or_malformed_content_length_is_a_bad_request(relay_factory):
    relay = slow_relay(relay_factory)
    for value in ("-1", "12abc", "99999999999999999999999"):
        s = post(relay, {"Content-Length": value}, b"{}")
        response, closed = read_response(s, timeout=5)
        assert status_of(response) in (400, 413), (value, response)
        assert closed, value
        s.close()
    assert relay.health() is not None


def test_chunked_or_unsized_bodies_get_411(relay_factory):
    relay = slow_relay(relay_factory)
    body = b'{"messages":[{"topic":"t","event":"e","payload":{}}]}'
    chunked = hex(len(body))[2:].encode() + b"\r\n" + body + b"\r\n0\r\n\r\n"
    for headers, data in (({"Transfer-Encoding": "chunked"}, chunked), ({}, body)):
        s = post(relay, headers, data)
        response, closed = read_response(s, timeout=5)
        assert status_of(response) == 411, (headers, response)
        assert closed
        s.close()
    assert relay.health() is not None


def test_a_stalled_body_is_closed_at_the_deadline(relay_factory):
    relay = slow_relay(relay_factory)
    s = post(relay, {"Content-Length": "100"}, b'{"messages":')
    started = time.monotonic()
    _, closed = read_response(s, timeout=HANDSHAKE_MS / 1000 + 5)
    assert closed and time.monotonic() - started < HANDSHAKE_MS / 1000 + 2
    s.close()
    # A whole body in time is answered as usual.
    status, _ = relay.broadcast_http([{"topic": "t", "event": "e", "payload": {"x": 1}}])
    assert status == 202
