"""Support vector classifier for TABULAR_CLASSIFICATION (scikit-learn), with conditional knobs:
``gamma`` exists only for the rbf and poly kernels, ``degree`` only for poly. Probabilities come
from a calibrated SVC."""
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import SVC

from singa.model import CategoricalKnob, FloatKnob, IntegerKnob
from singa.model.sklearn_base import SklearnTabularModel

DEPENDENCIES = {'scikit-learn': None, 'skops': None}


class SkSvc(SklearnTabularModel):
    scale_features = True
    trusted_types = ('sklearn.calibration._CalibratedClassifier',
                     'sklearn.calibration._SigmoidCalibration')

    @staticmethod
    def get_knob_config():
        return {
            'C': FloatKnob(1e-2, 1e3, is_exp=True),
            'kernel': CategoricalKnob(['rbf', 'poly', 'linear']),
            'gamma': FloatKnob(1e-4, 1.0, is_exp=True, condition={'kernel': ['rbf', 'poly']}),
            'degree': IntegerKnob(2, 4, condition={'kernel': ['poly']}),
        }

    def build_estimator(self):
        k = self.knobs
        svc = SVC(C=k['C'], kernel=k['kernel'], gamma=k['gamma'] or 'scale', degree=k['degree'] or 3)
        return CalibratedClassifierCV(svc, cv=3, ensemble=False)
