"""A real HTTP server in front of the admin that misbehaves on purpose, for the client's retry tests.

Each request is forwarded to the admin unless the plan for its ``(method, path)`` says otherwise;
the next step of a plan is used up by each request that matches it:

* ``'lose-answer'``: forward the request to the admin, then close the connection without passing
  the answer on (the admin acted; the client cannot know);
* ``'close'``: close the connection without forwarding (a kept-alive connection the server closed);
* ``'503'``: answer 503 with ``Retry-After: 1`` and the admin's error envelope, without forwarding.

It speaks HTTP/1.1 and keeps connections alive, as gunicorn does. ``seen`` records every request
that reached it: ``(method, path, headers, body)``.
"""
import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

_HOP_HEADERS = {'connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length', 'server', 'date'}


class FlakyFront:
    def __init__(self, admin_port: int, plans: Optional[dict] = None):
        self.admin_port = admin_port
        self.plans = {key: list(steps) for key, steps in (plans or {}).items()}
        self.seen: list[tuple[str, str, dict, bytes]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(('127.0.0.1', 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> 'FlakyFront':
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def requests_to(self, method: str, path: str) -> list[tuple[dict, bytes]]:
        return [(headers, body) for m, p, headers, body in self.seen if (m, p) == (method, path)]

    def _next_step(self, method: str, path: str, headers: dict, body: bytes) -> Optional[str]:
        with self._lock:
            self.seen.append((method, path, headers, body))
            steps = self.plans.get((method, path))
            return steps.pop(0) if steps else None

    def _handler(self):
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def _serve(self):
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                path = self.path.split('?', 1)[0]
                step = front._next_step(self.command, path, dict(self.headers), body)
                if step == 'close':
                    self.close_connection = True
                    return
                if step == '503':
                    self._answer(503, {'Retry-After': '1', 'Content-Type': 'application/json'}, json.dumps(
                        {'error': {'type': 'ServiceUnavailableError', 'message': 'the front is busy'}}).encode())
                    return
                status, headers, answer = self._forward(body)
                if step == 'lose-answer':
                    self.close_connection = True
                    return
                self._answer(status, headers, answer)

            def _forward(self, body: bytes):
                conn = http.client.HTTPConnection('127.0.0.1', front.admin_port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    return response.status, dict(response.getheaders()), response.read()
                finally:
                    conn.close()

            def _answer(self, status: int, headers: dict, body: bytes):
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in _HOP_HEADERS:
                        self.send_header(name, value)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler
