"""Run the predictor under gunicorn: ``python -m singa.workers.predictor``.

One gunicorn worker process with many threads, so that concurrent requests meet in one batcher
(gthread's, whose stop idle connections do not hold: ``worker``).
It listens on ``SINGA_SERVICE_PORT`` (set by the process container manager) or 3003.
"""
import os
import sys

from singa.config import Settings

DEFAULT_PORT = 3003


def main() -> None:
    settings = Settings.from_env().require('predictor')
    port = settings.service_port or DEFAULT_PORT
    threads = max(8, settings.predictor_threads)
    args = [sys.executable, '-m', 'gunicorn', '--bind', f'0.0.0.0:{port}', '--workers', '1',
            '--worker-class', 'singa.workers.predictor.worker.PredictorWorker',
            '--threads', str(threads), '--timeout', '120',
            '--graceful-timeout', '5', '--keep-alive', '30', '--no-control-socket',
            '--logger-class', 'singa.logs.GunicornLogger']
    if settings.predictor_access_log:
        # Only then: gunicorn logs requests whenever it has an access log, and each line would also
        # go to the service's log file on the shared storage.
        args += ['--access-logfile', '-']
    args.append('singa.workers.predictor.app:create_app()')
    os.execv(sys.executable, args)


if __name__ == '__main__':
    main()
