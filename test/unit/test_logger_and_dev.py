"""The model logger's lines and pruning hook, and the local harness's checks and command line."""
import io
import json
import subprocess
import sys
import threading

import pytest

from singa.errors import InvalidModelError, ModelRuntimeError, TrialPruned
from singa.model import dev, logger

TEMPLATE = '''
import numpy as np
from singa.model import BaseModel, FloatKnob, CategoricalKnob, PolicyKnob, logger
from singa.model.dataset import load_tabular_dataset, tabular_queries_to_array

class Centroid(BaseModel):
    """Nearest class mean, shrunk by a knob; reports a fake curve so pruning can act."""
    @staticmethod
    def get_knob_config():
        return {'shrink': FloatKnob(0.0, 1.0), 'mode': CategoricalKnob(['plain', 'odd']),
                'early_stop': PolicyKnob('EARLY_STOP')}
    def train(self, dataset_path, shared_params=None, **train_args):
        X, y, self.names = load_tabular_dataset(dataset_path)
        self.means = np.stack([X[y == c].mean(axis=0) for c in range(int(y.max()) + 1)])
        self.means *= 1 - 0.5 * self.knobs['shrink']
        for step in range(1, 4):
            logger.report(step, 1 - self.knobs['shrink'] * step)
    def _proba(self, X):
        d = -((X[:, None, :] - self.means[None]) ** 2).sum(axis=2)
        e = np.exp(d - d.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    def evaluate(self, dataset_path, **kwargs):
        X, y, _ = load_tabular_dataset(dataset_path)
        return float((self._proba(X).argmax(axis=1) == y).mean())
    def predict(self, queries):
        return [[float(v) for v in row] for row in self._proba(tabular_queries_to_array(queries, self.names))]
    def dump_parameters(self):
        return {'means': self.means, 'names': ','.join(self.names)}
    def load_parameters(self, params):
        self.means, self.names = params['means'], params['names'].split(',')
'''


@pytest.fixture
def setup(tmp_path):
    from examples.datasets.build import build
    paths = build('iris', str(tmp_path))
    model = tmp_path / 'centroid.py'
    model.write_text(TEMPLATE)
    return str(model), paths['train'], paths['val'], tmp_path


def test_logger_lines_and_pruning_hook():
    lines, reports = [], []
    logger.attach(lines.append, lambda step, score: reports.append((step, score)) or step >= 2)
    try:
        logger.log('hello', acc=0.5, n=3)
        logger.define_plot('Acc', ['acc'], x_axis='epoch')
        logger.log_loss(float('nan'), 1)
        logger.report(1, 0.5)
        with pytest.raises(TrialPruned):
            logger.report(2, 0.25)
        with pytest.raises(TypeError):
            logger.log(acc='high')
    finally:
        logger.detach()
    types = [line['type'] for line in lines]
    assert types[:4] == ['MESSAGE', 'METRICS', 'PLOT', 'METRICS'] and reports == [(1, 0.5), (2, 0.25)]
    assert lines[1]['metrics'] == {'acc': 0.5, 'n': 3} and lines[3]['metrics']['loss'] is None
    assert lines[2] == {**lines[2], 'title': 'Acc', 'metrics': ['acc'], 'x_axis': 'epoch'}
    assert all('T' in line['time'] for line in lines)
    json.dumps(lines)
    logger.report(5, 0.1)                         # detached: never prunes


def test_logger_attach_is_per_process_and_thread_safe():
    seen = []
    logger.attach(seen.append, lambda s, v: False)
    threads = [threading.Thread(target=lambda: [logger.log(x=i) for i in range(50)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logger.detach()
    assert len(seen) == 200


def test_harness_tunes_prunes_and_reloads(setup):
    model, train, val, _ = setup
    out = io.StringIO()
    result = dev.run_model_class(model, 'Centroid', 'TABULAR_CLASSIFICATION', {'numpy': None}, train, val,
                                 budget={'MODEL_TRIAL_COUNT': 12}, pruner='MEDIAN', seed=1, out=out)
    statuses = {t.status for t in result.trials}
    assert 'PRUNED' in statuses and result.best.score > 0.8
    assert [t.phase for t in result.trials][-3:] == ['FINAL_TRAIN'] * 3
    assert 'Best: trial' in out.getvalue()
    predictions, model_inst = dev.test_model_class(model, 'Centroid', 'TABULAR_CLASSIFICATION', None, train, val,
                                                   budget={'MODEL_TRIAL_COUNT': 2}, knobs={'shrink': 0.0},
                                                   queries=[{'sepal_length_cm': 5.0, 'sepal_width_cm': 3.4,
                                                            'petal_length_cm': 1.5, 'petal_width_cm': 0.2}], out=io.StringIO())
    assert len(predictions) == 1 and max(predictions[0]) == predictions[0][0] and model_inst.means.shape[0] == 3


@pytest.mark.parametrize('edit, error, message', [
    ("return {'means': self.means, 'names': ','.join(self.names)}",
     InvalidModelError, 'predictions differ after dump_parameters'),
    ("return [[float(v) for v in row]", InvalidModelError, 'not JSON-serialisable'),
    ("return float((self._proba(X).argmax(axis=1) == y).mean())", InvalidModelError, 'must return a number'),
    ("self.means *= 1 - 0.5", ModelRuntimeError, 'no trial of Centroid completed'),
])
def test_harness_finds_template_mistakes(setup, edit, error, message):
    model, train, val, tmp_path = setup
    broken = {
        'predictions differ': "return {'means': self.means * 2, 'names': ','.join(self.names)}",
        'not JSON': "return [[{1, 2} for v in row]",
        'must return a number': "return 'good'",
        'no trial': "raise RuntimeError('boom'); self.means *= 1 - 0.5",
    }
    key = next(k for k in broken if k in message)
    path = tmp_path / 'broken.py'
    path.write_text(TEMPLATE.replace(edit, broken[key]))
    with pytest.raises(error, match=message):
        dev.run_model_class(str(path), 'Centroid', 'TABULAR_CLASSIFICATION', None, train, val,
                            budget={'MODEL_TRIAL_COUNT': 2}, seed=0, out=io.StringIO())


def test_command_line_with_knob_overrides(setup):
    model, train, val, _ = setup
    proc = subprocess.run([sys.executable, '-m', 'singa.model.dev', model, 'Centroid', '--task',
                           'TABULAR_CLASSIFICATION', '--train', train, '--val', val, '--trials', '3',
                           '--knob', 'shrink=0.25', '--knob', 'mode=odd', '--seed', '0'],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '"shrink": 0.25, "mode": "odd"' in proc.stdout and proc.stdout.count('COMPLETED') >= 1
    bad = subprocess.run([sys.executable, '-m', 'singa.model.dev', model, 'Centroid', '--task',
                          'TABULAR_CLASSIFICATION', '--train', train, '--val', val, '--knob', 'shrink=7'],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and 'not a number in [0.0, 1.0]' in bad.stderr
