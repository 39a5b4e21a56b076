"""What every command module of ``singa`` shares: the context a handler gets, and how a command
is declared (help text, ``--json``, the handler).

A command module has ``register(commands)``, adding its parsers to the top-level subparsers; each
leaf parser names its handler, ``handler(args, ctx) -> exit code``, with ``set_defaults(handler=...)``.
"""
import argparse
import json
import re
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, TextIO

from singa.cli.exits import UsageError
from singa.cli.output import Output
from singa.cli.session import Session
from singa.client import Client
from singa.errors import NotFoundError

UUID = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
JSON_HELP = 'print the result as JSON (the admin\'s own JSON objects; errors as JSON on standard error)'


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Wraps prose paragraphs of descriptions and epilogs; keeps indented lines (examples) as written."""

    def _fill_text(self, text, width, indent):
        paragraphs = []
        for paragraph in text.split('\n\n'):
            lines = paragraph.splitlines()
            if any(line.startswith(' ') for line in lines):
                paragraphs.append('\n'.join(indent + line for line in lines))
            else:
                paragraphs.append(textwrap.fill(' '.join(lines), width, initial_indent=indent,
                                                subsequent_indent=indent))
        return '\n\n'.join(paragraphs)


@dataclass
class Context:
    environ: Mapping[str, str]
    out: Output
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    credential: str = 'login'       # what the admin or predictor checks: the 'login' token, a 'key', a 'password'

    def session(self) -> Session:
        return Session.resolve(self.environ)

    def client(self, login_required: bool = True) -> Client:
        return self.session().client(login_required)


def group(commands, name: str, help: str, description: str = ''):
    """A resource group (``singa datasets``...) and the subparsers of its actions."""
    parser = commands.add_parser(name, help=help, description=description or help,
                                 formatter_class=HelpFormatter)
    return parser.add_subparsers(dest='action', required=True, metavar='ACTION', title='actions')


def command(commands, name: str, handler: Callable, help: str, description: str = '',
            epilog: str = '') -> argparse.ArgumentParser:
    """A leaf command with ``--json``: ``--help`` shows ``description`` (default ``help``) and the ``epilog``."""
    parser = commands.add_parser(name, help=help, description=description or help, epilog=epilog or None,
                                 formatter_class=HelpFormatter)
    parser.add_argument('--json', action='store_true', help=JSON_HELP)
    parser.set_defaults(handler=handler)
    return parser


def add_app(parser: argparse.ArgumentParser, what: str = 'train job') -> None:
    parser.add_argument('app', help='the application\'s name')
    parser.add_argument('--app-version', type=int, default=-1, metavar='N',
                        help=f'which {what} of the app (default -1: the latest)')


def app_command(commands, name: str, handler: Callable, help: str, what: str = 'train job', listing: bool = False,
                for_admins: bool = True, description: str = '', epilog: str = '') -> argparse.ArgumentParser:
    """A command about the jobs of an app: APP and --app-version (a listing: an optional APP), and for
    the commands admins may run on another user's jobs, --user-id."""
    parser = command(commands, name, handler, help=help, description=description, epilog=epilog)
    if listing:
        parser.add_argument('app', nargs='?', help='only this application\'s')
    else:
        add_app(parser, what)
    if for_admins:
        parser.add_argument('--user-id', metavar='ID', help='admins: another user\'s (by user id)')
    return parser


def positive(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f'must be above 0; got {value}')
    return number


def parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as e:
        raise UsageError(f'{source} is not valid JSON: {e}') from e


def resolve(ref: str, kind: str, get: Callable[[str], dict], listing: Callable[[], list]) -> dict:
    """The object ``ref`` names: an id, or the name of exactly one object of ``listing()``."""
    if UUID.match(ref):
        return get(ref)
    named = [item for item in listing() if item.get('name') == ref]
    if not named:
        raise NotFoundError(f'no {kind} named {ref!r} (give its name or id)', resource=kind, id=ref)
    if len(named) > 1:
        raise UsageError(f'{len(named)} {kind}s are named {ref!r}; give the id of one: '
                         + ', '.join(item['id'] for item in named))
    return named[0]


def read_file_or_stdin(path: Optional[str], stdin: TextIO, what: str) -> str:
    if path in (None, '-'):
        if path is None and stdin.isatty():
            raise UsageError(f'no {what}: give a file, - for standard input, or pipe it in')
        return stdin.read()
    try:
        with open(path, encoding='utf-8') as f:
            return f.read()
    except OSError as e:
        raise UsageError(f'cannot read {path}: {e.strerror}') from e


def existing_file(path: str) -> str:
    """An argparse ``type`` for a file to upload."""
    try:
        with open(path, 'rb'):
            return path
    except OSError as e:
        raise argparse.ArgumentTypeError(f'cannot read {path}: {e.strerror}')
