"""SingaAuto's local harness: ``test_model_class`` with the original's parameters, and the
original's command-line flags of a template's ``__main__`` block (budget keys and knob values,
``FixedKnob`` included). No server needed."""
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, 'templates')
REPO = os.path.dirname(os.path.dirname(HERE))

RECORDER = '''
from singa_auto.model import BaseModel, ArchKnob, CategoricalKnob, FixedKnob, FloatKnob, KnobValue

class Recorder(BaseModel):
    """Scores its knobs; remembers what train and evaluate were given."""
    @staticmethod
    def get_knob_config():
        zero = KnobValue(0)
        return {'x': FloatKnob(0.0, 1.0), 'mode': CategoricalKnob(['a', 'b']), 'seed': FixedKnob(7),
                'arch': ArchKnob([[zero, KnobValue(1)], [zero, KnobValue(2)]])}
    def __init__(self, **knobs):
        self._knobs = knobs
    def train(self, dataset_path, **kwargs):
        self._train_kwargs = sorted(kwargs)
    def evaluate(self, dataset_path, **kwargs):
        self.evaluated_with = sorted(kwargs)
        return float(self._knobs['x'])
    def predict(self, queries):
        return [{'query': q, 'seed': self._knobs['seed'], 'arch': self._knobs['arch']} for q in queries]
    def dump_parameters(self):
        return {'train_kwargs': self._train_kwargs, 'nothing': None}
    def load_parameters(self, params):
        self.loaded = params
'''


@pytest.fixture
def recorder(tmp_path):
    path = tmp_path / 'recorder.py'
    path.write_text(RECORDER)
    data = tmp_path / 'data.csv'
    data.write_text('a,b\n1,2\n')
    return str(path), str(data)


def run_dev(recorder, argv, **kwargs):
    from singa_auto.model.dev import test_model_class
    path, data = recorder
    return test_model_class(path, 'Recorder', {}, data, data, argv=argv, **kwargs)


def test_budget_defaults_budget_and_flags_in_that_order(recorder, capsys):
    predictions, model = run_dev(recorder, [], budget={'MODEL_TRIAL_COUNT': 3})
    out = capsys.readouterr().out
    assert '"TIME_HOURS": 0.01, "MODEL_TRIAL_COUNT": 3, "GPU_COUNT": 0' in out and out.count('-- Trial') == 3
    assert predictions is None and model.loaded['nothing'] is None      # no queries: no predictions
    run_dev(recorder, ['--MODEL_TRIAL_COUNT=1', '--TIME_HOURS', '0.5'], budget={'MODEL_TRIAL_COUNT': 3})
    out = capsys.readouterr().out
    assert '"TIME_HOURS": 0.5, "MODEL_TRIAL_COUNT": 1' in out and out.count('-- Trial') == 1


def test_knob_flags_fix_any_knob_fixed_ones_and_arch_ones_too(recorder, capsys):
    predictions, model = run_dev(recorder, ['--MODEL_TRIAL_COUNT=2', '--seed=11', '--x=0.25', '--arch=[0, 2]',
                                            '--unrelated=1', '--mode', 'b'], queries=['q1'])
    out = capsys.readouterr().out
    assert 'Setting knob "seed" to be fixed value of "11"' in out
    assert predictions == [{'query': 'q1', 'seed': 11, 'arch': [0, 2]}]
    assert model._knobs == {'x': 0.25, 'mode': 'b', 'seed': 11, 'arch': [0, 2]}


def test_annotation_and_test_datasets(recorder, capsys):
    path, data = recorder
    _, model = run_dev(recorder, ['--MODEL_TRIAL_COUNT=1'], annotation_dataset_path=data, test_dataset_path=data,
                       train_args={'features': ['a']})
    assert model.loaded['train_kwargs'] == ['annotation_dataset_path', 'features', 'shared_params']
    assert model.evaluated_with == ['annotation_dataset_path']
    assert 'Score on test dataset: ' in capsys.readouterr().out


def test_a_task_this_platform_does_not_know_still_runs(recorder):
    predictions, _ = run_dev(recorder, ['--MODEL_TRIAL_COUNT=1'], task='SPEECH_RECOGNITION', queries=['UklGRg=='])
    assert predictions[0]['query'] == 'UklGRg=='


def test_question_answering_covid19_loads_the_fine_tune_path(recorder):
    path, data = recorder
    predictions, model = run_dev(recorder, ['--MODEL_TRIAL_COUNT=5'], task='question_answering_covid19',
                                 fine_tune_dataset_path='/models/fine-tuned', queries=['why?'])
    assert model.loaded == '/models/fine-tuned' and predictions[0]['query'] == 'why?'


def test_tune_model_and_make_predictions(recorder):
    from singa_auto.model import load_model_class
    from singa_auto.model.dev import make_predictions, tune_model
    path, data = recorder
    with open(path, 'rb') as f:
        cls = load_model_class(f.read(), 'Recorder')
    proposal, test_score, params = tune_model(cls, data, data, test_dataset_path=data,
                                              budget={'MODEL_TRIAL_COUNT': 2}, argv=[])
    assert test_score == proposal.knobs['x']
    predictions, model = make_predictions(['q'], 'TABULAR_CLASSIFICATION', cls, proposal, None, params)
    assert predictions[0]['seed'] == 7 and model.loaded['nothing'] is None


# The templates' own __main__ blocks, run as SingaAuto's README runs them ------------------------

@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
    """A working directory with ``data/``, as SingaAuto's examples expect."""
    from examples.datasets.build import build
    root = tmp_path_factory.mktemp('sa')
    build('iris', str(root / 'data'))
    build('pos_corpus', str(root / 'data'))
    paths = build('digits_images', str(root / 'data'))
    with zipfile.ZipFile(paths['test']) as z:
        (root / 'data' / 'query_1.png').write_bytes(z.read('images/00000.png'))
        (root / 'data' / 'query_2.png').write_bytes(z.read('images/00001.png'))
    for name in ('SaImageTree.py', 'SaTabularKnn.py', 'SaBigramHmm.py'):
        shutil.copy(os.path.join(TEMPLATES, name), root / name)
    return root


def run_main(workdir, *argv) -> str:
    done = subprocess.run([sys.executable, *argv], cwd=workdir, capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if k != 'PYTHONPATH'})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def trials(out: str) -> list:
    return [json.loads(line.split(' knobs ', 1)[1]) for line in out.splitlines() if line.startswith('-- Trial')]


def test_a_tabular_template_main_with_budget_and_knob_flags(workdir):
    out = run_main(workdir, 'SaTabularKnn.py', '--MODEL_TRIAL_COUNT=2', '--n_neighbors=2')
    assert 'Setting knob "n_neighbors" to be fixed value of "2"' in out
    assert [t['n_neighbors'] for t in trials(out)] == [2, 2]      # outside its range, as SingaAuto allowed
    predictions = json.loads(out.split('Predictions: ', 1)[1].splitlines()[0])
    assert len(predictions) == 1 and predictions[0].index(max(predictions[0])) == 0
    assert out.rstrip().endswith('No errors encountered while testing model!')


def test_an_image_template_main_with_a_fixed_knob_overridden(workdir):
    out = run_main(workdir, 'SaImageTree.py', '--MODEL_TRIAL_COUNT=3', '--max_image_size=6', '--classifier=tree',
                   '--query_path=data/query_1.png,data/query_2.png')
    assert [(t['max_image_size'], t['classifier']) for t in trials(out)] == [(6, 'tree')] * 3
    assert 'Score on test dataset: ' in out
    classes = json.loads(out.split('Predicted classes: ', 1)[1].splitlines()[0])
    assert len(classes) == 2 and all(0 <= c <= 9 for c in classes)


def test_a_pos_tagging_template_main_on_the_corpus_format(workdir):
    """SingaAuto's corpus reader (``load_dataset_of_corpus``) reads the POS_TAGGING datasets this
    platform checks at upload; the harness checks the predictions as the task's."""
    out = run_main(workdir, 'SaBigramHmm.py', '--MODEL_TRIAL_COUNT=2')
    assert len(trials(out)) == 2 and 'Parameters round-trip, reload and predictions: OK' in out
    assert json.loads(out.split('Predictions: ', 1)[1].splitlines()[0]) == [[0, 3, 1, 10, 2, 0, 1, 9]]
