"""Map a knob space onto Optuna: define-by-run sampling, distributions for restored trials, and
enumeration of finite spaces for grid search.

Optuna parameter names are the knob names; an ``ArchKnob`` named ``a`` becomes one categorical
parameter per position, ``a[0]``, ``a[1]``, ... Fixed and policy knobs are not Optuna parameters.
"""
import itertools
from typing import Dict, List, Optional

from optuna.distributions import (BaseDistribution, CategoricalDistribution, FloatDistribution,
                                  IntDistribution)

from singa.errors import InvalidKnobError, InvalidKnobsError
from singa.model.knob import (ArchKnob, BaseKnob, CategoricalKnob, FixedKnob, FloatKnob, IntegerKnob,
                              PolicyKnob, is_active, ordered_knob_names)

SEARCHABLE = (CategoricalKnob, IntegerKnob, FloatKnob, ArchKnob)
MAX_GRID_SIZE = 100_000


class SearchSpace:
    def __init__(self, knob_config: Dict[str, BaseKnob]):
        self.config = knob_config
        self.order = ordered_knob_names(knob_config)
        self.searchable = [n for n in self.order if isinstance(knob_config[n], SEARCHABLE)]
        self.policies = {k.policy: n for n, k in knob_config.items() if isinstance(k, PolicyKnob)}

    # What kind of space this is.
    @property
    def is_conditional(self) -> bool:
        return any(k.condition for k in self.config.values())

    @property
    def is_finite(self) -> bool:
        """Whether every searchable knob takes one of finitely many values: categorical, integer and
        arch knobs, and float knobs fixed to one value."""
        return all(isinstance(self.config[n], (ArchKnob, IntegerKnob)) or self.config[n].enumerate_values()
                   is not None for n in self.searchable)

    def kinds(self) -> set:
        return {type(self.config[n]) for n in self.searchable}

    def grid_size(self) -> Optional[int]:
        """The number of distinct configurations, or None when infinite or over ``MAX_GRID_SIZE``."""
        grid = self.enumerate_grid({}, limit=MAX_GRID_SIZE)
        return None if grid is None else len(grid)

    # Sampling.
    def sample(self, trial, policy_values: dict) -> dict:
        """Ask ``trial`` for the active knobs, in dependency order; every knob gets a value."""
        values = {}
        for name in self.order:
            knob = self.config[name]
            if isinstance(knob, PolicyKnob):
                values[name] = policy_values.get(knob.policy, False) if is_active(knob, values) else None
            elif not is_active(knob, values):
                values[name] = None
            elif isinstance(knob, FixedKnob):
                values[name] = knob.value
            elif isinstance(knob, CategoricalKnob):
                values[name] = trial.suggest_categorical(name, knob.values)
            elif isinstance(knob, IntegerKnob):
                values[name] = trial.suggest_int(name, knob.value_min, knob.value_max, log=knob.is_exp)
            elif isinstance(knob, FloatKnob):
                values[name] = trial.suggest_float(name, knob.value_min, knob.value_max, log=knob.is_exp)
            elif isinstance(knob, ArchKnob):
                values[name] = [trial.suggest_categorical(f'{name}[{i}]', choices)
                                for i, choices in enumerate(knob.items)]
        return values

    def distribution(self, name: str) -> Dict[str, BaseDistribution]:
        knob = self.config[name]
        if isinstance(knob, CategoricalKnob):
            return {name: CategoricalDistribution(knob.values)}
        if isinstance(knob, IntegerKnob):
            return {name: IntDistribution(knob.value_min, knob.value_max, log=knob.is_exp)}
        if isinstance(knob, FloatKnob):
            return {name: FloatDistribution(knob.value_min, knob.value_max, log=knob.is_exp)}
        if isinstance(knob, ArchKnob):
            return {f'{name}[{i}]': CategoricalDistribution(c) for i, c in enumerate(knob.items)}
        return {}

    def to_optuna_params(self, knobs: dict) -> Optional[tuple]:
        """``(params, distributions)`` of a recorded trial, or None if its knobs no longer fit."""
        params, dists = {}, {}
        for name in self.searchable:
            value = knobs.get(name)
            if value is None:
                continue
            named = self.distribution(name)
            values = value if isinstance(self.config[name], ArchKnob) else [value]
            if not isinstance(values, list) or len(values) != len(named):
                return None
            for (pname, dist), v in zip(named.items(), values):
                try:
                    if not dist._contains(dist.to_internal_repr(v)):
                        return None
                except (ValueError, TypeError):
                    return None
                params[pname], dists[pname] = v, dist
        return params, dists

    def check_knobs(self, knobs: dict) -> dict:
        """A user's knob set for one trial, complete: every active searchable knob given with a value
        it can take; fixed knobs filled in (or given their value), inactive ones None; policy knobs
        left to the advisor (False here). ``InvalidKnobsError`` naming the first bad knob."""
        unknown = sorted(set(knobs) - set(self.config))
        if unknown:
            raise InvalidKnobsError(f'no knob {unknown[0]!r} in this template (its knobs: '
                                      f'{", ".join(self.order)})', field=f'knobs.{unknown[0]}')
        values = {}
        for name in self.order:
            knob, given = self.config[name], knobs.get(name)
            if isinstance(knob, PolicyKnob):
                if name in knobs:
                    raise InvalidKnobsError(f'knob {name!r} is a policy knob, which the advisor sets',
                                              field=f'knobs.{name}')
                values[name] = False if is_active(knob, values) else None
            elif not is_active(knob, values):
                if given is not None:
                    raise InvalidKnobsError(f'knob {name!r} is inactive with these values (its condition is '
                                              'not met); leave it out', field=f'knobs.{name}')
                values[name] = None
            elif isinstance(knob, FixedKnob) and name not in knobs:
                values[name] = knob.value
            elif name not in knobs:
                raise InvalidKnobsError(f'knob {name!r} needs a value', field=f'knobs.{name}')
            else:
                try:
                    values[name] = knob.validate_value(given)
                except InvalidKnobError as e:
                    raise InvalidKnobsError(f'knob {name!r}: {e.message}', field=f'knobs.{name}') from None
        return values

    def config_key(self, knobs: dict) -> tuple:
        """Identity of a configuration: the values of its active knobs, policy knobs left out (a
        JSON-able, hashable tuple). Two configurations that differ only in the value of a knob
        inactive in both (a recorded value its condition switches off) have the same key."""
        active = {}
        for name in self.order:
            active[name] = knobs.get(name) if is_active(self.config[name], active) else None
        return tuple((n, _hashable(active[n])) for n in self.order
                     if not isinstance(self.config[n], PolicyKnob))

    # Grid.
    def enumerate_grid(self, policy_values: dict, limit: int = MAX_GRID_SIZE) -> Optional[List[dict]]:
        """Every distinct configuration as Optuna params (active searchable knobs only), or None."""
        points = self.enumerate_points(policy_values, limit)
        return None if points is None else [params for _, params in points]

    def enumerate_points(self, policy_values: dict, limit: int = MAX_GRID_SIZE) -> Optional[List[tuple]]:
        """Every distinct configuration as ``(knob values, Optuna params)``, or None when the space is
        infinite or has more than ``limit`` configurations."""
        partials = [({}, {})]   # (knob values so far, optuna params)
        for name in self.order:
            knob = self.config[name]
            grown = []
            for values, params in partials:
                if not is_active(knob, values):
                    grown.append(({**values, name: None}, params))
                elif isinstance(knob, PolicyKnob):
                    grown.append(({**values, name: policy_values.get(knob.policy, False)}, params))
                elif isinstance(knob, FixedKnob):
                    grown.append(({**values, name: knob.value}, params))
                elif isinstance(knob, ArchKnob):
                    for combo in itertools.product(*knob.items):
                        p = {f'{name}[{i}]': v for i, v in enumerate(combo)}
                        grown.append(({**values, name: list(combo)}, {**params, **p}))
                else:
                    choices = knob.enumerate_values()
                    if choices is None:
                        return None
                    grown.extend(({**values, name: v}, {**params, name: v}) for v in choices)
                if len(grown) > limit:
                    return None
            partials = grown
        return partials

    def random_point(self, rng) -> tuple:
        """One configuration of a finite space drawn uniformly knob by knob, as ``(knob values,
        Optuna params)`` (policy knobs False)."""
        values, params = {}, {}
        for name in self.order:
            knob = self.config[name]
            if not is_active(knob, values):
                values[name] = None
            elif isinstance(knob, PolicyKnob):
                values[name] = False
            elif isinstance(knob, ArchKnob):
                values[name] = [rng.choice(choices) for choices in knob.items]
                params.update({f'{name}[{i}]': v for i, v in enumerate(values[name])})
            else:
                values[name] = rng.randint(knob.value_min, knob.value_max) if isinstance(knob, IntegerKnob) \
                    else rng.choice(knob.enumerate_values())
                if not isinstance(knob, FixedKnob):
                    params[name] = values[name]
        return values, params


def forbids_repeats(space: SearchSpace, allow_repeats: bool) -> bool:
    """Whether no configuration of ``space`` may be proposed twice: a finite space whose job does
    not allow repeats (the rule ``BaseAdvisor`` states)."""
    return space.is_finite and not allow_repeats


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value
