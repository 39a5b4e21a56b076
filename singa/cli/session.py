"""Which admin the ``singa`` command talks to, and with which token.

``singa login`` keeps the admin's address and the token it got in a file only its owner may read,
``$XDG_CONFIG_HOME/singa/credentials.json`` (default ``~/.config/singa/credentials.json``, mode
0600 in a 0700 directory, written whole or not at all); ``singa logout`` revokes the token and
removes the file. The environment wins over the file:

* ``SINGA_ADMIN_HOST`` / ``SINGA_ADMIN_PORT``: the admin's address (else the saved one, else
  ``localhost:3000``);
* ``SINGA_TOKEN``: the token to send (else the saved one, but only to the admin it was issued by,
  so a token is never sent to another address).

A credentials file that others may read is refused, as ssh refuses such a key.
"""
import json
import os
import stat
import tempfile
from dataclasses import dataclass
from typing import Mapping, Optional

from singa.cli.exits import UsageError
from singa.client import Client
from singa.client.client import DEFAULT_HOST, DEFAULT_PORT
from singa.errors import UnauthenticatedError

CREDENTIALS_FILE = 'credentials.json'
HOST_VARIABLE, PORT_VARIABLE, TOKEN_VARIABLE = 'SINGA_ADMIN_HOST', 'SINGA_ADMIN_PORT', 'SINGA_TOKEN'
BIND_EVERYWHERE = ('0.0.0.0', '::')


def config_dir(environ: Mapping[str, str]) -> str:
    base = environ.get('XDG_CONFIG_HOME') or os.path.join(environ.get('HOME') or os.path.expanduser('~'), '.config')
    return os.path.join(base, 'singa')


def credentials_path(environ: Mapping[str, str]) -> str:
    return os.path.join(config_dir(environ), CREDENTIALS_FILE)


def load_credentials(environ: Mapping[str, str]) -> Optional[dict]:
    """What ``singa login`` saved, or None."""
    path = credentials_path(environ)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise UsageError(f'cannot read {path}: {e.strerror}') from e
    with os.fdopen(fd, encoding='utf-8') as f:
        mode = os.fstat(f.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UsageError(f'{path} may be read by others (mode {stat.S_IMODE(mode):04o}): '
                             f'run `chmod 600 {path}`, or `singa login` again')
        try:
            saved = json.load(f)
        except ValueError as e:
            raise UsageError(f'{path} is not valid JSON: remove it and run `singa login` again') from e
    return saved if isinstance(saved, dict) else None


def save_credentials(environ: Mapping[str, str], credentials: dict) -> str:
    """Write the file (0600, in a 0700 directory) through a temporary file renamed over it."""
    directory = config_dir(environ)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix='.credentials-', dir=directory)     # mkstemp makes it 0600
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(credentials, f, indent=2)
            f.write('\n')
        path = credentials_path(environ)
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    return path


def forget_credentials(environ: Mapping[str, str]) -> bool:
    """Remove the file; False when there was none."""
    try:
        os.remove(credentials_path(environ))
    except FileNotFoundError:
        return False
    return True


@dataclass(frozen=True)
class Session:
    """The admin to talk to and the token for it (None: not logged in)."""
    host: str
    port: int
    token: Optional[str]
    token_source: str = ''          # 'SINGA_TOKEN', the credentials file's path, or ''

    @property
    def admin_url(self) -> str:
        return f'http://{self.host}:{self.port}'

    @classmethod
    def resolve(cls, environ: Mapping[str, str], host: Optional[str] = None, port: Optional[int] = None,
                use_saved: bool = True) -> 'Session':
        """The address from the arguments, else the environment, else the saved login; then the token."""
        saved = (load_credentials(environ) if use_saved else None) or {}
        host = host or environ.get(HOST_VARIABLE) or saved.get('admin_host') or DEFAULT_HOST
        if host in BIND_EVERYWHERE:              # the admin's bind-everything setting: it is local
            host = DEFAULT_HOST
        raw_port = port or environ.get(PORT_VARIABLE) or saved.get('admin_port') or DEFAULT_PORT
        try:
            port = int(raw_port)
        except ValueError as e:
            raise UsageError(f'{PORT_VARIABLE} must be a port number; got {raw_port!r}') from e
        if environ.get(TOKEN_VARIABLE):
            return cls(host, port, environ[TOKEN_VARIABLE], TOKEN_VARIABLE)
        if saved.get('token') and (saved.get('admin_host'), saved.get('admin_port')) == (host, port):
            return cls(host, port, saved['token'], credentials_path(environ))
        return cls(host, port, None)

    @classmethod
    def saved(cls, environ: Mapping[str, str]) -> Optional['Session']:
        """The login ``singa login`` saved, with its own address (whatever the environment says), or None."""
        saved = load_credentials(environ) or {}
        if not (saved.get('token') and saved.get('admin_host') and saved.get('admin_port')):
            return None
        return cls(saved['admin_host'], int(saved['admin_port']), saved['token'], credentials_path(environ))

    def client(self, login_required: bool = True) -> Client:
        if login_required and not self.token:
            raise UnauthenticatedError(f'not logged in to {self.admin_url}: run `singa login` '
                                       f'(or set {TOKEN_VARIABLE})')
        return Client(admin_host=self.host, admin_port=self.port, token=self.token)
