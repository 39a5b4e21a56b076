"""Advisors: the search engine behind every train job (the only place that imports Optuna).

``make_advisor`` is the one factory; ``choose_advisor_type`` is how ``AUTO`` decides, after
SingaAuto's rule (first match wins):

1. only fixed and policy knobs -> ``FIXED`` (exactly one trial);
2. a finite space of at most ``MODEL_TRIAL_COUNT`` configurations (or at most
   ``AUTO_GRID_MAX`` when the trial count is unlimited) -> ``GRID`` (each configuration once);
3. anything else -> ``TPE`` (handles conditional, categorical and architecture knobs).

``CMAES`` and ``GP`` are never picked automatically; they may be named for numeric,
non-conditional spaces.
"""
from typing import Optional

from singa.advisor.base import BaseAdvisor, PastTrial, Proposal
from singa.advisor.optuna_advisor import FixedAdvisor, OptunaAdvisor
from singa.advisor.plan import FINAL_TRAIN, SEARCH
from singa.advisor.space import SearchSpace
from singa.constants import AdvisorType, BudgetKey, PrunerType
from singa.errors import ConflictError, InvalidRequestError
from singa.model.knob import ArchKnob, CategoricalKnob, FloatKnob, IntegerKnob, deserialize_knob_config
from singa.objectives import parse_constraints, parse_objectives
from singa.ranking import DEFAULT_TIE_TOLERANCE

AUTO_GRID_MAX = 24


def make_advisor(knob_config: dict, budget: Optional[dict] = None, advisor_type: str = 'AUTO',
                 pruner: str = 'NONE', seed: Optional[int] = None, allow_repeats: bool = False,
                 objectives: Optional[list] = None, constraints: Optional[list] = None,
                 tie_tolerance: float = DEFAULT_TIE_TOLERANCE) -> BaseAdvisor:
    """Build the advisor for a knob space (``{name: knob}`` or its serialized JSON form).

    ``allow_repeats``: whether a finite space may see a configuration proposed twice (by default
    it may not, and the search ends once every configuration was proposed). ``objectives`` and
    ``constraints``: what the search optimizes (``singa.objectives``; see ``check_objectives``).
    ``tie_tolerance``: the job's (``singa.ranking``), for the advisor's own notion of the best trial.

    Raises ``InvalidRequestError`` naming the valid choices for an unknown type or pruner, and
    saying why when a named type does not fit the space.
    """
    if isinstance(knob_config, dict) and isinstance(knob_config.get('knobs'), list):
        knob_config = deserialize_knob_config(knob_config)
    budget = dict(budget or {})
    advisor_type = AdvisorType.parse(advisor_type, 'advisor_type')
    pruner = PrunerType.parse(pruner, 'pruner')
    check_objectives(objectives, constraints, advisor_type, pruner)
    space = SearchSpace(knob_config)
    if advisor_type == AdvisorType.AUTO:
        advisor_type = choose_advisor_type(space, budget)
    else:
        check_fits(advisor_type, space)
    if advisor_type == AdvisorType.FIXED:
        return FixedAdvisor(knob_config, budget)
    return OptunaAdvisor(knob_config, budget, advisor_type, pruner, seed, allow_repeats, objectives, constraints,
                         tie_tolerance)


def check_objectives(objectives: Optional[list], constraints: Optional[list], advisor_type: str = 'AUTO',
                     pruner: str = 'NONE') -> None:
    """Raise ``InvalidRequestError`` naming the field unless the objectives and constraints are
    well formed (``singa.objectives``), and ``ConflictError`` unless the search can pursue them:
    several objectives need a multi-objective sampler (TPE, the one AUTO picks past a grid, is
    MO-TPE; RANDOM and GRID do too) and no pruner (Optuna prunes single-objective studies only)."""
    if len(parse_objectives(objectives)) > 1:
        if AdvisorType.parse(advisor_type, 'advisor_type') in (AdvisorType.CMAES, AdvisorType.GP):
            raise ConflictError(f'{advisor_type} searches for one objective only; use TPE, RANDOM, GRID or '
                                'AUTO with several objectives', field='advisor')
        if PrunerType.parse(pruner, 'pruner') != PrunerType.NONE:
            raise ConflictError('trials cannot be pruned in a search for several objectives; use pruner NONE',
                                field='pruner')
    parse_constraints(constraints)


def check_advisor_choice(knob_config: dict, budget: Optional[dict] = None, advisor_type: str = 'AUTO',
                         pruner: str = 'NONE') -> None:
    """Raise ``InvalidRequestError`` (saying why) unless ``make_advisor`` would accept these arguments."""
    if isinstance(knob_config, dict) and isinstance(knob_config.get('knobs'), list):
        knob_config = deserialize_knob_config(knob_config)
    advisor_type = AdvisorType.parse(advisor_type, 'advisor_type')
    PrunerType.parse(pruner, 'pruner')
    if advisor_type != AdvisorType.AUTO:
        check_fits(advisor_type, SearchSpace(knob_config))


def choose_advisor_type(space: SearchSpace, budget: dict) -> AdvisorType:
    if not space.searchable:
        return AdvisorType.FIXED
    count = budget.get(BudgetKey.MODEL_TRIAL_COUNT.value)
    limit = count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else AUTO_GRID_MAX
    size = space.grid_size()
    if size is not None and size <= limit:
        return AdvisorType.GRID
    return AdvisorType.TPE


def check_fits(advisor_type: AdvisorType, space: SearchSpace) -> None:
    name = advisor_type.value
    if advisor_type == AdvisorType.FIXED:
        if space.searchable:
            raise InvalidRequestError(f'FIXED needs a space with nothing to search; knobs to search: '
                                      f'{", ".join(space.searchable)}', field='advisor_type')
        return
    if not space.searchable:
        raise InvalidRequestError(f'{name} needs at least one knob to search (this template has only '
                                  'fixed and policy knobs); use AUTO or FIXED', field='advisor_type')
    if advisor_type == AdvisorType.GRID and space.grid_size() is None:
        raise InvalidRequestError('GRID needs a finite space of at most 100000 configurations; knobs '
                                  'without a finite list of values: ' + ', '.join(
                                      n for n in space.searchable if space.config[n].enumerate_values() is None
                                      and not isinstance(space.config[n], ArchKnob)) or 'too many',
                                  field='advisor_type')
    if advisor_type in (AdvisorType.CMAES, AdvisorType.GP):
        if space.is_conditional:
            raise InvalidRequestError(f'{name} cannot search conditional knobs; use TPE', field='advisor_type')
        allowed = (IntegerKnob, FloatKnob) + ((CategoricalKnob,) if advisor_type == AdvisorType.GP else ())
        bad = [n for n in space.searchable if not isinstance(space.config[n], allowed)]
        if bad:
            raise InvalidRequestError(f'{name} searches only numeric knobs' + (
                ' and categorical ones' if advisor_type == AdvisorType.GP else '')
                + f'; not {", ".join(bad)}; use TPE', field='advisor_type')
        numeric = [n for n in space.searchable if isinstance(space.config[n], (IntegerKnob, FloatKnob))]
        if advisor_type == AdvisorType.CMAES and len(numeric) < 2:
            raise InvalidRequestError('CMAES needs at least two numeric knobs; use TPE', field='advisor_type')
        _check_importable(name, 'cmaes' if advisor_type == AdvisorType.CMAES else 'torch')


def _check_importable(name: str, module: str) -> None:
    import importlib.util
    if importlib.util.find_spec(module) is None:
        raise InvalidRequestError(f'{name} needs the {module!r} package, which is not installed here',
                                  field='advisor_type')


__all__ = ['BaseAdvisor', 'OptunaAdvisor', 'FixedAdvisor', 'Proposal', 'PastTrial', 'make_advisor',
           'choose_advisor_type', 'check_advisor_choice', 'check_objectives', 'AdvisorType', 'PrunerType', 'SEARCH', 'FINAL_TRAIN']
