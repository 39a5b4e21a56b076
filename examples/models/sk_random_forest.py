"""Random forests for TABULAR_CLASSIFICATION and TABULAR_REGRESSION (scikit-learn)."""
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from singa.model import FixedKnob, FloatKnob, IntegerKnob
from singa.model.sklearn_base import SklearnTabularModel

DEPENDENCIES = {'scikit-learn': None, 'skops': None}


def forest_knobs():
    return {
        'n_estimators': IntegerKnob(10, 150, is_exp=True),
        'max_depth': IntegerKnob(2, 20),
        'max_features': FloatKnob(0.1, 1.0),
        'min_samples_leaf': IntegerKnob(1, 16, is_exp=True),
        'seed': FixedKnob(0),
    }


def forest_args(knobs):
    return dict(n_estimators=knobs['n_estimators'], max_depth=knobs['max_depth'],
                max_features=knobs['max_features'], min_samples_leaf=knobs['min_samples_leaf'],
                random_state=knobs['seed'], n_jobs=1)


class SkRandomForestClf(SklearnTabularModel):
    trusted_types = ('sklearn.tree._tree.Tree',)

    @staticmethod
    def get_knob_config():
        return forest_knobs()

    def build_estimator(self):
        return RandomForestClassifier(**forest_args(self.knobs))


class SkRandomForestReg(SklearnTabularModel):
    is_classifier = False
    trusted_types = ('sklearn.tree._tree.Tree',)

    @staticmethod
    def get_knob_config():
        return forest_knobs()

    def build_estimator(self):
        return RandomForestRegressor(**forest_args(self.knobs))
