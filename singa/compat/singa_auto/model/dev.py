"""SingaAuto's local harness, ``singa_auto.model.dev.test_model_class``, on ours.

Same parameters and order as SingaAuto's; the template is tuned and checked by
``singa.model.dev.tune_class`` (a real advisor, the parameter codec, a reload that must predict
and score as the trained model did). As in SingaAuto, the command line of the running script may
change the run (``python MyModel.py --MODEL_TRIAL_COUNT=2 --n_neighbors=2``):

- ``--TIME_HOURS`` (default 0.01, 36 seconds), ``--MODEL_TRIAL_COUNT`` (default -1: no limit),
  ``--GPU_COUNT`` set the budget; a flag given wins over ``budget``, and ``budget`` over the defaults
  (SingaAuto let its defaults override ``budget`` too);
- ``--<knob>=<value>`` fixes a knob, any knob, ``FixedKnob`` included, to a value of the knob's
  type (lists and booleans as Python literals); SingaAuto did not check it against the knob's
  range, and neither does this.

Other arguments are the script's own and left alone. ``task`` may be None or a task this platform
does not know: the task's conventions are then not checked, and predictions are made for
``queries`` only. ``annotation_dataset_path`` is passed to ``train`` and ``evaluate``,
``test_dataset_path`` scores the best model once more. Task ``question_answering_covid19`` runs
one trial and, given ``fine_tune_dataset_path``, predicts with a model whose
``load_parameters`` gets that path, as SingaAuto did. ``tune_model`` and ``make_predictions`` are
the two halves, as in SingaAuto.
"""
import argparse
import ast
import json
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from singa.constants import Task
from singa.model.knob import ArchKnob, FixedKnob, validate_knob_config

from .knob import value_type

BUDGET_FLAGS = {'TIME_HOURS': float, 'MODEL_TRIAL_COUNT': int, 'GPU_COUNT': int}
DEFAULT_BUDGET = {'TIME_HOURS': 0.01, 'MODEL_TRIAL_COUNT': -1, 'GPU_COUNT': 0}
COVID19_QA = 'question_answering_covid19'
# The tasks whose prediction format SingaAuto's templates share with ours: for them the harness
# samples queries and checks predictions as ours does. SingaAuto's detection templates answered
# in a format of their own (images for its web admin), so IMAGE_DETECTION is not checked here.
CHECKED_TASKS = (Task.IMAGE_CLASSIFICATION, Task.TABULAR_CLASSIFICATION, Task.TABULAR_REGRESSION, Task.POS_TAGGING)


@dataclass
class Proposal:
    """The knobs of a trial (what SingaAuto's advisor proposed, as far as a template needs it)."""
    trial_no: int
    knobs: dict


def test_model_class(model_file_path: str, model_class: str, dependencies: Dict[str, str],
                     train_dataset_path: str, val_dataset_path: str, annotation_dataset_path: str = None,
                     task: str = None, test_dataset_path: str = None, budget: Dict[str, Any] = None,
                     train_args: Dict[str, Any] = None, fine_tune_dataset_path: str = None,
                     queries: List[Any] = None, argv: Optional[List[str]] = None):
    """Tune the template locally as the platform would; return ``(predictions, best model)``.

    ``predictions`` are for ``queries`` (None when none were given). ``argv``: the command line to
    read flags from (default ``sys.argv[1:]``).
    """
    from singa.model.dev import check_dependencies

    from .utils import load_model_class

    check_dependencies(dependencies or {}, inform_user)
    with open(model_file_path, 'rb') as f:
        cls = load_model_class(f.read(), model_class)
    if isinstance(queries, dict):        # one query given bare (SingaAuto's tabular examples do)
        queries = [queries]
    result, _ = _tune(cls, train_dataset_path, val_dataset_path, annotation_dataset_path, task, test_dataset_path,
                      budget, train_args, queries if task != COVID19_QA else None, argv)
    if task == COVID19_QA and queries is not None:
        return make_predictions(queries, task, cls, Proposal(result.best.no, result.best.knobs),
                                fine_tune_dataset_path, None)
    if queries is not None:
        inform_user(f'Predictions: {result.predictions}')
    inform_user('No errors encountered while testing model!')
    return (result.predictions if queries is not None else None), result.model


test_model_class.__test__ = False   # not a pytest test, whatever its name


def tune_model(py_model_class, train_dataset_path: str, val_dataset_path: str, annotation_dataset_path: str = None,
               task: str = None, test_dataset_path: str = None, budget: Dict[str, Any] = None,
               train_args: Dict[str, Any] = None, argv: Optional[List[str]] = None):
    """Tune a loaded template class; return ``(best proposal, its test score or None, its parameters)``."""
    from singa.param_store.codec import decode_params
    result, test_score = _tune(py_model_class, train_dataset_path, val_dataset_path, annotation_dataset_path, task,
                               test_dataset_path, budget, train_args, None, argv)
    result.model.destroy()
    return Proposal(result.best.no, result.best.knobs), test_score, decode_params(result.best.params)


def make_predictions(queries: List[Any], task: str, py_model_class, proposal, fine_tune_dataset_path, params):
    """Predict ``queries`` with a model of ``proposal.knobs`` loaded with ``params`` (with the
    ``fine_tune_dataset_path`` instead for ``question_answering_covid19``); ``(predictions, model)``."""
    model = py_model_class(**proposal.knobs)
    if task == COVID19_QA:
        if fine_tune_dataset_path is not None:
            model.load_parameters(fine_tune_dataset_path)
    else:
        model.load_parameters(params)
    predictions = model.predict(list(queries))
    json.dumps(predictions)
    inform_user(f'Predictions: {predictions}')
    return predictions, model


def _tune(cls, train_dataset_path, val_dataset_path, annotation_dataset_path, task, test_dataset_path, budget,
          train_args, queries, argv):
    """Tune ``cls`` with the command line's flags; ``(DevResult, test score or None)``."""
    from singa.model.dev import tune_class
    from singa.model.inspect import validate_model_class
    from singa.model.knob import deserialize_knob_config

    argv = sys.argv[1:] if argv is None else argv
    config = deserialize_knob_config(validate_model_class(cls))
    config = _fix_knobs(config, _knob_flags(config, argv))
    budget = {**DEFAULT_BUDGET, **(budget or {}), **_budget_flags(argv)}
    if task == COVID19_QA:
        budget['MODEL_TRIAL_COUNT'] = 1
    eval_args = {'annotation_dataset_path': annotation_dataset_path} if annotation_dataset_path else {}
    result = tune_class(cls, config, task if task in CHECKED_TASKS else None, train_dataset_path, val_dataset_path,
                        budget, {**(train_args or {}), **eval_args}, queries, eval_args=eval_args)
    test_score = None
    if test_dataset_path is not None:
        test_score = result.model.evaluate(test_dataset_path, **eval_args)
        inform_user(f'Score on test dataset: {test_score}')
    return result, test_score


def inform_user(msg) -> None:
    print(msg, flush=True)


def warn_user(msg) -> None:
    print(f'WARNING: {msg}', flush=True)


def _budget_flags(argv: List[str]) -> dict:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for name, kind in BUDGET_FLAGS.items():
        parser.add_argument(f'--{name}', type=kind)
    given = vars(parser.parse_known_args(argv)[0])
    return {k: v for k, v in given.items() if v is not None}


def _knob_flags(config: dict, argv: List[str]) -> dict:
    """``--<knob>=<value>`` flags, each parsed as the knob's value type."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for name, knob in config.items():
        kind = value_type(knob)
        parser.add_argument(f'--{name}', type=kind if kind in (int, float, str) else _literal)
    given = vars(parser.parse_known_args(argv)[0])
    return {k: v for k, v in given.items() if v is not None and k in config}


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(f'{text!r} is not a Python literal') from None


def _fix_knobs(config: dict, values: dict) -> dict:
    """``config`` with each knob named in ``values`` fixed to its value."""
    fixed = dict(config)
    for name, value in values.items():
        condition = config[name].condition
        if isinstance(value, list) and isinstance(config[name], ArchKnob):
            fixed[name] = ArchKnob([[v] for v in value], condition=condition)
        else:
            fixed[name] = FixedKnob(value, condition=condition)
        inform_user(f'Setting knob "{name}" to be fixed value of "{value}"...')
    return validate_knob_config(fixed)


__all__ = ['test_model_class', 'tune_model', 'make_predictions', 'inform_user', 'warn_user', 'Proposal']
