"""Templates for serving tests: trials that train nothing, whose ``predict`` is what a test needs."""

TEMPLATE = '''
import time

from singa.model import BaseModel, FloatKnob

class NAME(BaseModel):
    @staticmethod
    def get_knob_config():
        return {"x": FloatKnob(0.0, 1.0)}

    def train(self, dataset_path, shared_params=None, **kwargs):
        pass

    def evaluate(self, dataset_path):
        return 0.5

    def predict(self, queries):
PREDICT

    def dump_parameters(self):
        return {"x": 1.0}

    def load_parameters(self, params):
        pass
'''


def predicting_template(name: str, predict: str) -> str:
    """A template ``name`` whose trials train nothing and whose ``predict(self, queries)`` is ``predict``
    (its body, indented by 8 spaces; ``time`` is imported)."""
    return TEMPLATE.replace('NAME', name).replace('PREDICT', predict)
