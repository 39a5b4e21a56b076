"""Linear classifier trained epoch by epoch with SGD, for TABULAR_CLASSIFICATION (scikit-learn).

It shows the model logger's plots: ``define_plot`` declares a training curve and each epoch logs
its loss and training accuracy, which the web admin draws on the trial's page.
"""
import numpy as np
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss

from singa.model import CategoricalKnob, FixedKnob, FloatKnob, IntegerKnob, logger
from singa.model.dataset import load_tabular_dataset
from singa.model.sklearn_base import SklearnTabularModel

DEPENDENCIES = {'scikit-learn': None, 'skops': None}


class SkSgdClf(SklearnTabularModel):
    scale_features = True

    @staticmethod
    def get_knob_config():
        return {
            'alpha': FloatKnob(1e-6, 1e-1, is_exp=True),
            'penalty': CategoricalKnob(['l2', 'l1', 'elasticnet']),
            'epochs': IntegerKnob(5, 30),
            'seed': FixedKnob(0),
        }

    def build_estimator(self):
        return SGDClassifier(loss='log_loss', alpha=self.knobs['alpha'], penalty=self.knobs['penalty'],
                             random_state=self.knobs['seed'])

    def train(self, dataset_path, shared_params=None, features=None, target=None, **train_args):
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X, y, self._features = load_tabular_dataset(dataset_path, features, target)
        y = y.astype(np.int64)
        self._n_classes = int(y.max()) + 1
        classes = np.arange(self._n_classes)
        self._pipeline = make_pipeline(SimpleImputer(strategy='mean'), StandardScaler(), self.build_estimator())
        prepared = self._pipeline[:-1].fit_transform(X)
        sgd = self._pipeline[-1]
        logger.define_plot('Training curve', ['log_loss', 'train_accuracy'], x_axis='epoch')
        rng = np.random.default_rng(self.knobs['seed'])
        for epoch in range(1, self.knobs['epochs'] + 1):
            order = rng.permutation(len(prepared))
            sgd.partial_fit(prepared[order], y[order], classes=classes)
            proba = sgd.predict_proba(prepared)
            logger.log(epoch=epoch, log_loss=float(log_loss(y, proba, labels=classes)),
                       train_accuracy=float(np.mean(proba.argmax(axis=1) == y)))
        logger.log(f'Trained SGD for {self.knobs["epochs"]} epochs on {len(X)} rows')
