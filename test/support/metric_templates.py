"""Templates whose evaluate() names several metrics, for the tests of multi-objective tuning."""

TWO_METRICS = '''
import time
from singa.model import BaseModel, FloatKnob, IntegerKnob

class TwoMetrics(BaseModel):
    """accuracy rises with x and with n; predict sleeps n/10 ms a query, so it is slower with n."""
    @staticmethod
    def get_knob_config():
        return {"x": FloatKnob(0.0, 1.0), "n": IntegerKnob(1, 30)}

    def train(self, dataset_path, shared_params=None, **kwargs):
        pass

    def evaluate(self, dataset_path):
        x, n = self.knobs["x"], self.knobs["n"]
        return {"accuracy": round(0.5 * x + n / 60, 4), "f1": round(x, 4)}

    def predict(self, queries):
        time.sleep(self.knobs["n"] / 10000)
        return [[0.5, 0.5] for _ in queries]

    def dump_parameters(self):
        return {"n": self.knobs["n"]}

    def load_parameters(self, params):
        pass
'''

SIZED = '''
from singa.model import BaseModel, FloatKnob, IntegerKnob

class Sized(BaseModel):
    """accuracy rises with x and with n; its parameters hold n * 400 bytes, so they grow with n."""
    @staticmethod
    def get_knob_config():
        return {"x": FloatKnob(0.0, 1.0), "n": IntegerKnob(1, 40)}

    def train(self, dataset_path, shared_params=None, **kwargs):
        pass

    def evaluate(self, dataset_path):
        return {"accuracy": round(0.5 * self.knobs["x"] + self.knobs["n"] / 80, 4)}

    def predict(self, queries):
        return [[0.5, 0.5] for _ in queries]

    def dump_parameters(self):
        return {"weights": "w" * (self.knobs["n"] * 400)}

    def load_parameters(self, params):
        pass

class Lean(Sized):
    """Small parameters whatever its knobs, and a lower accuracy."""
    def evaluate(self, dataset_path):
        return {"accuracy": round(0.1 + 0.2 * self.knobs["x"], 4)}

    def dump_parameters(self):
        return {"weights": "w"}
'''
