"""The ``singa`` command: the local stack (``up``, ``down``, ``status``) and, through the client SDK
(``singa.client.Client``), everything the admin offers, grouped by resource.

Each module here registers one group of commands and stays a thin layer over the client: it parses
arguments, calls the client and prints (``output``); errors become exit codes (``exits``); the
admin and the token come from ``singa login`` or the environment (``session``).
"""
import argparse
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Mapping, Optional, TextIO

from singa.cli import (auth, datasets, exits, inference, keys, models, predict, stack, trials, train,
                       users)
from singa.cli.base import Context, HelpFormatter
from singa.cli.output import Output
from singa.config import current_environment
from singa.errors import SingaError

EXIT_FAILED = exits.FAILED
EXIT_NOT_ALL_UP = exits.NOT_ALL_UP
GROUPS = (stack, auth, users, datasets, models, train, trials, inference, keys, predict)
EPILOG = f"""Every command takes --help, and --json to print JSON (the admin's own objects).
The admin and the token come from `singa login` ($XDG_CONFIG_HOME/singa/credentials.json, else
~/.config/singa/credentials.json), or from SINGA_ADMIN_HOST, SINGA_ADMIN_PORT and SINGA_TOKEN.

{exits.DESCRIPTION}"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='singa', description='SingaAuto: the local stack, and the platform '
                                                               'through its admin.',
                                     epilog=EPILOG, formatter_class=HelpFormatter)
    parser.add_argument('--version', action='version', version=f'%(prog)s {_version()}')
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND', title='commands')
    for module in GROUPS:
        module.register(commands)
    return parser


_parser = build_parser


def main(argv=None, environ: Optional[Mapping[str, str]] = None, stdin: Optional[TextIO] = None,
         stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None) -> int:
    args = build_parser().parse_args(argv)
    out = Output(getattr(args, 'json', False), stdout, stderr)
    ctx = Context(environ if environ is not None else current_environment(), out, stdin or sys.stdin)
    name = ' '.join(filter(None, (args.command, getattr(args, 'action', None))))
    try:
        return args.handler(args, ctx)
    except SingaError as e:
        code = exits.exit_code_of(e)
        out.error(dict(e.to_dict(), status_code=e.status_code), code, name)
        if code == exits.UNAUTHENTICATED and e.status_code is not None and ctx.credential == 'login':
            out.hint('the admin refused the token: log in again with `singa login`')
        return code
    except exits.UsageError as e:
        out.error({'type': 'UsageError', 'message': str(e)}, exits.USAGE, name)
        return exits.USAGE
    except TimeoutError as e:
        out.error({'type': 'TimeoutError', 'message': str(e)}, exits.TIMEOUT, name)
        return exits.TIMEOUT
    except KeyboardInterrupt:
        return exits.INTERRUPTED
    except BrokenPipeError:                  # `singa ... | head`: the reader has gone; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exits.FAILED


def _version() -> str:
    try:
        return version('singa-auto')
    except PackageNotFoundError:
        return 'unknown'
