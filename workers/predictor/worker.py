"""The predictor's gunicorn worker: gthread, except that a stop is not held by idle connections.

On SIGTERM, gunicorn's gthread worker stops accepting, lets the requests in flight finish (within
``--graceful-timeout``) and, since gunicorn 27, keeps every kept-alive connection open for
``STOP_KEEPALIVE_LINGER`` (2 s) more, so that a request a client sends on it meanwhile is answered
with ``Connection: close`` instead of being dropped. A predictor that any client (the admin, a
load balancer) held a connection to thus took 2 s to stop, every time. Here a stopping worker
keeps idle connections ``IDLE_LINGER`` s only: a request already sent on one is still read and
answered, requests in flight are still waited for, and a client that sends one later finds the
connection closed, as it would after the keep-alive timeout.
"""
from gunicorn.workers import gthread

IDLE_LINGER = 0.1


class PredictorWorker(gthread.ThreadWorker):
    def handle_exit(self, sig, frame):
        # gthread reads the module's constant when the stop begins and when a request in flight
        # ends; this process's only worker is stopping, so nothing else reads it.
        gthread.STOP_KEEPALIVE_LINGER = min(getattr(gthread, 'STOP_KEEPALIVE_LINGER', IDLE_LINGER), IDLE_LINGER)
        super().handle_exit(sig, frame)
