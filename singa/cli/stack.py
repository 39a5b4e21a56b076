"""``singa up``, ``singa down [--purge]``, ``singa status``: the embedded local stack.

Settings come from the ``SINGA_*`` environment (``singa.config``); the flags below override it.
Exit codes: 0 done (``status``: everything up), 1 failed, 3 (``status`` only) something is down.
"""
import argparse
import dataclasses

from singa.cli import exits
from singa.cli.base import JSON_HELP
from singa.config import Settings


def register(commands) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--data-dir', help='where the stack keeps its state (SINGA_DATA_DIR, default ~/.singa)')
    up = commands.add_parser('up', parents=[common], help='start PostgreSQL, Redis and the admin',
                             description='Start the embedded local stack (PostgreSQL, Redis, the admin); '
                                         'start only what is not running, and print where it is.')
    up.add_argument('--port', type=int, help='the admin port (SINGA_ADMIN_PORT, default 3000)')
    up.add_argument('--host', help='the address the admin binds (SINGA_ADMIN_HOST, default 127.0.0.1)')
    up.add_argument('--json', action='store_true', help='print what started and the credentials as JSON')
    up.add_argument('--single-user', action='store_true',
                    help='one trusted user: where no sandbox can be had, run every user\'s templates anyway '
                         '(SINGA_SINGLE_USER)')
    up.set_defaults(handler=_up)
    down = commands.add_parser('down', parents=[common], help='stop every job and the whole stack',
                               description='Stop every job, the admin, Redis and PostgreSQL of the local stack.')
    down.add_argument('--purge', action='store_true', help='also delete the data directory')
    down.add_argument('--json', action='store_true', help=JSON_HELP)
    down.set_defaults(handler=_down)
    status = commands.add_parser('status', parents=[common], help='report each component',
                                 description='Report each component of the local stack and its services '
                                             '(exit code 0 when all are up, 3 otherwise).')
    status.add_argument('--json', action='store_true', help='print JSON')
    status.set_defaults(handler=_status)


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


def _stack(args):
    from singa.local.stack import LocalStack
    return LocalStack(_settings(args))


def _up(args, ctx) -> int:
    info = _stack(args).up()
    if args.json:
        ctx.out.json(dataclasses.asdict(info))
        return exits.OK
    line = ctx.out.line
    line('SingaAuto is up.' if info.started else 'SingaAuto was already up.')
    line(f'  admin:       {info.admin_url}')
    line(f'  superadmin:  {info.superadmin_email}')
    line(f'  password:    {info.superadmin_password}')
    line(f'  data dir:    {info.data_dir}')
    line(f'  sandbox:     {info.sandbox}')
    if info.started:
        line(f"  started:     {', '.join(info.started)}")
    for note in info.notes:
        ctx.out.note(f'note: {note}')
    return exits.OK


def _down(args, ctx) -> int:
    steps = []
    for step in _stack(args).down(purge=args.purge):      # printed as they happen
        steps.append(step)
        if not args.json:
            ctx.out.line(step)
    ctx.out.result({'down': True, 'purged': args.purge, 'steps': steps}, lambda: ctx.out.line('SingaAuto is down.'))
    return exits.OK


def _status(args, ctx) -> int:
    stack = _stack(args)
    components, services = stack.status(), stack.service_statuses()
    if args.json:
        ctx.out.json({'components': [dataclasses.asdict(c) for c in components], 'services': services})
    else:
        for c in components:
            state = 'up' if c.running else 'down'
            pid = f'pid {c.pid}' if c.pid else ''
            port = f'port {c.port}' if c.port else ''
            ctx.out.line(f"{c.name:<9} {state:<5} {pid:<11} {port:<11} {c.detail}".rstrip())
        by_status = {}
        for service in services:
            by_status[service['status']] = by_status.get(service['status'], 0) + 1
        counts = ', '.join(f'{n} {status}' for status, n in sorted(by_status.items()))
        ctx.out.line(f"services  {len(services)}" + (f' ({counts})' if counts else ''))
    return exits.OK if all(c.running for c in components) else exits.NOT_ALL_UP
