"""``singa inference create|list|show|wait|stop``: deploy a train job's best trials behind a predictor."""
from singa.cli import exits
from singa.cli.base import app_command, group, parse_json, positive
from singa.constants import EnsembleMethod
from singa.errors import SingaError

COLUMNS = [('APP', 'app'), ('VERSION', 'app_version'), ('STATUS', 'status'), ('PUBLIC', 'is_public'),
           ('PREDICTOR', 'predictor_url'), ('CREATED', 'created_at')]
FIELDS = ['app', 'app_version', 'id', 'status', 'error', 'predictor_url', 'is_public', 'description', 'config',
          'train_job_id', 'created_at', 'started_at', 'stopped_at']
WORKER_COLUMNS = [('TRIAL', 'trial_id'), ('TEMPLATE', 'model_name'), ('SCORE', 'score'), ('REPLICAS', 'replicas'),
                  ('STATUS', 'status')]
WAIT_EPILOG = ('Exit code 0 once the job is RUNNING (its predictor answers), 8 when it ends before that '
               '(ERRORED or stopped), 9 after --timeout.')


def register(commands) -> None:
    inference = group(commands, 'inference', help='deploy trained models behind a predictor; show and stop',
                      description='Inference jobs: the best trials of a stopped train job, deployed as an ensemble '
                                  'behind one predictor that `singa predict` and application users query.')
    create = app_command(inference, 'create', _create, for_admins=False,
                         help='deploy the best trials of a train job and wait until they serve',
                         description='Deploy the best trials of a stopped train job (by default the best of each '
                                     'template) behind one predictor, and wait until it answers (--detach returns '
                                     'at once).',
                         epilog=WAIT_EPILOG + '\n\nexample:\n  singa inference create iris --models-per-template 2')
    create.add_argument('--models-per-template', type=int, metavar='N', default=1,
                        help='the best N trials of each template (default 1)')
    create.add_argument('--max-models', type=int, metavar='N', help='at most N trials in all')
    create.add_argument('--replicas', type=int, metavar='N', default=1, help='inference workers per trial '
                                                                             '(default 1)')
    create.add_argument('--ensemble', choices=EnsembleMethod.values(), help='how answers are combined '
                                                                            '(default AUTO)')
    create.add_argument('--public', action='store_true', help='anyone may query it without a prediction key')
    create.add_argument('--description')
    create.add_argument('--max-batch-size', type=int, metavar='N', help='most queries sent to the models at once')
    create.add_argument('--max-wait-ms', type=float, metavar='MS', help='longest a query waits for its batch')
    create.add_argument('--gpus', type=int, metavar='N', help='GPUs split across the trials (Swarm only)')
    create.add_argument('--select', metavar='JSON', help='deploy the one trial a rule picks, e.g. {"objective": '
                                                         '"accuracy", "where": [{"name": "predict_latency_ms", '
                                                         '"max": 5}]}')
    _add_wait_options(create)
    create.add_argument('--detach', action='store_true', help='print the new job and return without waiting')
    app_command(inference, 'list', _list, help='list your inference jobs (of one app, if given)', listing=True)
    app_command(inference, 'show', _show, help='show the live (else the latest) inference job of an app')
    _add_wait_options(app_command(inference, 'wait', _wait, help='wait until an inference job serves',
                                  for_admins=False, epilog=WAIT_EPILOG))
    app_command(inference, 'stop', _stop, help='stop an inference job: its predictor and workers go')


def _add_wait_options(parser) -> None:
    parser.add_argument('--timeout', type=positive, default=300.0, metavar='SECONDS',
                        help='stop waiting after this long (default 300; exit code 9)')


def _describe(ctx, job: dict) -> None:
    ctx.out.fields(job, FIELDS)
    ctx.out.line()
    ctx.out.table(job.get('workers') or [], WORKER_COLUMNS, empty='no workers')


def _create(args, ctx) -> int:
    client = ctx.client()
    budget = {'GPU_COUNT': args.gpus} if args.gpus is not None else None
    job = client.create_inference_job(args.app, args.app_version, budget=budget, description=args.description,
                                      models_per_template=args.models_per_template, max_models=args.max_models,
                                      replicas=args.replicas, ensemble=args.ensemble, is_public=args.public,
                                      max_batch_size=args.max_batch_size, max_wait_ms=args.max_wait_ms,
                                      select=parse_json(args.select, '--select') if args.select else None)
    if args.detach:
        ctx.out.result(job, lambda: _describe(ctx, job))
        return exits.OK
    if not ctx.out.as_json:
        ctx.out.note(f'Deploying {len(job["workers"])} trial(s) of {job["app"]} v{job["app_version"]}...')
    return _wait_for(ctx, client, job['app'], job['app_version'], args.timeout)


def _wait_for(ctx, client, app: str, version: int, timeout: float) -> int:
    try:
        job = client.wait_until_inference_job_is_running(app, version, timeout=timeout)
    except SingaError as e:
        if e.status_code is not None or 'status' not in e.details:
            raise
        job = client.get_running_inference_job(app, version)   # it ended before it ran: show why
        ctx.out.result(job, lambda: _describe(ctx, job))
        ctx.out.note(f'singa inference: {e.message}')
        return exits.JOB_ERRORED
    ctx.out.result(job, lambda: _describe(ctx, job))
    return exits.OK


def _list(args, ctx) -> int:
    client = ctx.client()
    found = (client.get_inference_jobs_of_app(args.app, user_id=args.user_id) if args.app
             else client.get_inference_jobs_by_user(user_id=args.user_id))
    ctx.out.result(found, lambda: ctx.out.table(found, COLUMNS, empty='no inference jobs'))
    return exits.OK


def _show(args, ctx) -> int:
    job = ctx.client().get_running_inference_job(args.app, args.app_version, user_id=args.user_id)
    ctx.out.result(job, lambda: _describe(ctx, job))
    return exits.OK


def _wait(args, ctx) -> int:
    return _wait_for(ctx, ctx.client(), args.app, args.app_version, args.timeout)


def _stop(args, ctx) -> int:
    job = ctx.client().stop_inference_job(args.app, args.app_version, user_id=args.user_id)
    ctx.out.result(job, lambda: ctx.out.line(f'{job["app"]} v{job["app_version"]}: inference job {job["status"]}.'))
    return exits.OK
