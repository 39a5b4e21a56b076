"""Train jobs and their trials: create, read, stop, resume, change the budget of; trials (enqueued
with given knobs, too), logs and trained parameters."""
import uuid

from flask import Blueprint, Response, jsonify

from singa.admin.services.datasets import MAX_NAME_LENGTH, NAME_HINT, NAME_PATTERN

from singa.admin.context import admin_context
from singa.admin.openapi import operation
from singa.admin.routes.fields import APP, OWNER, OWNER_QUERY, VERSION, Field, JsonBody, Query, path_uuid
from singa.admin.routes.guards import current_user, require_user
from singa.admin.routes.idempotency import idempotent
from singa.admin.routes.serialize import (enqueued_trial_json, importance_json, pareto_json, train_job_json,
                                          trial_json, trial_logs_json)
from singa.admin.services.importance import param_importances
from singa.admin.services.train_jobs import (APP_NAME, APP_NAME_HINT, BUDGET_RANGES, COUNT_ONLY_TIME_HOURS,
                                             LIVE_BUDGET_KEYS, MAX_MODELS_PER_JOB, MAX_SEED, MAX_TRIAL_RETRIES,
                                             NewTrainJob)
from singa.admin.services.trials import MAX_BEST, MAX_LOG_ID, MAX_TRIALS_OFFSET, MAX_TRIALS_PAGE
from singa.constants import AdvisorType, BudgetKey, PrunerType, StrEnum, Task
from singa.objectives import MAX_OBJECTIVES, MEASURED, METRIC_NAME, METRIC_NAME_HINT, Direction, parse_objectives

bp = Blueprint('train_jobs', __name__)

_BUDGET_TEXT = {
    BudgetKey.TIME_HOURS: 'Hours from creation to the deadline (default 0.1; with only MODEL_TRIAL_COUNT, '
                          f'{COUNT_ONLY_TIME_HOURS:g} hours)',
    BudgetKey.MODEL_TRIAL_COUNT: 'Trials per template (-1: no limit)',
    BudgetKey.GPU_COUNT: 'GPUs in all, one per train worker (Swarm only; 409 where workers are local processes)',
    BudgetKey.WORKERS_PER_MODEL: 'Train workers per template on CPU hosts (default 1)',
    BudgetKey.MAX_CONCURRENT_TRIALS: 'At most this many trials running at once across all the templates '
                                     '(default: one per train worker)',
}
BUDGET_FIELDS = {key: Field(key.value, kind, required=False, minimum=low, maximum=high, description=_BUDGET_TEXT[key],
                            forbidden=(0,) if key == BudgetKey.MODEL_TRIAL_COUNT else ())
                 for key, (kind, low, high) in BUDGET_RANGES.items()}
BUDGET = Field('budget', dict, required=False, description='What the job may spend',
               fields=tuple(BUDGET_FIELDS.values()))
MAX_CONSTRAINTS = 8
BOUND = 1e15
METRIC = Field('name', str, max_length=64, pattern=METRIC_NAME.pattern, hint=METRIC_NAME_HINT,
               description='A metric evaluate() names ("score" is its single number, or its "score" entry or '
                           f'first), or one the platform measures: {", ".join(MEASURED)}')
OBJECTIVES = Field('objectives', list, required=False, min_items=1, max_items=MAX_OBJECTIVES,
                   items=Field('objective', dict, fields=(METRIC, Field('direction', Direction, required=False,
                                                                        default=Direction.MAXIMIZE))),
                   description='What the search optimizes (default: score, maximized); with several, a '
                               'multi-objective search (MO-TPE) for their Pareto front. 409 for a metric named '
                               'twice, and with several for the advisors CMAES and GP or a pruner')
CONSTRAINT = Field('constraint', dict, fields=(
    METRIC, Field('min', float, required=False, minimum=-BOUND, maximum=BOUND),
    Field('max', float, required=False, minimum=-BOUND, maximum=BOUND)),
    description='min <= the metric <= max (either bound, or both, may be left out: the metric must be measured); '
                'a min above the max is a 409')
CONSTRAINTS = Field('constraints', list, required=False, max_items=MAX_CONSTRAINTS, items=CONSTRAINT,
                    description='Bounds a good trial meets: the search steers toward them and the Pareto front '
                                'keeps only the trials that meet them')
APP_FIELD = Field('app', str, max_length=64, pattern=APP_NAME.pattern, hint=APP_NAME_HINT,
                  description='Name of the application; each new job of it gets the next version')
CREATE_TRAIN_JOB = JsonBody(
    APP_FIELD,
    Field('task', Task),
    Field('train_dataset_id', uuid.UUID), Field('val_dataset_id', uuid.UUID),
    BUDGET,
    Field('model_ids', list, required=False, items=Field('model_id', uuid.UUID), min_items=1,
          max_items=MAX_MODELS_PER_JOB, description='Templates to tune (default: every one available for the task)'),
    Field('train_args', dict, required=False, description='Passed to train() as keyword arguments'),
    Field('advisor', AdvisorType, required=False, default=AdvisorType.AUTO),
    Field('pruner', PrunerType, required=False, default=PrunerType.NONE),
    Field('max_trial_retries', int, required=False, minimum=0, maximum=MAX_TRIAL_RETRIES,
          description='How often a trial whose worker died is re-run with the same knobs '
                      '(default: SINGA_MAX_TRIAL_RETRIES)'),
    Field('seed', int, required=False, minimum=0, maximum=MAX_SEED,
          description='Seeds the advisor, for proposals that repeat'),
    Field('allow_repeats', bool, required=False, default=False,
          description='Let the advisor propose a knob set it has proposed before. By default a template whose '
                      'knobs all take finitely many values gets each knob set at most once, and its search ends '
                      '(SEARCH_EXHAUSTED) when every one has been tried'),
    Field('warm_start_from', dict, required=False,
          fields=(APP_FIELD, Field('app_version', int, minimum=-1, maximum=2 ** 31 - 1,
                                   description='Its version (-1: the latest)')),
          description='An earlier train job of yours: each template it tuned that this job tunes too starts its '
                      'search told that job\'s completed trials (they count as tried for the no-repeat rule). '
                      'The earlier job is only read'),
    OBJECTIVES, CONSTRAINTS)
RESUME_TRAIN_JOB = JsonBody(Field('budget', dict, required=False, fields=BUDGET.fields,
                                  description='What the resumed run may spend, as for a new job; TIME_HOURS counts '
                                              'from the resume and MODEL_TRIAL_COUNT counts the new trials'))
CHANGE_TRAIN_JOB = JsonBody(Field('budget', dict, fields=tuple(BUDGET_FIELDS[key] for key in LIVE_BUDGET_KEYS),
                                  description='The new TIME_HOURS (from the start of the current run) and '
                                              'MODEL_TRIAL_COUNT (trials of the current run); keys left out keep '
                                              'their values'))
ENQUEUE_TRIAL = JsonBody(
    Field('model', str, max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN, hint=NAME_HINT,
          description='Name of the template (one the job tunes) to run the trial of'),
    Field('knobs', dict, description='A value for every active knob of the template to search (fixed knobs may be '
                                     'left out, policy knobs are the advisor\'s)'))


class TrialListing(StrEnum):
    ALL = 'all'
    BEST = 'best'


LIST_TRIALS = Query(
    OWNER,
    Field('type', TrialListing, required=False, default=TrialListing.ALL,
          description='"best" for the best trials, best first; "all" lists them newest first'),
    Field('max_count', int, required=False, default=2, minimum=1, maximum=MAX_BEST,
          description='With type=best: how many'),
    Field('limit', int, required=False, default=MAX_TRIALS_PAGE, minimum=1, maximum=MAX_TRIALS_PAGE),
    Field('offset', int, required=False, default=0, minimum=0, maximum=MAX_TRIALS_OFFSET))
_AXIS = f'{METRIC_NAME.pattern[1:-1]}:({"|".join(d.value for d in Direction)})'
PARETO = Query(
    OWNER,
    Field('objectives', str, required=False, max_length=MAX_OBJECTIVES * 80,
          pattern=f'^{_AXIS}(,{_AXIS}){{0,{MAX_OBJECTIVES - 1}}}$',
          hint=f'1 to {MAX_OBJECTIVES} of name:direction, comma separated, e.g. score:maximize,params_bytes:minimize',
          description='The objectives to find the front on, as name:direction pairs (default: the job\'s own); '
                      '409 for a metric named twice'),
    Field('others', bool, required=False, default=False,
          description='Also list the job\'s other completed trials (dominated, or outside its constraints), in '
                      '"others"'))
TRIAL_LOGS = Query(Field('after_id', int, required=False, default=0, minimum=0, maximum=MAX_LOG_ID,
                         description='Only lines after this id (the last_id of the previous answer)'))


def _service():
    return admin_context().train_jobs


@bp.post('/train_jobs')
@operation('Create a train job: tune every chosen template in parallel within the budget', body=CREATE_TRAIN_JOB,
           response='TrainJob', errors=(404, 409, 503),
           description='404 for a dataset or template the caller may not use; 409 for GPUs where workers are local '
                       'processes; 503 when the workers cannot start.')
@require_user()
@idempotent
def create_train_job():
    f = CREATE_TRAIN_JOB.parse()
    new = NewTrainJob(app=f['app'], task=f['task'], train_dataset_id=f['train_dataset_id'],
                      val_dataset_id=f['val_dataset_id'], budget=f['budget'] or {}, model_ids=f['model_ids'],
                      train_args=f['train_args'] or {}, advisor=f['advisor'], pruner=f['pruner'],
                      max_trial_retries=f['max_trial_retries'], seed=f['seed'],
                      allow_repeats=f['allow_repeats'], objectives=f['objectives'], constraints=f['constraints'],
                      warm_start_from=f['warm_start_from'] and (f['warm_start_from']['app'],
                                                                f['warm_start_from']['app_version']))
    return jsonify(train_job_json(_service().create_train_job(current_user(), new)))


@bp.get('/train_jobs')
@operation('List your train jobs (admins: any user\'s)', query=OWNER_QUERY, response='TrainJob', many=True,
           errors=(404,))
@require_user()
def list_train_jobs():
    f = OWNER_QUERY.parse()
    return jsonify([train_job_json(v) for v in _service().list_train_jobs(current_user(), owner_id=f['user_id'])])


@bp.get(f'/train_jobs/{APP}')
@operation('List the train jobs of one of your apps', query=OWNER_QUERY, response='TrainJob', many=True, errors=(404,))
@require_user()
def list_train_jobs_of_app(app: str):
    f = OWNER_QUERY.parse()
    return jsonify([train_job_json(v) for v in _service().list_train_jobs(current_user(), app=app,
                                                                          owner_id=f['user_id'])])


@bp.get(f'/train_jobs/{APP}/{VERSION}')
@operation('Get a train job (app_version -1: the latest)', query=OWNER_QUERY, response='TrainJob', errors=(404,))
@require_user()
def get_train_job(app: str, app_version: int):
    f = OWNER_QUERY.parse()
    return jsonify(train_job_json(_service().get_train_job(current_user(), app, app_version, f['user_id'])))


@bp.post(f'/train_jobs/{APP}/{VERSION}/stop')
@operation('Stop a train job: running trials are stopped and recorded; the job ends STOPPED', query=OWNER_QUERY,
           response='TrainJob', errors=(404,))
@require_user()
def stop_train_job(app: str, app_version: int):
    f = OWNER_QUERY.parse()
    return jsonify(train_job_json(_service().stop_train_job(current_user(), app, app_version, f['user_id'])))


@bp.post(f'/train_jobs/{APP}/{VERSION}/resume')
@operation('Resume an ended train job with a new budget, as the same study', query=OWNER_QUERY,
           body=RESUME_TRAIN_JOB, response='TrainJob', errors=(404, 409, 503),
           description='The job (STOPPED or ERRORED) runs again at the same app version: its trials are kept, each '
                       'template\'s advisor is rebuilt from them and numbers new trials after them, and the deadline '
                       'counts from now. 409 for a job that is live (change its budget instead) or whose template or '
                       'datasets were deleted; 403 over a quota. A live inference job of it keeps serving what it '
                       'deployed.')
@require_user()
@idempotent
def resume_train_job(app: str, app_version: int):
    q = OWNER_QUERY.parse()
    f = RESUME_TRAIN_JOB.parse()
    return jsonify(train_job_json(_service().resume_train_job(current_user(), app, app_version, f['budget'] or {},
                                                              q['user_id'])))


@bp.patch(f'/train_jobs/{APP}/{VERSION}')
@operation('Raise or lower a live train job\'s time and trial budgets', query=OWNER_QUERY, body=CHANGE_TRAIN_JOB,
           response='TrainJob', errors=(404, 409),
           description='Its advisors honour the change at once. A budget lowered below what the job has started (or '
                       'a deadline moved into the past) ends it like a stop: running trials are stopped and it ends '
                       'STOPPED. 409 for a job that has ended (resume it instead).')
@require_user()
def change_train_job(app: str, app_version: int):
    q = OWNER_QUERY.parse()
    f = CHANGE_TRAIN_JOB.parse()
    return jsonify(train_job_json(_service().change_budget(current_user(), app, app_version, f['budget'],
                                                           q['user_id'])))


@bp.post(f'/train_jobs/{APP}/{VERSION}/trials')
@operation('Enqueue a trial with given knobs on a live train job; it runs before the advisor\'s own proposals',
           query=OWNER_QUERY, body=ENQUEUE_TRIAL, response='EnqueuedTrial', errors=(404, 409),
           description='400 (InvalidKnobsError) naming the knob the template\'s knob space refuses; 404 for a template '
                       'the job does not tune; 409 when its search has ended, or when the knob set was tried already '
                       'and the job does not allow repeats. It counts toward MODEL_TRIAL_COUNT.')
@require_user()
@idempotent
def enqueue_trial(app: str, app_version: int):
    q = OWNER_QUERY.parse()
    f = ENQUEUE_TRIAL.parse()
    view = _service().enqueue_trial(current_user(), app, app_version, f['model'], f['knobs'], q['user_id'])
    return jsonify(enqueued_trial_json(view))


@bp.get(f'/train_jobs/{APP}/{VERSION}/trials')
@operation('List the trials of a train job, newest first, or the best ones (type=best)', query=LIST_TRIALS,
           response='Trial', many=True, errors=(404,))
@require_user()
def list_trials(app: str, app_version: int):
    f = LIST_TRIALS.parse()
    found = admin_context().trials.list_trials(current_user(), app, app_version, best=f['type'] == TrialListing.BEST,
                                               max_count=f['max_count'], limit=f['limit'], offset=f['offset'],
                                               owner_id=f['user_id'])
    return jsonify([trial_json(v) for v in found])


@bp.get(f'/train_jobs/{APP}/{VERSION}/pareto')
@operation('The Pareto front of a train job: its completed trials that no other beats on every objective',
           query=PARETO, response='ParetoFront', errors=(404, 409),
           description='Over every template\'s completed trials, by the job\'s objectives (default: score, maximized) '
                       'or those the query names, and among the trials that meet its constraints; each trial with '
                       'its values by name and whether it meets the constraints.')
@require_user()
def get_pareto_front(app: str, app_version: int):
    f = PARETO.parse()
    objectives = parse_objectives([dict(zip(('name', 'direction'), pair.split(':')))
                                   for pair in f['objectives'].split(',')]) if f['objectives'] else None
    front = admin_context().trials.pareto_front(current_user(), app, app_version, f['user_id'], objectives,
                                                f['others'])
    return jsonify(pareto_json(front))


@bp.get(f'/train_jobs/{APP}/{VERSION}/importance')
@operation('Hyperparameter importance of each template of a train job, from its completed trials',
           query=OWNER_QUERY, response='KnobImportance', many=True, errors=(404,),
           description='fANOVA (Optuna\'s evaluator) over the searched knobs; a template with fewer than three '
                       'completed trials gets no importances and a note saying why.')
@require_user()
def get_param_importances(app: str, app_version: int):
    f = OWNER_QUERY.parse()
    found = param_importances(admin_context().meta_store, current_user(), app, app_version, f['user_id'])
    return jsonify([importance_json(v) for v in found])


@bp.get('/trials/<trial_id>')
@operation('Get a trial', response='Trial', errors=(404,))
@require_user()
def get_trial(trial_id: str):
    return jsonify(trial_json(admin_context().trials.get_trial(current_user(), path_uuid(trial_id, 'trial'))))


@bp.get('/trials/<trial_id>/logs')
@operation('A trial\'s logs: plot definitions, metrics and messages (readable while it runs)', query=TRIAL_LOGS,
           response='TrialLogs', errors=(404,))
@require_user()
def get_trial_logs(trial_id: str):
    f = TRIAL_LOGS.parse()
    logs = admin_context().trials.get_trial_logs(current_user(), path_uuid(trial_id, 'trial'), f['after_id'])
    return jsonify(trial_logs_json(logs))


@bp.get('/trials/<trial_id>/parameters')
@operation('A trial\'s trained parameters in SingaAuto\'s pickle-free format '
           '(decode with singa.param_store.decode_params)', binary=True, errors=(404,))
@require_user()
def get_trial_parameters(trial_id: str):
    data = admin_context().trials.get_trial_parameters(current_user(), path_uuid(trial_id, 'trial'))
    return Response(data, mimetype='application/octet-stream',
                    headers={'Content-Disposition': f'attachment; filename="{trial_id}.params"'})
