"""A decision tree whose trials take about 1.5 s, long enough for a test to kill a part of the
platform in the middle of one, and whose knob space never runs out (a float knob)."""
import time

from sklearn.tree import DecisionTreeClassifier

from singa.model import FixedKnob, FloatKnob, IntegerKnob
from singa.model.sklearn_base import SklearnTabularModel


class SteadyTree(SklearnTabularModel):
    trusted_types = ('sklearn.tree._tree.Tree',)

    @staticmethod
    def get_knob_config():
        return {'max_depth': IntegerKnob(2, 12), 'ccp_alpha': FloatKnob(0.0, 0.02), 'seed': FixedKnob(0)}

    def build_estimator(self):
        return DecisionTreeClassifier(max_depth=self.knobs['max_depth'], ccp_alpha=self.knobs['ccp_alpha'],
                                      random_state=self.knobs['seed'])

    def train(self, dataset_path, shared_params=None, **train_args):
        time.sleep(1.5)
        super().train(dataset_path, shared_params, **train_args)
