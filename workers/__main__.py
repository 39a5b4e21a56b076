"""Entry point of every worker: ``python -m singa.workers advisor|train|inference``.

The only place (with ``create_app``) that builds connections. Settings come from the
environment the admin gave the service; a worker that runs user code gets no database settings.
"""
import argparse
import logging
import sys

from singa.config import Settings
from singa.errors import ConfigError
from singa.workers.loop import StopFlag, configure_logging, install_signal_handlers

ROLES = ('advisor', 'train', 'inference')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m singa.workers')
    parser.add_argument('role', choices=ROLES)
    args = parser.parse_args(argv)
    configure_logging(args.role)
    try:
        settings = Settings.from_env().require(args.role)
    except ConfigError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    configure_logging(args.role, settings=settings)
    stop = StopFlag()
    from singa.queues import make_redis
    redis_client = make_redis(settings)
    if args.role == 'advisor':
        from singa.meta_store.db import MetaStore
        from singa.workers.advisor import AdvisorWorker
        store = MetaStore(settings.postgres_dsn, max_connections=2)
        install_signal_handlers(stop)
        try:
            return AdvisorWorker(settings, store, redis_client, stop).run()
        finally:
            store.close()
    # Workers that drive model code keep their credentials out of its reach (see singa.sandbox).
    from singa.sandbox.container import harden_runner
    harden_runner()
    if args.role == 'train':
        from singa.workers.train import TrainWorker
        worker = TrainWorker(settings, redis_client, stop)
        install_signal_handlers(stop, on_signal=worker.on_stop_signal)
        return worker.run()
    from singa.workers.inference import InferenceWorker
    worker = InferenceWorker(settings, redis_client, stop)
    install_signal_handlers(stop)
    return worker.run()


if __name__ == '__main__':
    logging.captureWarnings(True)
    sys.exit(main())
