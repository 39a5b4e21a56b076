"""A real HTTP server on loopback that records the webhook requests it gets, for the webhook tests.

``Receiver(statuses=[500, 200])`` answers its first request 500, its second 200, and 200 after the
list runs out; ``requests`` holds ``(headers, body)`` of each request in the order they came.
"""
import http.server
import threading


class Receiver:
    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.requests = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                with receiver._lock:
                    receiver.requests.append((dict(self.headers), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header('Content-Length', '0')
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}/hook'
        self._thread = threading.Thread(target=self.server.serve_forever, name='webhook-receiver', daemon=True)

    def __enter__(self) -> 'Receiver':
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
