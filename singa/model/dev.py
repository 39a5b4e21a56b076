"""The local harness: tune a model template in-process with a real advisor, no servers.

``test_model_class(...)`` does what the platform will do, so a template author finds mistakes
here: it validates the class and its knob space, tunes for the budget (intermediate ``report``s
reach the advisor, so pruning works), evaluates, dumps the parameters and round-trips them through
the parameter codec, loads them into a fresh instance, checks that predictions are
JSON-serialisable, follow the task's convention and are identical after the reload, predicts the
queries and prints a report. Command line::

    python -m singa.model.dev FILE CLASS --task TASK --train TRAIN --val VAL
        [--trials N] [--time-hours H] [--knob name=value ...] [--train-arg name=value ...]
        [--advisor TYPE] [--pruner TYPE] [--seed N] [--queries queries.json]

Knob overrides fix knobs (values are parsed as JSON when they parse, else taken as strings).
"""
import argparse
import importlib.metadata
import json
import math
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, List, Optional, TextIO

import numpy as np

from singa.advisor import BaseAdvisor, make_advisor
from singa.constants import BudgetKey, Task, TrialStatus
from singa.errors import InvalidModelError, ModelRuntimeError, TrialPruned
from singa.model.inspect import validate_model_class
from singa.model.knob import deserialize_knob_config, fix_knobs
from singa.model.loader import load_model_class
from singa.model.log import LogType, logger
from singa.model.model import as_score
from singa.param_store.codec import decode_params, encode_params
from singa.tasks import get_task

DEFAULT_BUDGET = {BudgetKey.MODEL_TRIAL_COUNT.value: 5}


@dataclass
class DevTrial:
    no: int
    knobs: dict
    phase: str
    status: str = TrialStatus.RUNNING.value
    score: Optional[float] = None
    seconds: float = 0.0
    shared_from: Optional[int] = None
    params: Optional[bytes] = None
    error: Optional[BaseException] = None


@dataclass
class DevResult:
    predictions: List[Any]
    model: Any
    trials: List[DevTrial] = field(default_factory=list)
    best: Optional[DevTrial] = None


def test_model_class(model_file_path: str, model_class: str, task: str, dependencies: Optional[dict],
                     train_dataset_path: str, val_dataset_path: str, budget: Optional[dict] = None,
                     train_args: Optional[dict] = None, queries: Optional[list] = None,
                     knobs: Optional[dict] = None, advisor=None, **options):
    """Run the whole lifecycle; return ``(predictions, model_inst)`` like SingaAuto.

    ``advisor``: an advisor type name (default ``AUTO``) or a ``BaseAdvisor``. ``knobs``: values
    that fix knobs. ``options``: ``pruner``, ``seed``, ``module_file`` (zip templates), ``out``.
    """
    result = run_model_class(model_file_path, model_class, task, dependencies, train_dataset_path,
                             val_dataset_path, budget, train_args, queries, knobs, advisor, **options)
    return result.predictions, result.model


test_model_class.__test__ = False   # not a pytest test, whatever its name


def run_model_class(model_file_path, model_class, task, dependencies, train_dataset_path, val_dataset_path,
                    budget=None, train_args=None, queries=None, knobs=None, advisor=None, pruner='NONE',
                    seed=None, module_file=None, out: Optional[TextIO] = None) -> DevResult:
    """``test_model_class`` returning everything it found (trials, best trial, model, predictions)."""
    task = Task.parse(task, 'task').value
    check_dependencies(dependencies or {}, lambda *a: print(*a, file=out or sys.stdout, flush=True))
    kind = 'zip' if str(model_file_path).endswith('.zip') else 'py'
    cls = load_model_class(model_file_path, model_class, kind, module_file)
    config = deserialize_knob_config(validate_model_class(cls))
    if knobs:
        config = fix_knobs(config, knobs)
    return tune_class(cls, config, task, train_dataset_path, val_dataset_path, budget, train_args, queries,
                      advisor, pruner, seed, out)


def tune_class(cls, config: dict, task: Optional[str], train_dataset_path: str, val_dataset_path: str,
               budget=None, train_args=None, queries=None, advisor=None, pruner='NONE', seed=None,
               out: Optional[TextIO] = None, eval_args: Optional[dict] = None) -> DevResult:
    """Tune a loaded, checked template class over the knob space ``config`` and check its best model.

    ``task`` None: no convention of a task is checked and no queries are sampled, so predictions
    are made (and compared after the reload) only for the ``queries`` given. ``eval_args``: keyword
    arguments for every ``evaluate()`` call.
    """
    budget = dict(budget or DEFAULT_BUDGET)
    say = lambda *a: print(*a, file=out or sys.stdout, flush=True)  # noqa: E731
    if not isinstance(advisor, BaseAdvisor):
        advisor = make_advisor(config, budget, advisor or 'AUTO', pruner, seed)
    say(f'Tuning {cls.__name__} ({task or "no task"}) with {type(advisor).__name__} '
        f'{getattr(advisor, "advisor_type", "")}, budget {json.dumps(budget)}')
    tuner = _Tuner(cls, advisor, train_dataset_path, val_dataset_path, dict(train_args or {}), dict(eval_args or {}),
                   say)
    try:
        tuner.tune(budget)
        best = tuner.best
        if best is None:
            errors = [t.error for t in tuner.trials if t.error is not None]
            raise ModelRuntimeError(f'no trial of {cls.__name__} completed '
                                    f'({len(tuner.trials)} tried)') from (errors[-1] if errors else None)
        if queries is None and task is not None:
            queries = sample_queries(task, val_dataset_path, train_args)
        model, predictions = _check_reload(cls, best, tuner.best_model, task, queries or [], val_dataset_path,
                                           tuner.eval_args)
    finally:
        tuner.close()
        cls.teardown()
    _print_report(tuner.trials, best, say)
    return DevResult(predictions=predictions, model=model, trials=tuner.trials, best=best)


class _Tuner:
    def __init__(self, cls, advisor, train_path, val_path, train_args, eval_args, say):
        self.cls, self.advisor, self.say = cls, advisor, say
        self.train_path, self.val_path, self.train_args, self.eval_args = train_path, val_path, train_args, eval_args
        self.trials: List[DevTrial] = []
        self.best: Optional[DevTrial] = None
        self.best_model = None

    def tune(self, budget: dict) -> None:
        hours = budget.get(BudgetKey.TIME_HOURS.value)
        count = budget.get(BudgetKey.MODEL_TRIAL_COUNT.value)
        deadline = time.time() + float(hours) * 3600 if hours and float(hours) > 0 else math.inf
        no = self.advisor.next_trial_no
        while (not count or count < 0 or len(self.trials) < count) and time.time() < deadline:
            proposal = self.advisor.propose(no)
            if proposal is None:
                self.say('The advisor has nothing more to propose.')
                break
            self._run_trial(proposal)
            no += 1

    def _run_trial(self, proposal) -> None:
        trial = DevTrial(proposal.trial_no, proposal.knobs, proposal.meta.get('phase', ''),
                         shared_from=proposal.shared_params_trial_no)
        self.trials.append(trial)
        self.say(f'-- Trial {trial.no} [{trial.phase}] knobs {json.dumps(trial.knobs)}')
        started, model = time.time(), None
        logger.attach(self._on_line, lambda step, score: self.advisor.report(trial.no, step, score))
        try:
            shared = self._shared_params(proposal.shared_params_trial_no)
            model = self.cls(**proposal.knobs)
            model.train(self.train_path, shared_params=shared, **self.train_args)
            trial.score = as_score(model.evaluate(self.val_path, **self.eval_args))
            if proposal.to_save_params:
                trial.params = encode_params(model.dump_parameters())
            trial.status = TrialStatus.COMPLETED.value
        except TrialPruned:
            trial.status = TrialStatus.PRUNED.value
        except InvalidModelError:   # the template breaks the contract: stop and say so
            raise
        except Exception as e:  # the template's bug: show it, keep tuning
            trial.status, trial.error = TrialStatus.ERRORED.value, e
            self.say(''.join(traceback.format_exception(e)).rstrip())
        finally:
            logger.detach()
            trial.seconds = time.time() - started
        self.advisor.feedback(trial.no, trial.score, trial.status, params_saved=trial.params is not None)
        self.say(f'   {trial.status}' + (f' score {trial.score:.4f}' if trial.score is not None else '')
                 + f' in {trial.seconds:.1f} s')
        if trial.status == TrialStatus.COMPLETED and (self.best is None or trial.score > self.best.score):
            self._destroy(self.best_model)
            self.best, self.best_model = trial, model
        else:
            self._destroy(model)

    def _shared_params(self, trial_no: Optional[int]):
        if trial_no is None:
            return None
        source = next((t for t in self.trials if t.no == trial_no and t.params is not None), None)
        if source is None:
            raise ModelRuntimeError(f'advisor asked to share the parameters of trial {trial_no}, which has none')
        return decode_params(source.params)

    def _on_line(self, line: dict) -> None:
        if line['type'] == LogType.MESSAGE:
            self.say(f'   | {line["message"]}')

    @staticmethod
    def _destroy(model) -> None:
        if model is not None:
            model.destroy()

    def close(self) -> None:
        self._destroy(self.best_model)
        self.best_model = None


def _check_reload(cls, best: DevTrial, trained, task: Optional[str], queries: list, val_path: str,
                  eval_args: dict):
    """Reload the best parameters into a fresh instance; it must predict exactly as the trained one."""
    model = cls(**best.knobs)
    model.load_parameters(decode_params(best.params))
    predictions = None
    if queries:
        expected, predictions = trained.predict(list(queries)), model.predict(list(queries))
        for name, preds in (('predict()', expected), ('predict() after load_parameters()', predictions)):
            if not isinstance(preds, list) or len(preds) != len(queries):
                raise InvalidModelError(f'{name} must return a list with one prediction per query')
            try:
                json.dumps(preds, allow_nan=False)
            except (TypeError, ValueError) as e:
                raise InvalidModelError(f'{name} returned something not JSON-serialisable: {e}') from e
        if not _same(expected, predictions):
            raise InvalidModelError('predictions differ after dump_parameters() -> load_parameters(): '
                                    'the parameters do not capture the whole trained state')
        if task is not None:
            get_task(task).check_predictions(predictions, queries)
    reloaded_score = as_score(model.evaluate(val_path, **eval_args))
    if not math.isclose(reloaded_score, best.score, rel_tol=1e-6, abs_tol=1e-9):
        raise InvalidModelError(f'the reloaded model scores {reloaded_score:.6f}, the trained one '
                                f'{best.score:.6f}: the parameters do not capture the trained state')
    return model, predictions


def _same(a, b) -> bool:
    if json.dumps(a) == json.dumps(b):
        return True
    try:
        return np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-6, atol=1e-9)
    except (TypeError, ValueError):
        return False


def sample_queries(task: str, dataset_path: str, train_args: Optional[dict] = None, count: int = 3) -> list:
    """A few queries in the predictor's format, taken from a dataset (for the reload check)."""
    return get_task(task).sample_queries(dataset_path, train_args or {}, count)


def check_dependencies(dependencies: dict, say) -> None:
    """Say which of ``{package: version}`` are not installed here, or at another version."""
    for name, wanted in dependencies.items():
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            say(f'WARNING: dependency {name}=={wanted} is not installed here')
            continue
        if wanted and str(wanted) != have:
            say(f'Note: dependency {name} wants {wanted}; {have} is installed here')


def _print_report(trials: List[DevTrial], best: DevTrial, say) -> None:
    say('')
    say(f'{"trial":>5}  {"phase":<12} {"status":<10} {"score":>9} {"secs":>6}  knobs')
    for t in trials:
        score = f'{t.score:.4f}' if t.score is not None else '-'
        knobs = {k: v for k, v in t.knobs.items() if v is not None}
        say(f'{t.no:>5}  {t.phase:<12} {t.status:<10} {score:>9} {t.seconds:>6.1f}  {json.dumps(knobs)}')
    say(f'Best: trial {best.no}, score {best.score:.4f}, knobs {json.dumps(best.knobs)}')
    say('Parameters round-trip, reload and predictions: OK')


def _parse_assignments(items: List[str], what: str) -> dict:
    values = {}
    for item in items or []:
        name, sep, raw = item.partition('=')
        if not sep or not name:
            raise SystemExit(f'{what} must look like name=value; got {item!r}')
        try:
            values[name] = json.loads(raw)
        except ValueError:
            values[name] = raw
    return values


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m singa.model.dev',
                                     description='Tune a model template locally, as the platform would.')
    parser.add_argument('model_file')
    parser.add_argument('model_class')
    parser.add_argument('--task', required=True, choices=Task.values())
    parser.add_argument('--train', required=True, help='training dataset path')
    parser.add_argument('--val', required=True, help='validation dataset path')
    parser.add_argument('--trials', type=int, default=None, help='MODEL_TRIAL_COUNT')
    parser.add_argument('--time-hours', type=float, default=None, help='TIME_HOURS')
    parser.add_argument('--knob', action='append', default=[], help='fix a knob: name=value (JSON)')
    parser.add_argument('--train-arg', action='append', default=[], help='name=value (JSON) for train()')
    parser.add_argument('--advisor', default='AUTO')
    parser.add_argument('--pruner', default='NONE')
    parser.add_argument('--seed', type=int, default=None)
    parser.add_argument('--module-file', default=None, help='the module inside a zip template')
    parser.add_argument('--queries', default=None, help='a JSON file with a list of queries')
    args = parser.parse_args(argv)
    budget = {}
    if args.trials is not None:
        budget[BudgetKey.MODEL_TRIAL_COUNT.value] = args.trials
    if args.time_hours is not None:
        budget[BudgetKey.TIME_HOURS.value] = args.time_hours
    queries = None
    if args.queries:
        with open(args.queries, encoding='utf-8') as f:
            queries = json.load(f)
    predictions, _ = test_model_class(
        args.model_file, args.model_class, args.task, None, args.train, args.val, budget=budget or None,
        train_args=_parse_assignments(args.train_arg, '--train-arg'), queries=queries,
        knobs=_parse_assignments(args.knob, '--knob'), advisor=args.advisor, pruner=args.pruner,
        seed=args.seed, module_file=args.module_file)
    print('Predictions:', json.dumps(predictions)[:2000])
    return 0


if __name__ == '__main__':
    sys.exit(main())
