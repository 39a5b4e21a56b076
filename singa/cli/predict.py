"""``singa predict``: send queries to an inference job, as its owner through the admin or with a
prediction key straight to its predictor."""
import json

from singa.cli import exits
from singa.cli.base import command, parse_json, read_file_or_stdin
from singa.cli.exits import UsageError
from singa.constants import MAX_PREDICT_QUERIES

KEY_VARIABLE = 'SINGA_PREDICTION_KEY'


def register(commands) -> None:
    predict = command(commands, 'predict', _predict, help='send queries to an inference job and print the '
                                                          'predictions',
                      description='Send queries to an inference job and print one prediction per query. The '
                                  'queries are a JSON file (or - for standard input) holding a list of queries, '
                                  'or the predictor\'s own body {"queries": [...]}; --query gives one query as '
                                  'JSON. Without a key the owner asks through the admin (logged in); with a '
                                  f'prediction key (--key-file, or {KEY_VARIABLE}) the predictor is asked '
                                  'directly, at --predictor-url or the address the admin gives.',
                      epilog='examples:\n'
                             '  singa predict iris --query \'{"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, '
                             '"petal_length_cm": 1.4, "petal_width_cm": 0.2}\'\n'
                             '  singa predict iris queries.json --key-file key.txt\n'
                             '  cat queries.json | singa predict iris - --json')
    predict.add_argument('app', help='the application\'s name')
    predict.add_argument('file', nargs='?', help='a JSON file of queries; - for standard input')
    predict.add_argument('--query', metavar='JSON', help='one query, as JSON')
    predict.add_argument('--app-version', type=int, default=-1, metavar='N',
                         help='the train job version it serves (default -1: the latest)')
    predict.add_argument('--key-file', metavar='FILE', help=f'a file holding a prediction key (default: '
                                                           f'{KEY_VARIABLE}, if set); - for standard input')
    predict.add_argument('--predictor-url', metavar='URL', help='the predictor\'s address (for a key or a public '
                                                                'job, without asking the admin)')
    predict.add_argument('--details', action='store_true', help='the whole answer: which models answered and '
                                                                'what each predicted')


def read_queries(args, stdin) -> list:
    """The queries the arguments name: ``--query``, or a JSON file (or standard input)."""
    if args.query is not None:
        if args.file is not None:
            raise UsageError('give --query or a file of queries, not both')
        return [parse_json(args.query, '--query')]
    source = 'standard input' if args.file in (None, '-') else args.file
    data = parse_json(read_file_or_stdin(args.file, stdin, 'queries'), source)
    if isinstance(data, dict) and 'queries' in data:
        data = data['queries']
    elif isinstance(data, dict):
        data = [data.get('query', data)]          # {"query": q}, or one query object
    if not isinstance(data, list) or not data:
        raise UsageError(f'{source}: expected a list of queries, or {{"queries": [...]}}')
    if len(data) > MAX_PREDICT_QUERIES:
        raise UsageError(f'{source}: {len(data)} queries; at most {MAX_PREDICT_QUERIES} go in one request')
    return data


def _prediction_key(args, ctx):
    if args.key_file is None:
        return ctx.environ.get(KEY_VARIABLE) or None
    if args.key_file == '-' and (args.file in (None, '-') and args.query is None):
        raise UsageError('standard input cannot hold both the key and the queries')
    key = read_file_or_stdin(args.key_file, ctx.stdin, 'prediction key').strip()
    if not key:
        raise UsageError(f'{args.key_file}: no prediction key in it')
    return key


def _predict(args, ctx) -> int:
    key = _prediction_key(args, ctx)
    if key is not None:
        ctx.credential = 'key'
    queries = read_queries(args, ctx.stdin)
    client = ctx.client(login_required=args.predictor_url is None)
    answer = client.predict(args.app, queries, app_version=args.app_version, prediction_key=key,
                            predictor_url=args.predictor_url, details=args.details)
    result = answer if args.details else {'predictions': answer}
    ctx.out.result(result, lambda: _show(ctx, result))
    return exits.OK


def _show(ctx, answer: dict) -> None:
    for i, prediction in enumerate(answer['predictions']):
        ctx.out.line(f'{i}\t{describe(prediction)}')
    if 'models' in answer:
        ctx.out.note('models: ' + json.dumps(answer['models']))


def describe(prediction) -> str:
    """Class probabilities as ``class K (p)`` followed by the probabilities; anything else as JSON."""
    if isinstance(prediction, list) and prediction and all(isinstance(p, (int, float)) for p in prediction):
        best = max(range(len(prediction)), key=prediction.__getitem__)
        return f'class {best} ({prediction[best]:.4f})  ' + json.dumps([round(p, 4) for p in prediction])
    return json.dumps(prediction)
