"""``singa keys create|list|revoke``: the prediction keys of an inference job."""
from singa.cli import exits
from singa.cli.base import app_command, group

COLUMNS = [('ID', 'id'), ('NAME', 'name'), ('CREATED', 'created_at'), ('REVOKED', 'revoked_at')]


def register(commands) -> None:
    keys = group(commands, 'keys', help='create, list and revoke prediction keys',
                 description='Prediction keys let application users query an inference job\'s predictor. '
                             'A key is shown once, when it is created.')
    create = app_command(keys, 'create', _create, help='create a prediction key (printed only now)',
                         what='inference job', for_admins=False,
                         epilog='example:\n  (umask 077; singa keys create iris --name mobile-app > key.txt)\n'
                                '  singa predict iris queries.json --key-file key.txt')
    create.add_argument('--name', default='', help='what the key is for')
    app_command(keys, 'list', _list, help='list the keys of an inference job (without the keys)',
                what='inference job', for_admins=False)
    revoke = app_command(keys, 'revoke', _revoke, help='revoke a key: the predictor refuses it from then on',
                         what='inference job', for_admins=False)
    revoke.add_argument('key_id', help='the key\'s id (from singa keys list)')


def _create(args, ctx) -> int:
    created = ctx.client().create_prediction_key(args.app, args.app_version, name=args.name)
    ctx.out.result(created, lambda: ctx.out.line(created['key']))
    if not ctx.out.as_json:
        ctx.out.note(f'Prediction key {created["id"]} created; the key above is shown only now.')
    return exits.OK


def _list(args, ctx) -> int:
    found = ctx.client().get_prediction_keys(args.app, args.app_version)
    ctx.out.result(found, lambda: ctx.out.table(found, COLUMNS, empty='no prediction keys'))
    return exits.OK


def _revoke(args, ctx) -> int:
    revoked = ctx.client().revoke_prediction_key(args.app, args.key_id, args.app_version)
    ctx.out.result(revoked, lambda: ctx.out.line(f'Revoked prediction key {revoked["id"]}.'))
    return exits.OK
