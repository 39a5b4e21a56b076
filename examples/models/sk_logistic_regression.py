"""Logistic regression for TABULAR_CLASSIFICATION (scikit-learn)."""
from sklearn.linear_model import LogisticRegression

from singa.model import FixedKnob, FloatKnob
from singa.model.sklearn_base import SklearnTabularModel

DEPENDENCIES = {'scikit-learn': None, 'skops': None}


class SkLogisticRegression(SklearnTabularModel):
    scale_features = True

    @staticmethod
    def get_knob_config():
        return {
            'C': FloatKnob(1e-3, 1e3, is_exp=True),
            'max_iter': FixedKnob(500),
        }

    def build_estimator(self):
        return LogisticRegression(C=self.knobs['C'], max_iter=self.knobs['max_iter'])
