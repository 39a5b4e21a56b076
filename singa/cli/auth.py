"""``singa login``, ``singa logout``, ``singa whoami``, and how the command reads a password.

A password is never an argument (any local user can read a command line): it is asked for on the
terminal without echo, or read from standard input with ``--password-stdin``.
"""
import getpass

from singa.cli import exits
from singa.cli.base import command
from singa.cli.exits import UsageError
from singa.cli.output import cell
from singa.cli.session import TOKEN_VARIABLE, Session, credentials_path, forget_credentials, save_credentials
from singa.client import Client
from singa.errors import SingaError

PASSWORD_STDIN_HELP = 'read the password from the first line of standard input instead of asking on the terminal'


def register(commands) -> None:
    login = command(commands, 'login', _login, help='log in and keep the token for the next commands',
                    description='Log in to the admin and keep its address and the token in '
                                '$XDG_CONFIG_HOME/singa/credentials.json (mode 0600). The password is asked '
                                'for on the terminal, or read from standard input with --password-stdin; '
                                'it is never an argument.',
                    epilog='examples:\n  singa login superadmin@singaauto\n'
                           '  singa login dev@example.com --port 3000 --password-stdin < password.txt')
    login.add_argument('email', nargs='?', help='your email (asked for when not given)')
    login.add_argument('--host', help='the admin\'s host (default: SINGA_ADMIN_HOST, the saved one, or localhost)')
    login.add_argument('--port', type=int, help='the admin\'s port (default: SINGA_ADMIN_PORT, the saved one, '
                                                'or 3000)')
    login.add_argument('--password-stdin', action='store_true', help=PASSWORD_STDIN_HELP)
    logout = command(commands, 'logout', _logout, help='revoke the token and forget it',
                     description='Revoke the saved token on the admin it came from and remove the credentials '
                                 'file (with no saved login: revoke SINGA_TOKEN\'s token). When the admin cannot '
                                 'be reached the file is removed anyway and the exit code is 7 (the token then '
                                 'works until it expires).')
    logout.add_argument('--everywhere', action='store_true',
                        help='revoke every token you were given so far (your other sessions end too)')
    command(commands, 'whoami', _whoami, help='show the logged-in user and the admin',
            description='Show the user the admin knows the token as, and where the token came from.')


def read_password(ctx, from_stdin: bool, prompt: str = 'Password: ') -> str:
    """One password: a line of standard input (``--password-stdin``), or asked on the terminal."""
    if from_stdin:
        password = ctx.stdin.readline().rstrip('\r\n')
    elif ctx.stdin.isatty():
        password = getpass.getpass(prompt)
    else:
        raise UsageError('no terminal to ask for the password on: give it on standard input with --password-stdin')
    if not password:
        raise UsageError('the password is empty')
    return password


def _login(args, ctx) -> int:
    try:
        session = Session.resolve(ctx.environ, host=args.host, port=args.port)
    except UsageError:               # an unreadable or unsafe saved login: this one replaces it
        session = Session.resolve(ctx.environ, host=args.host, port=args.port, use_saved=False)
    ctx.credential = 'password'
    email = args.email
    if not email:
        if args.password_stdin or not ctx.stdin.isatty():
            raise UsageError('give your email: singa login EMAIL')
        ctx.out.stderr.write('Email: ')
        ctx.out.stderr.flush()
        email = ctx.stdin.readline().strip()
    password = read_password(ctx, args.password_stdin)
    client = Client(admin_host=session.host, admin_port=session.port)
    user = client.login(email, password)
    saved = {'admin_host': session.host, 'admin_port': session.port, 'email': email, 'user_id': user['id'],
             'user_type': user['user_type'], 'expires_at': user['expires_at'], 'token': client.token}
    path = save_credentials(ctx.environ, saved)
    if ctx.environ.get(TOKEN_VARIABLE):
        ctx.out.note(f'note: {TOKEN_VARIABLE} is set and wins over this login until you unset it')
    shown = {k: v for k, v in saved.items() if k != 'token'}
    ctx.out.result(dict(shown, admin_url=session.admin_url, credentials_file=path),
                   lambda: ctx.out.line(f'Logged in to {session.admin_url} as {email} ({user["user_type"]}); '
                                        f'the token is kept in {path} until {cell(user["expires_at"])}.'))
    return exits.OK


def _logout(args, ctx) -> int:
    """Revoke the saved login's token at the admin it came from (else SINGA_TOKEN's), then forget it."""
    session = Session.saved(ctx.environ) or ctx.session()
    revoked, failure = False, None
    if session.token:
        try:
            session.client().logout(everywhere=args.everywhere)
            revoked = True
        except SingaError as e:          # the admin could not be reached or failed: forget the token anyway
            failure = e
    removed = forget_credentials(ctx.environ)
    result = {'admin_url': session.admin_url, 'revoked': revoked, 'everywhere': revoked and args.everywhere,
              'credentials_removed': removed}

    def human():
        if revoked:
            ctx.out.line(f'Logged out of {session.admin_url}' + (' everywhere.' if args.everywhere else '.'))
        elif not failure:
            ctx.out.line('Not logged in.')
        if removed:
            ctx.out.line(f'Removed {credentials_path(ctx.environ)}.')
    ctx.out.result(result, human)
    if ctx.environ.get(TOKEN_VARIABLE):
        ctx.out.note(f'note: {TOKEN_VARIABLE} is still set' + (' (its token is revoked)'
                                                                 if session.token_source == TOKEN_VARIABLE else ''))
    if failure:
        ctx.out.note(f'singa logout: the token was not revoked ({failure.message}); it works until it expires')
        return exits.exit_code_of(failure)
    return exits.OK


def _whoami(args, ctx) -> int:
    session = ctx.session()
    user = session.client().get_current_user()
    ctx.out.result(dict(user, admin_url=session.admin_url, token_from=session.token_source),
                   lambda: ctx.out.fields(dict(user, admin=session.admin_url, token_from=session.token_source),
                                          ['email', 'user_type', 'id', 'admin', 'token_from']))
    return exits.OK
