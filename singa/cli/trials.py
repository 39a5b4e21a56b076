"""``singa trials list|show|logs|parameters``: the trials of a train job and what they logged."""
import time

from singa.cli import exits
from singa.cli.base import app_command, command, group, positive
from singa.cli.output import cell, duration
from singa.cli.progress import LIVE_TRIALS

COLUMNS = [('ID', 'id'), ('NO', 'no'), ('TEMPLATE', 'model_name'), ('STATUS', 'status'), ('SCORE', 'score'),
           ('TIME', lambda t: _seconds(t['duration_seconds'])), ('METRICS', 'metrics'), ('KNOBS', 'knobs')]
FIELDS = ['id', 'no', 'model_name', 'status', 'score', 'metrics', 'params_bytes', 'knobs', 'phase', 'attempt',
          'retry_of', 'error',
          'is_params_saved', 'started_at', 'stopped_at', 'duration_seconds', 'train_job_id', 'model_id']


def register(commands) -> None:
    trials = group(commands, 'trials', help='list and show the trials of a train job; their logs and parameters')
    listing = app_command(trials, 'list', _list, help='list a train job\'s trials, newest first (or the best)')
    listing.add_argument('--best', type=int, metavar='N', help='only the best N, best first')
    listing.add_argument('--limit', type=int, default=1000, help='at most this many (default 1000)')
    listing.add_argument('--offset', type=int, default=0, help='skip this many of the newest')
    pareto = app_command(trials, 'pareto', _pareto, help='list the Pareto front of a train job: the completed trials '
                                                         'that no other beats on every objective (within its constraints)')
    pareto.add_argument('--objective', action='append', metavar='NAME[:maximize|minimize]',
                        help='find the front on this figure instead of the job\'s objectives (repeat for each; '
                             'the direction defaults to maximize)')
    pareto.add_argument('--others', action='store_true', help='list the job\'s other completed trials too')
    show = command(trials, 'show', _show, help='show a trial: knobs, status, score')
    show.add_argument('trial', help='the trial\'s id')
    logs = command(trials, 'logs', _logs, help='print a trial\'s log (its messages and metrics)',
                   description='Print what a trial logged: messages and metrics, by time. With --follow, keep '
                               'printing new lines until the trial ends. With --json: the admin\'s answer '
                               '({plots, metrics, messages, last_id}); with --follow, one such object per '
                               'line for each read that found new lines.')
    logs.add_argument('trial', help='the trial\'s id')
    logs.add_argument('-f', '--follow', action='store_true', help='wait for new lines until the trial ends')
    logs.add_argument('--interval', type=positive, default=1.0, metavar='SECONDS',
                      help='with --follow: how often to look (default 1)')
    params = command(trials, 'parameters', _parameters, help='save a trial\'s trained parameters to a file',
                     description='Save a trial\'s trained parameters as the admin stores them (SingaAuto\'s '
                                 'pickle-free format: decode with singa.param_store.codec.decode_params).')
    params.add_argument('trial', help='the trial\'s id')
    params.add_argument('-o', '--output', required=True, metavar='FILE', help='where to write them')


def _seconds(value) -> str:
    return duration(value) if value is None or value >= 60 else f'{value:.1f}s'


def _list(args, ctx) -> int:
    client = ctx.client()
    if args.best is not None:
        found = client.get_best_trials_of_train_job(args.app, args.app_version, max_count=args.best,
                                                    user_id=args.user_id)
    else:
        found = client.get_trials_of_train_job(args.app, args.app_version, limit=args.limit, offset=args.offset,
                                               user_id=args.user_id)
    ctx.out.result(found, lambda: ctx.out.table(found, COLUMNS, empty='no trials'))
    return exits.OK


def _pareto(args, ctx) -> int:
    objectives = [dict(zip(('name', 'direction'), axis.split(':', 1))) for axis in args.objective or ()]
    front = ctx.client().get_pareto_front(args.app, args.app_version, user_id=args.user_id,
                                          objectives=objectives or None, others=args.others)

    def show() -> None:
        goals = ', '.join(f'{o["direction"]} {o["name"]}' for o in front['objectives'])
        bounds = ', '.join(f'{c.get("min", "")}<={c["name"]}<={c.get("max", "")}' for c in front['constraints'])
        ctx.out.line(f'Objectives: {goals}' + (f'; constraints: {bounds}' if bounds else ''))
        columns = [('ID', 'id'), ('NO', 'no'), ('TEMPLATE', 'model_name')]
        columns += [(o['name'].upper(), lambda t, name=o['name']: t['values'].get(name)) for o in front['objectives']]
        ctx.out.table(front['trials'], columns + [('KNOBS', 'knobs')], empty='no completed trial meets the constraints')
        if args.others:
            ctx.out.line('Other completed trials:')
            ctx.out.table(front['others'], columns + [('FEASIBLE', 'feasible')], empty='none')
    ctx.out.result(front, show)
    return exits.OK


def _show(args, ctx) -> int:
    trial = ctx.client().get_trial(args.trial)
    ctx.out.result(trial, lambda: ctx.out.fields(trial, FIELDS))
    return exits.OK


def _logs(args, ctx) -> int:
    client = ctx.client()
    after = 0
    while True:
        ended = not args.follow or client.get_trial(args.trial)['status'] not in LIVE_TRIALS
        logs = client.get_trial_logs(args.trial, after_id=after)    # read after the status: nothing is missed
        _print_logs(ctx, logs, first=after == 0, follow=args.follow)
        after = logs['last_id']
        if ended:
            return exits.OK
        time.sleep(args.interval)


def _print_logs(ctx, logs: dict, first: bool, follow: bool) -> None:
    if ctx.out.as_json:
        if not follow:
            ctx.out.json(logs)
        elif first or logs['plots'] or logs['metrics'] or logs['messages']:
            ctx.out.json(logs, compact=True)
        return
    for plot in logs['plots']:
        ctx.out.line(f'plot      {plot.get("title")}: {", ".join(plot.get("metrics") or [])}'
                     + (f' by {plot["x_axis"]}' if plot.get('x_axis') else ''))
    lines = [(m.get('time') or '', f'{m.get("level", ""):<8}  {m.get("message", "")}') for m in logs['messages']]
    lines += [(m.get('time') or '', 'metric    ' + ' '.join(f'{k}={cell(v)}' for k, v in m.items() if k != 'time'))
              for m in logs['metrics']]
    for moment, text in sorted(lines, key=lambda pair: pair[0]):
        ctx.out.line(f'{cell(moment)}  {text}' if moment else text)


def _parameters(args, ctx) -> int:
    path = ctx.client().download_trial_parameters(args.trial, args.output)
    ctx.out.result({'id': args.trial, 'path': path}, lambda: ctx.out.line(f'Saved the parameters to {path}.'))
    return exits.OK
