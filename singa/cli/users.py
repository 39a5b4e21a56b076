"""``singa users ...`` (admins manage users; anyone changes their own password) and
``singa stop-all-jobs`` (the superadmin)."""
from singa.cli import exits
from singa.cli.auth import PASSWORD_STDIN_HELP, read_password
from singa.cli.base import command, group
from singa.cli.exits import UsageError
from singa.constants import UserType

USER_COLUMNS = [('ID', 'id'), ('EMAIL', 'email'), ('TYPE', 'user_type'), ('CREATED', 'created_at'),
                ('BANNED', 'banned_at')]


def register(commands) -> None:
    users = group(commands, 'users', help='create, list, ban and unban users; passwords',
                  description='Users. Admins create, list, ban, unban users and reset their passwords (only a '
                              'SUPERADMIN does so to ADMINs); anyone changes their own password.')
    command(users, 'list', _list, help='list every user (admins)')
    create = command(users, 'create', _create, help='create a user (admins)',
                     description='Create a user. The password is asked for on the terminal (twice), or read from '
                                 'standard input with --password-stdin.',
                     epilog='example:\n  singa users create dev@example.com --type MODEL_DEVELOPER')
    create.add_argument('email')
    create.add_argument('--type', required=True, choices=[t for t in UserType.values() if t != 'SUPERADMIN'],
                        dest='user_type', help='the user\'s role')
    create.add_argument('--password-stdin', action='store_true', help=PASSWORD_STDIN_HELP)
    for name, handler, text in (('ban', _ban, 'ban a user: their tokens stop working, their inference jobs '
                                              'stop answering (admins)'),
                                ('unban', _unban, 'lift a ban (admins)')):
        command(users, name, handler, help=text).add_argument('email')
    reset = command(users, 'reset-password', _reset, help='set another user\'s password; their tokens stop '
                                                          'working (admins)')
    reset.add_argument('email')
    reset.add_argument('--password-stdin', action='store_true', help=PASSWORD_STDIN_HELP)
    change = command(users, 'change-password', _change, help='change your own password',
                     description='Change your own password; your sessions go on (singa logout --everywhere ends '
                                 'them). With --password-stdin the old password is the first line of standard '
                                 'input and the new one the second.')
    change.add_argument('--password-stdin', action='store_true', help='read the old and the new password from '
                                                                       'two lines of standard input')
    command(commands, 'stop-all-jobs', _stop_all, help='stop every live train and inference job (superadmin)')


def _new_password(ctx, from_stdin: bool, prompt: str = 'New password: ') -> str:
    password = read_password(ctx, from_stdin, prompt)
    if not from_stdin and read_password(ctx, False, 'Again: ') != password:
        raise UsageError('the two passwords differ')
    return password


def _list(args, ctx) -> int:
    found = ctx.client().get_users()
    ctx.out.result(found, lambda: ctx.out.table(found, USER_COLUMNS, empty='no users'))
    return exits.OK


def _show_user(ctx, user: dict, done: str) -> int:
    ctx.out.result(user, lambda: ctx.out.line(f'{done} {user["email"]} ({user["user_type"]}, id {user["id"]}).'))
    return exits.OK


def _create(args, ctx) -> int:
    client = ctx.client()
    user = client.create_user(args.email, _new_password(ctx, args.password_stdin, 'Password: '), args.user_type)
    return _show_user(ctx, user, 'Created')


def _ban(args, ctx) -> int:
    return _show_user(ctx, ctx.client().ban_user(args.email), 'Banned')


def _unban(args, ctx) -> int:
    return _show_user(ctx, ctx.client().unban_user(args.email), 'Unbanned')


def _reset(args, ctx) -> int:
    client = ctx.client()
    return _show_user(ctx, client.reset_password(args.email, _new_password(ctx, args.password_stdin)),
                      'Set the password of')


def _change(args, ctx) -> int:
    client = ctx.client()
    old = read_password(ctx, args.password_stdin, 'Current password: ')
    return _show_user(ctx, client.change_password(old, _new_password(ctx, args.password_stdin)),
                      'Changed the password of')


def _stop_all(args, ctx) -> int:
    stopped = ctx.client().stop_all_jobs()
    ctx.out.result(stopped, lambda: ctx.out.line(f'Stopped {len(stopped["train_jobs"])} train job(s) and '
                                                 f'{len(stopped["inference_jobs"])} inference job(s).'))
    return exits.OK
