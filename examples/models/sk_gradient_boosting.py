"""Gradient boosting for TABULAR_CLASSIFICATION and TABULAR_REGRESSION (scikit-learn's
histogram-based implementation, fast on small data)."""
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from singa.model import FixedKnob, FloatKnob, IntegerKnob
from singa.model.sklearn_base import SklearnTabularModel

DEPENDENCIES = {'scikit-learn': None, 'skops': None}
TREE_PREDICTOR = 'sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor'


def boosting_knobs():
    return {
        'learning_rate': FloatKnob(1e-2, 0.5, is_exp=True),
        'max_iter': IntegerKnob(20, 200, is_exp=True),
        'max_leaf_nodes': IntegerKnob(4, 48, is_exp=True),
        'l2_regularization': FloatKnob(1e-6, 1.0, is_exp=True),
        'seed': FixedKnob(0),
    }


def boosting_args(knobs):
    return dict(learning_rate=knobs['learning_rate'], max_iter=knobs['max_iter'],
                max_leaf_nodes=knobs['max_leaf_nodes'], l2_regularization=knobs['l2_regularization'],
                random_state=knobs['seed'], early_stopping=False)


class SkGradientBoostingClf(SklearnTabularModel):
    trusted_types = (TREE_PREDICTOR,)

    @staticmethod
    def get_knob_config():
        return boosting_knobs()

    def build_estimator(self):
        return HistGradientBoostingClassifier(**boosting_args(self.knobs))


class SkGradientBoostingReg(SklearnTabularModel):
    is_classifier = False
    trusted_types = (TREE_PREDICTOR,)

    @staticmethod
    def get_knob_config():
        return boosting_knobs()

    def build_estimator(self):
        return HistGradientBoostingRegressor(**boosting_args(self.knobs))
