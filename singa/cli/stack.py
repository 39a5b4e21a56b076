"""The ``singa`` command: ``singa up``, ``singa down [--purge]``, ``singa status``.

Settings come from the ``SINGA_*`` environment (``singa.config``); the flags below override it.
Exit codes: 0 done (``status``: everything up), 1 failed, 3 (``status`` only) something is down.
"""
import argparse
import dataclasses
import json
import sys

from singa.config import Settings
from singa.errors import SingaError

EXIT_FAILED = 1
EXIT_NOT_ALL_UP = 3


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--data-dir', help='where the stack keeps its state (SINGA_DATA_DIR, default ~/.singa)')
    parser = argparse.ArgumentParser(prog='singa', description='The SingaAuto embedded local stack.')
    commands = parser.add_subparsers(dest='command', required=True, metavar='{up,down,status}')
    up = commands.add_parser('up', parents=[common], help='start PostgreSQL, Redis and the admin')
    up.add_argument('--port', type=int, help='the admin port (SINGA_ADMIN_PORT, default 3000)')
    up.add_argument('--host', help='the address the admin binds (SINGA_ADMIN_HOST, default 127.0.0.1)')
    up.add_argument('--json', action='store_true', help='print what started and the credentials as JSON')
    up.add_argument('--single-user', action='store_true',
                    help='one trusted user: where no sandbox can be had, run every user\'s templates anyway '
                         '(SINGA_SINGLE_USER)')
    down = commands.add_parser('down', parents=[common], help='stop every job and the whole stack')
    down.add_argument('--purge', action='store_true', help='also delete the data directory')
    status = commands.add_parser('status', parents=[common], help='report each component')
    status.add_argument('--json', action='store_true', help='print JSON')
    return parser


def _settings(args) -> Settings:
    overrides = {}
    if args.data_dir:
        overrides['data_dir'] = args.data_dir
    if getattr(args, 'port', None):
        overrides['admin_port'] = args.port
    if getattr(args, 'host', None):
        overrides['admin_host'] = args.host
    if getattr(args, 'single_user', False):
        overrides['single_user'] = True
    return Settings.from_env(**overrides)


def _up(stack, as_json: bool = False) -> int:
    info = stack.up()
    if as_json:
        print(json.dumps(dataclasses.asdict(info), indent=2))
        return 0
    print('SingaAuto is up.' if info.started else 'SingaAuto was already up.')
    print(f'  admin:       {info.admin_url}')
    print(f'  superadmin:  {info.superadmin_email}')
    print(f'  password:    {info.superadmin_password}')
    print(f'  data dir:    {info.data_dir}')
    print(f'  sandbox:     {info.sandbox}')
    if info.started:
        print(f"  started:     {', '.join(info.started)}")
    for note in info.notes:
        print(f'note: {note}', file=sys.stderr)
    return 0


def _down(stack, purge: bool) -> int:
    for line in stack.down(purge=purge):
        print(line)
    print('SingaAuto is down.')
    return 0


def _status(stack, as_json: bool) -> int:
    components, services = stack.status(), stack.service_statuses()
    if as_json:
        print(json.dumps({'components': [dataclasses.asdict(c) for c in components],
                          'services': services}, indent=2))
    else:
        for c in components:
            state = 'up' if c.running else 'down'
            pid = f'pid {c.pid}' if c.pid else ''
            port = f'port {c.port}' if c.port else ''
            print(f"{c.name:<9} {state:<5} {pid:<11} {port:<11} {c.detail}".rstrip())
        by_status = {}
        for service in services:
            by_status[service['status']] = by_status.get(service['status'], 0) + 1
        counts = ', '.join(f'{n} {status}' for status, n in sorted(by_status.items()))
        print(f"services  {len(services)}" + (f' ({counts})' if counts else ''))
    return 0 if all(c.running for c in components) else EXIT_NOT_ALL_UP


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        from singa.local.stack import LocalStack
        stack = LocalStack(_settings(args))
        if args.command == 'up':
            return _up(stack, args.json)
        if args.command == 'down':
            return _down(stack, args.purge)
        return _status(stack, args.json)
    except SingaError as e:
        print(f'singa {args.command}: {e.message}', file=sys.stderr)
        return EXIT_FAILED


if __name__ == '__main__':
    sys.exit(main())
