"""A decision tree whose trials take about a second, or the job's ``train_args`` ``sleep_seconds`` (so
that a test can kill its worker mid-trial)
and that reports whether it could write to its dataset (it must not: datasets are mounted read-only)."""
import time

from sklearn.tree import DecisionTreeClassifier

from singa.model import FixedKnob, IntegerKnob
from singa.model.log import logger
from singa.model.sklearn_base import SklearnTabularModel


class SlowTree(SklearnTabularModel):
    trusted_types = ('sklearn.tree._tree.Tree',)

    @staticmethod
    def get_knob_config():
        return {'max_depth': IntegerKnob(2, 12), 'seed': FixedKnob(0)}

    def build_estimator(self):
        return DecisionTreeClassifier(max_depth=self.knobs['max_depth'], random_state=self.knobs['seed'])

    def train(self, dataset_path, shared_params=None, **train_args):
        try:
            with open(dataset_path, 'a'):
                writable = True
        except OSError:
            writable = False
        logger.log(f'dataset writable: {writable}')
        time.sleep(float(train_args.pop('sleep_seconds', 1.0)))
        super().train(dataset_path, shared_params, **train_args)
