"""``singa train create|list|show|wait|stop|resume|budget|enqueue``: train jobs, with a progress display
while waiting."""
from datetime import datetime, timezone

from singa.cli import datasets, exits, models
from singa.cli.base import app_command, command, group, parse_json, positive
from singa.cli.exits import UsageError
from singa.cli.output import duration
from singa.cli.progress import JobProgress, ProgressDisplay
from singa.constants import AdvisorType, BudgetKey, PrunerType, Task

JOB_COLUMNS = [('APP', 'app'), ('VERSION', 'app_version'), ('STATUS', 'status'),
               ('TRIALS', lambda j: f'{j["trials_completed"]}/{j["trials_total"]}'), ('BEST', 'best_score'),
               ('CREATED', 'created_at')]
JOB_FIELDS = ['app', 'app_version', 'id', 'task', 'status', 'error', 'budget', 'advisor_config', 'train_dataset_id',
              'val_dataset_id', 'created_at', 'deadline_at', 'stopped_at', 'trials_completed', 'trials_total',
              'best_score']
SUB_JOB_COLUMNS = [('TEMPLATE', 'model_name'), ('STATUS', 'status'),
                   ('TRIALS', lambda s: ', '.join(f'{n} {status}' for status, n in sorted(s['trials'].items()))),
                   ('BEST', 'best_score'), ('ERROR', 'error')]
BUDGET_OPTIONS = (('time_hours', BudgetKey.TIME_HOURS), ('trials', BudgetKey.MODEL_TRIAL_COUNT),
                  ('workers', BudgetKey.WORKERS_PER_MODEL), ('gpus', BudgetKey.GPU_COUNT),
                  ('max_concurrent_trials', BudgetKey.MAX_CONCURRENT_TRIALS))
WAIT_EPILOG = ('While it waits it shows the trials done, the best score and the time; on a terminal as one '
               'line redrawn in place, otherwise a line per change. Exit code 0 when the job ends STOPPED, 8 when '
               'it ends ERRORED, 9 after --timeout; Ctrl-C stops waiting, not the job.')


def register(commands) -> None:
    train = group(commands, 'train', help='create train jobs, follow them, list, show and stop them',
                  description='Train jobs: tune model templates on a dataset in parallel within a budget.')
    create = command(train, 'create', _create, help='create a train job and show its progress until it ends',
                     description='Create a train job: tune each template (default: every one available for the '
                                 'task) in parallel within the budget, then show its progress until it ends '
                                 '(--detach returns at once).',
                     epilog=WAIT_EPILOG + '\n\nexample:\n  singa train create iris --train-dataset iris-train '
                                          '--val-dataset iris-val --model tree --trials 20 --time-hours 0.1')
    create.add_argument('app', help='the application\'s name; each new job of it gets the next version')
    create.add_argument('--train-dataset', required=True, metavar='DATASET', help='training data: name or id')
    create.add_argument('--val-dataset', required=True, metavar='DATASET', help='validation data: name or id')
    create.add_argument('--task', choices=Task.values(), help='default: the training dataset\'s task')
    create.add_argument('--model', action='append', dest='models', metavar='MODEL',
                        help='a template to tune, by name or id (repeat for more; default: every one available '
                             'for the task)')
    budget = create.add_argument_group('budget')
    budget.add_argument('--time-hours', type=positive, metavar='H', help='hours from creation to the deadline '
                                                                          '(TIME_HOURS; default 0.1)')
    budget.add_argument('--trials', type=int, metavar='N', help='trials per template (MODEL_TRIAL_COUNT; -1: no '
                                                                'limit but the deadline)')
    budget.add_argument('--workers', type=int, metavar='N', help='train workers per template (WORKERS_PER_MODEL)')
    budget.add_argument('--gpus', type=int, metavar='N', help='GPUs, one per worker (GPU_COUNT; Swarm only)')
    budget.add_argument('--max-concurrent-trials', type=int, metavar='N',
                        help='at most N trials running at once across all the templates (MAX_CONCURRENT_TRIALS)')
    search = create.add_argument_group('search')
    search.add_argument('--advisor', choices=AdvisorType.values(), help='how trials are proposed (default AUTO)')
    search.add_argument('--pruner', choices=PrunerType.values(), help='how trials are stopped early '
                                                                      '(default NONE)')
    search.add_argument('--max-trial-retries', type=int, metavar='N', help='re-runs of a trial whose worker died')
    search.add_argument('--seed', type=int, help='seeds the advisor, for proposals that repeat')
    search.add_argument('--allow-repeats', action='store_true', default=None,
                        help='let the advisor propose a knob set twice (a finite space is otherwise searched '
                             'without repeats and ends when every knob set was tried)')
    search.add_argument('--train-args', metavar='JSON', help='a JSON object passed to train() as keyword arguments')
    search.add_argument('--warm-start-from', nargs=2, metavar=('APP', 'VERSION'),
                        help='an earlier job of yours whose completed trials start the search (-1: its latest)')
    search.add_argument('--objective', action='append', dest='objectives', metavar='METRIC[:DIRECTION]',
                        help='what to optimize, maximize (default) or minimize, e.g. accuracy or '
                             'predict_latency_ms:minimize; repeat it for a multi-objective search (default: score)')
    search.add_argument('--constraints', metavar='JSON', help='bounds a good trial meets, a JSON list such as '
                                                              '[{"name": "predict_latency_ms", "max": 5}]')
    _add_wait_options(create)
    create.add_argument('--detach', action='store_true', help='print the new job and return without waiting')

    app_command(train, 'list', _list, help='list your train jobs (of one app, if given)', listing=True)
    app_command(train, 'show', _show, help='show a train job and its templates\' progress')
    _add_wait_options(app_command(train, 'wait', _wait, help='show a train job\'s progress until it ends',
                                  for_admins=False, epilog=WAIT_EPILOG))
    app_command(train, 'stop', _stop, help='stop a train job (its running trials are stopped and recorded)')
    resume = app_command(train, 'resume', _resume, help='run a stopped or errored train job again with a new budget',
                         description='Resume an ended train job as the same study: its trials are kept and the '
                                     'search goes on from them, within the new budget.')
    _add_budget_options(resume, BUDGET_OPTIONS)
    _add_wait_options(resume)
    resume.add_argument('--detach', action='store_true', help='print the job and return without waiting')
    change = app_command(train, 'budget', _budget, help='raise or lower a running train job\'s time and trial budget')
    _add_budget_options(change, BUDGET_OPTIONS[:2])
    enqueue = app_command(train, 'enqueue', _enqueue, help='queue a trial with given knobs on a running train job')
    enqueue.add_argument('--model', required=True, metavar='NAME', help='the template, by name')
    enqueue.add_argument('--knobs', required=True, metavar='JSON', help='a JSON object: a value for every knob')


def _add_budget_options(parser, options) -> None:
    group = parser.add_argument_group('budget')
    for name, key in options:
        group.add_argument('--' + name.replace('_', '-'), type=positive if key == BudgetKey.TIME_HOURS else int,
                           metavar='N', help=key.value)


def _add_wait_options(parser) -> None:
    parser.add_argument('--timeout', type=positive, metavar='SECONDS', help='stop waiting after this long '
                                                                              '(exit code 9)')
    parser.add_argument('--interval', type=positive, default=1.0, metavar='SECONDS',
                        help='how often to ask the admin (default 1)')


def _create(args, ctx) -> int:
    client = ctx.client()
    train_set = datasets.find(client, args.train_dataset)
    val_set = datasets.find(client, args.val_dataset)
    model_ids = [models.find(client, ref)['id'] for ref in args.models] if args.models else None
    train_args = parse_json(args.train_args, '--train-args') if args.train_args else None
    if train_args is not None and not isinstance(train_args, dict):
        raise UsageError('--train-args must be a JSON object')
    budget = _budget_of(args, BUDGET_OPTIONS)
    job = client.create_train_job(args.app, args.task or train_set['task'], train_set['id'], val_set['id'],
                                  budget=budget, models=model_ids, train_args=train_args, advisor=args.advisor,
                                  pruner=args.pruner, max_trial_retries=args.max_trial_retries, seed=args.seed,
                                  allow_repeats=args.allow_repeats,
                                  warm_start_from=_warm_start_source(args.warm_start_from),
                                  objectives=_objectives(args.objectives),
                                  constraints=parse_json(args.constraints, '--constraints') if args.constraints
                                  else None)
    if args.detach:
        ctx.out.result(job, lambda: _describe(ctx, job))
        return exits.OK
    if not ctx.out.as_json:
        ctx.out.line(f'Created train job {job["app"]} v{job["app_version"]} ({job["id"]}).')
    return watch(ctx, client, job['app'], job['app_version'], args.timeout, args.interval)


def _objectives(given):
    """``--objective METRIC[:DIRECTION]`` options as the API's ``objectives`` (the admin checks them)."""
    if not given:
        return None
    return [dict(zip(('name', 'direction'), text.rsplit(':', 1))) for text in given]


def watch(ctx, client, app: str, version: int, timeout, interval: float) -> int:
    """Wait for the job to end, with the progress display (none with ``--json``); print the job."""
    display = None if ctx.out.as_json else ProgressDisplay(ctx.out.stdout, live=ctx.out.stdout.isatty())
    try:
        job = client.wait_until_train_job_has_stopped(app, version, timeout=timeout, interval=interval,
                                                      progress=False,
                                                      on_update=display.update if display else None)
    except KeyboardInterrupt:
        ctx.out.note(f'\nStopped waiting; the job goes on (singa train stop {app} --app-version {version} '
                     'stops it).')
        raise
    finally:
        if display:
            display.close()
    ctx.out.result(job, lambda: _describe(ctx, job))
    return exits.JOB_ERRORED if job['status'] == 'ERRORED' else exits.OK


def _describe(ctx, job: dict) -> None:
    progress = JobProgress.of(job, datetime.now(timezone.utc))
    ctx.out.line(f'{job["app"]} v{job["app_version"]} {job["status"]} after {duration(progress.elapsed)}: '
                 f'{job["trials_total"]} trials, {job["trials_completed"]} completed, best score '
                 + ('-' if job['best_score'] is None else f'{job["best_score"]:.4f}'))
    if job.get('error'):
        ctx.out.line(f'error: {job["error"]}')
    ctx.out.table(job['sub_train_jobs'], SUB_JOB_COLUMNS, empty='no templates')


def _list(args, ctx) -> int:
    client = ctx.client()
    found = (client.get_train_jobs_of_app(args.app, user_id=args.user_id) if args.app
             else client.get_train_jobs_by_user(user_id=args.user_id))
    ctx.out.result(found, lambda: ctx.out.table(found, JOB_COLUMNS, empty='no train jobs'))
    return exits.OK


def _show(args, ctx) -> int:
    job = ctx.client().get_train_job(args.app, args.app_version, user_id=args.user_id)

    def human():
        ctx.out.fields(job, JOB_FIELDS)
        ctx.out.line()
        ctx.out.table(job['sub_train_jobs'], SUB_JOB_COLUMNS, empty='no templates')
    ctx.out.result(job, human)
    return exits.OK


def _wait(args, ctx) -> int:
    return watch(ctx, ctx.client(), args.app, args.app_version, args.timeout, args.interval)


def _resume(args, ctx) -> int:
    client = ctx.client()
    job = client.resume_train_job(args.app, args.app_version, budget=_budget_of(args, BUDGET_OPTIONS),
                                  user_id=args.user_id)
    if args.detach:
        ctx.out.result(job, lambda: _describe(ctx, job))
        return exits.OK
    return watch(ctx, client, job['app'], job['app_version'], args.timeout, args.interval)


def _budget(args, ctx) -> int:
    job = ctx.client().update_train_job_budget(args.app, args.app_version, budget=_budget_of(args, BUDGET_OPTIONS[:2]),
                                               user_id=args.user_id)
    ctx.out.result(job, lambda: _describe(ctx, job))
    return exits.OK


def _enqueue(args, ctx) -> int:
    knobs = parse_json(args.knobs, '--knobs')
    if not isinstance(knobs, dict):
        raise UsageError('--knobs must be a JSON object')
    queued = ctx.client().enqueue_trial(args.app, args.model, knobs, args.app_version, user_id=args.user_id)
    ctx.out.result(queued, lambda: ctx.out.line(f'Enqueued a trial of {queued["model_name"]} ({queued["id"]}).'))
    return exits.OK


def _warm_start_source(given):
    if given is None:
        return None
    app, version = given
    try:
        return app, int(version)
    except ValueError:
        raise UsageError(f'--warm-start-from takes an app and a version number; got {version!r}') from None


def _budget_of(args, options) -> dict:
    return {key.value: getattr(args, name) for name, key in options if getattr(args, name) is not None}


def _stop(args, ctx) -> int:
    job = ctx.client().stop_train_job(args.app, args.app_version, user_id=args.user_id)
    ctx.out.result(job, lambda: _describe(ctx, job))
    return exits.OK

