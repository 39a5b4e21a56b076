"""Extremely randomized trees for TABULAR_CLASSIFICATION and TABULAR_REGRESSION (scikit-learn).

Like a random forest, but each split's threshold is drawn at random: cheaper to grow, and on
small, noisy or many-featured tables (pixels, measurements) often more accurate. One of the
estimators FLAML tunes by default; its space here follows FLAML's (the number of trees, the share
of features tried at each split, the leaf size, the split criterion), with trees grown to full
depth, as extra trees are meant to be.
"""
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

from singa.model import CategoricalKnob, FixedKnob, FloatKnob, IntegerKnob
from singa.model.sklearn_base import SklearnTabularModel

DEPENDENCIES = {'scikit-learn': None, 'skops': None}


def extra_trees_knobs(criteria):
    return {
        'n_estimators': IntegerKnob(20, 400, is_exp=True),
        'max_features': FloatKnob(0.05, 1.0, is_exp=True),
        'min_samples_leaf': IntegerKnob(1, 8, is_exp=True),
        'criterion': CategoricalKnob(criteria),
        'seed': FixedKnob(0),
    }


def extra_trees_args(knobs):
    return dict(n_estimators=knobs['n_estimators'], max_features=knobs['max_features'],
                min_samples_leaf=knobs['min_samples_leaf'], criterion=knobs['criterion'],
                random_state=knobs['seed'], n_jobs=1)


class SkExtraTreesClf(SklearnTabularModel):
    trusted_types = ('sklearn.tree._tree.Tree',)

    @staticmethod
    def get_knob_config():
        return extra_trees_knobs(['gini', 'entropy'])

    def build_estimator(self):
        return ExtraTreesClassifier(**extra_trees_args(self.knobs))


class SkExtraTreesReg(SklearnTabularModel):
    is_classifier = False
    trusted_types = ('sklearn.tree._tree.Tree',)

    @staticmethod
    def get_knob_config():
        return extra_trees_knobs(['squared_error', 'friedman_mse'])

    def build_estimator(self):
        return ExtraTreesRegressor(**extra_trees_args(self.knobs))
