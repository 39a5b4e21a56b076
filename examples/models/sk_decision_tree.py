"""Decision tree classifier for TABULAR_CLASSIFICATION (scikit-learn)."""
from sklearn.tree import DecisionTreeClassifier

from singa.model import CategoricalKnob, FixedKnob, IntegerKnob
from singa.model.sklearn_base import SklearnTabularModel

DEPENDENCIES = {'scikit-learn': None, 'skops': None}


class SkDecisionTree(SklearnTabularModel):
    trusted_types = ('sklearn.tree._tree.Tree',)

    @staticmethod
    def get_knob_config():
        return {
            'max_depth': IntegerKnob(2, 24),
            'criterion': CategoricalKnob(['gini', 'entropy']),
            'min_samples_leaf': IntegerKnob(1, 32, is_exp=True),
            'seed': FixedKnob(0),
        }

    def build_estimator(self):
        k = self.knobs
        return DecisionTreeClassifier(max_depth=k['max_depth'], criterion=k['criterion'],
                                      min_samples_leaf=k['min_samples_leaf'], random_state=k['seed'])
