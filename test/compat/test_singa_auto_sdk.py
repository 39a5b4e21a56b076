"""``singa_auto``: SingaAuto's names over our SDK, with the original's looser semantics where a
template relies on them, while ``singa.*`` keeps its own checks. No server needed."""
import importlib
import io
import json
import os
import tempfile
import zipfile

import numpy as np
import pytest
from PIL import Image

import singa.model
from singa.errors import InvalidKnobError, InvalidModelError, InvalidParamsError
from singa.model.inspect import check_model_template, default_check_sandbox, validate_model_class
from singa.model.knob import serialize_knob_config
from singa.param_store.codec import decode_params, encode_params

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, 'templates')

# Every public name of SingaAuto's modules (nusdbsystem/singa-auto at 66a092e3).
ORIGINAL_NAMES = {
    'singa_auto.model': ['ImageClfBase', 'BaseModel', 'Params', 'KnobConfig', 'Knobs', 'ObjtDetModel', 'PosTagModel',
                         'TabularClfModel', 'LoggerUtils', 'utils', 'logger', 'dataset', 'load_model_class',
                         'parse_model_install_command', 'serialize_knob_config', 'deserialize_knob_config',
                         'BaseKnob', 'CategoricalKnob', 'IntegerKnob', 'FloatKnob', 'FixedKnob', 'ArchKnob',
                         'KnobValue', 'CategoricalValue', 'PolicyKnob'],
    'singa_auto.model.knob': ['KnobValue', 'CategoricalValue', 'BaseKnob', 'CategoricalKnob', 'FixedKnob',
                              'PolicyKnob', 'IntegerKnob', 'FloatKnob', 'ArchKnob', 'POLICIES'],
    'singa_auto.model.utils': ['load_model_class', 'parse_model_install_command', 'deserialize_knob_config',
                               'serialize_knob_config', 'ModelUtils', 'utils', 'logger', 'dataset'],
    'singa_auto.model.dev': ['tune_model', 'make_predictions', 'test_model_class', 'warn_user', 'inform_user'],
    'singa_auto.model.log': ['LoggerUtils', 'LogType'],
    'singa_auto.constants': ['BudgetOption', 'Budget', 'InferenceBudgetOption', 'InferenceBudget',
                             'ModelDependencies', 'ModelAccessRight', 'InferenceJobStatus', 'Tasks', 'TrainJobStatus',
                             'TrialStatus', 'UserType', 'ServiceType', 'ServiceStatus', 'ModelDependency',
                             'NodeLabes', 'ModelType'],
    'singa_auto.datasets': ['DatasetUtils', 'CorpusDataset'],
    'singa_auto.client': ['Client'],
    'singa_auto.config': ['SUPERADMIN_EMAIL', 'SUPERADMIN_PASSWORD'],
}
DATASET_UTILS = ['load_dataset_of_corpus', 'load_dataset_of_image_files', 'load_img_detection_datasets',
                 'load_dataset_of_audio_files', 'normalize_images', 'transform_images', 'load_images']
CLIENT_METHODS = ['login', 'get_current_user', 'logout', 'create_user', 'create_users', 'get_users', 'ban_user',
                  'create_dataset', 'get_datasets', 'create_model', 'get_model', 'download_model_file',
                  'get_models', 'get_models_of_task', 'get_available_models', 'delete_model', 'create_train_job',
                  'get_train_jobs_by_user', 'get_train_jobs_of_app', 'get_train_job', 'stop_train_job', 'get_trial',
                  'get_best_trials_of_train_job', 'get_trials_of_train_job', 'get_trial_logs',
                  'get_trial_parameters', 'load_trial_model', 'create_inference_job', 'get_inference_jobs_by_user',
                  'get_inference_jobs_of_app', 'get_running_inference_job', 'stop_inference_job', 'stop_all_jobs',
                  'send_event']


@pytest.mark.parametrize('module', sorted(ORIGINAL_NAMES))
def test_every_public_name_of_the_original_is_there(module):
    imported = importlib.import_module(module)
    assert [n for n in ORIGINAL_NAMES[module] if not hasattr(imported, n)] == []


def test_the_utils_object_and_the_client_have_the_original_methods():
    from singa_auto.client import Client
    from singa_auto.model import dataset, logger, utils
    assert utils.dataset is dataset and utils.logger is logger is singa.model.logger
    assert [m for m in DATASET_UTILS if not callable(getattr(dataset, m, None))] == []
    assert [m for m in CLIENT_METHODS if not callable(getattr(Client, m, None))] == []
    for name in ('log', 'define_plot', 'define_loss_plot', 'log_loss'):
        assert callable(getattr(logger, name))


def test_importing_singa_auto_does_not_load_the_client():
    code = ('import sys, singa_auto, singa_auto.model, singa_auto.model.dev, singa_auto.constants; '
            'print(sorted(m for m in sys.modules if "client" in m))')
    out = _python(code)
    assert out.strip() == '[]'
    assert _python('from singa_auto import Client; print(Client.__module__)').strip() == 'singa_auto.client.client'


def _python(code: str) -> str:
    import subprocess
    import sys
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout


# Knobs ------------------------------------------------------------------------------------------

def test_knobs_take_the_original_arguments_and_are_ours():
    from singa_auto.model import (ArchKnob, CategoricalKnob, FixedKnob, FloatKnob, IntegerKnob, KnobValue,
                                  PolicyKnob)
    lenet = FloatKnob(0.0001, 0.001, 0.01)          # LeNet5 and SqueezeNet give is_exp positionally as 0.01
    assert isinstance(lenet, singa.model.FloatKnob) and lenet.is_exp is True
    assert FloatKnob(0, 1, is_exp=True).value_min == 1e-12     # the original optimiser's floor
    assert IntegerKnob(0, 10, is_exp=1).is_exp is False        # a log scale cannot reach 0: searched uniformly
    assert IntegerKnob(1, 10, is_exp=1).is_exp is True
    assert CategoricalKnob([KnobValue('a'), 'b', KnobValue('a')]).values == ['a', 'b']
    assert FixedKnob(KnobValue(3)).value == 3
    assert [k.value_type for k in (lenet, IntegerKnob(1, 2), FixedKnob('x'), CategoricalKnob([True, False]),
                                   PolicyKnob('EARLY_STOP'), ArchKnob([[1]]))] == [float, int, str, bool, bool, list]
    with pytest.raises(ValueError):
        PolicyKnob('WARM_START')
    # Our knobs keep refusing what theirs accept.
    with pytest.raises(InvalidKnobError):
        singa.model.FloatKnob(0.0001, 0.001, 0.01)
    with pytest.raises(InvalidKnobError):
        singa.model.CategoricalKnob(['a', 'a'])


def test_arch_knob_values_are_tokens_by_identity():
    from singa_auto.model import ArchKnob, KnobValue
    inputs = [KnobValue(i) for i in range(3)]
    ops = [KnobValue(op) for op in ('conv3x3', 'max_pool')]
    other_zero = KnobValue(0)
    arch = ArchKnob([inputs[:1], ops, inputs[:2], ops, [other_zero, inputs[0]]])
    assert arch.knob_values[0][0] is arch.knob_values[2][0] is inputs[0]    # one token reused
    assert arch.knob_values[1][1] is arch.knob_values[3][1]
    assert arch.knob_values[4][0] is not inputs[0] and other_zero != inputs[0]  # equal values, different tokens
    assert arch.items == [[0], ['conv3x3', 'max_pool'], [0, 1], ['conv3x3', 'max_pool'], [0]]
    assert len(arch) == 5 and serialize_knob_config({'arch': arch})['knobs'][0]['type'] == 'ArchKnob'


def test_knob_configs_serialise_as_json_text():
    from singa_auto.model import CategoricalKnob, FloatKnob, deserialize_knob_config, serialize_knob_config
    config = {'lr': FloatKnob(1e-4, 1e-1, True), 'kind': CategoricalKnob(['a', 'b'])}
    text = serialize_knob_config(config)
    assert isinstance(text, str) and json.loads(text)['version'] == 1
    assert deserialize_knob_config(text) == config


# The base class ----------------------------------------------------------------------------------

SLOPPY = '''
import numpy as np
from singa_auto.model import TabularClfModel, IntegerKnob, FloatKnob

class Sloppy(TabularClfModel):
    def get_knob_config(self):                       # not static
        return {'k': IntegerKnob(1, 3), 'lr': FloatKnob(0, 1, 0.01)}
    def __init__(self, **knobs):
        super().__init__(**knobs)
        self.k = knobs.get('k')
    def train(self, dataset_path, features=None, target=None, shared_params=None, **kwargs):
        self._target, self._features, self.shared = target, features, shared_params
    def evaluate(self, dataset_path, **kwargs):
        return 0.5
    def predict(self, queries):
        return [[1.0] for _ in queries]
    def dump_parameters(self):
        return {'target': self._target, 'features': self._features, 'shape': (2, 3), 'meta': {'a': [1, None]},
                'labels': np.array(['cat', 'dog']), 'weights': np.arange(4, dtype=np.float32), 'k': self.k}
    def load_parameters(self, params):
        self.loaded = params

class NoKnobs(Sloppy):
    def get_knob_config(self):
        pass
'''


@pytest.fixture(scope='module')
def sloppy():
    from singa_auto.model import load_model_class
    return load_model_class(SLOPPY.encode(), 'Sloppy'), load_model_class(SLOPPY.encode(), 'NoKnobs')


def test_an_instance_method_get_knob_config_passes_our_check(sloppy):
    cls, no_knobs = sloppy
    assert issubclass(cls, singa.model.BaseModel)
    knobs = validate_model_class(cls)['knobs']
    assert [(k['name'], k['type']) for k in knobs] == [('k', 'IntegerKnob'), ('lr', 'FloatKnob')]
    assert knobs[1]['value_min'] == 1e-12 and knobs[1]['is_exp'] is True
    assert validate_model_class(no_knobs)['knobs'] == []     # None: no knobs, one trial


def test_our_base_class_keeps_its_checks():
    ours = SLOPPY.replace('from singa_auto.model import TabularClfModel', 'from singa.model import BaseModel '
                          'as TabularClfModel').replace('FloatKnob(0, 1, 0.01)', 'FloatKnob(0.1, 1)')
    with pytest.raises(InvalidModelError, match='must be a @staticmethod'):
        _check(ours.encode(), 'Sloppy', sandbox=None)
    with pytest.raises(InvalidParamsError):
        encode_params({'target': None})


def test_parameters_the_format_cannot_store_come_back_as_dumped(sloppy):
    cls, _ = sloppy
    model = cls(k=2, lr=0.1)
    model.train('unused.csv', target=None, features=['a', 'b'])
    stored = decode_params(encode_params(model.dump_parameters()))     # what the platform does with them
    assert sorted(stored) == ['__singa_auto_json__', 'k', 'weights']
    fresh = cls(k=2, lr=0.1)
    fresh.load_parameters(stored)
    loaded = fresh.loaded
    assert loaded['target'] is None and loaded['features'] == ['a', 'b'] and loaded['shape'] == [2, 3]
    assert loaded['meta'] == {'a': [1, None]} and loaded['k'] == 2
    assert loaded['labels'].tolist() == ['cat', 'dog'] and loaded['weights'].dtype == np.float32
    again = cls(k=2, lr=0.1)
    again.train('unused.csv', shared_params=stored)                   # SHARE_PARAMS hands them back too
    assert again.shared['target'] is None and again.shared['labels'].tolist() == ['cat', 'dog']


def _check(source: bytes, class_name: str, sandbox):
    return check_model_template(source, class_name, sandbox=sandbox or default_check_sandbox())


@pytest.mark.parametrize('name', ['SaImageTree', 'SaTabularKnn'])
def test_the_templates_pass_the_upload_check_in_the_sandbox(name):
    """The check imports the template in the sandbox (bubblewrap where it works), which binds the
    ``singa`` tree read-only: ``singa_auto`` must import there."""
    with open(os.path.join(TEMPLATES, f'{name}.py'), 'rb') as f:
        knobs = _check(f.read(), name, sandbox=None)['knobs']
    assert knobs and all(k['type'] in ('CategoricalKnob', 'IntegerKnob', 'FloatKnob', 'FixedKnob') for k in knobs)


def test_load_model_class_takes_bytes_and_zips_with_a_module_name():
    from singa_auto.model import load_model_class
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as z:
        z.writestr('pkg/__init__.py', '')
        z.writestr('pkg/helpers.py', 'K = 3\n')
        z.writestr('pkg/model.py', SLOPPY.replace('IntegerKnob(1, 3)', 'IntegerKnob(1, __import__("pkg.helpers")'
                                                  '.helpers.K)'))
    cls = load_model_class(buf.getvalue(), 'Sloppy', model_type='zip', model_file_name='pkg.model')
    assert cls.get_knob_config()['k'].value_max == 3


def test_install_commands():
    from singa_auto.model import parse_model_install_command
    assert parse_model_install_command({'tensorflow': '1.12.0', 'xgboost': '0.90'}, enable_gpu=True) == \
        'pip --no-cache-dir install tensorflow-gpu==1.12.0; pip --no-cache-dir install xgboost==0.90'


# utils.dataset -----------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    from examples.datasets.build import build
    return build('digits_images', str(tmp_path_factory.mktemp('digits')))


def test_image_files_dataset(digits):
    from singa_auto.model import utils
    dataset = utils.dataset.load_dataset_of_image_files(digits['val'], max_image_size=6, mode='L')
    assert dataset.image_size == 6 and dataset.classes == 10 and dataset.size == len(dataset) == 359
    images, classes = zip(*[(image, image_class) for (image, image_class) in dataset])
    assert len(images) == 359 and images[0].size == (6, 6) and images[0].mode == 'L'
    assert set(classes) == set(range(10))
    with zipfile.ZipFile(digits['val']) as z:
        first = z.read('images.csv').decode().splitlines()[1].split(',')
    assert classes[0] == int(first[1])                      # images.csv's integer classes, as given
    rgb = utils.dataset.load_dataset_of_image_files(digits['val'], min_image_size=16)
    assert rgb.image_size == 16 and rgb[0][0].mode == 'RGB'
    mean, std = rgb.get_stat()
    assert mean.shape == (3,) and std.shape == (3,)


def test_transform_images_answers_what_each_kind_of_caller_expects():
    from singa_auto.model import utils
    queries = [np.full((8, 8), 200, dtype=np.uint8).tolist(), Image.new('RGB', (8, 8), (10, 20, 30))]
    array = utils.dataset.transform_images(queries, image_size=4, mode='L')       # Rafiki's templates (SkDt)
    assert isinstance(array, np.ndarray) and array.shape == (2, 4, 4)
    images, pil = utils.dataset.transform_images(queries, image_size=4, mode='L')  # SingaAuto's (TfFeedForward)
    assert images.shape == (2, 4, 4) and [p.size for p in pil] == [(4, 4), (4, 4)]
    normalised, mean, std = utils.dataset.normalize_images(pil)
    assert normalised.shape == (2, 4, 4) and abs(float(np.mean(normalised))) < 1e-9


def test_load_images_from_paths_and_bytes(tmp_path):
    from singa_auto.model import utils
    path = tmp_path / 'q.png'
    Image.new('L', (3, 2), 7).save(path)
    from_path, from_bytes = utils.dataset.load_images([str(path), path.read_bytes()])
    assert from_path.mode == from_bytes.mode == 'RGB' and from_path.size == (3, 2)
    assert utils.dataset.load_images([str(path)], mode='L')[0].getpixel((0, 0)) == 7


def test_corpus_and_audio_datasets(tmp_path):
    from singa_auto.model import utils
    corpus = tmp_path / 'corpus.zip'
    with zipfile.ZipFile(corpus, 'w') as z:
        z.writestr('corpus.tsv', 'token\ttag\nThe\t0\ndog\t1\n\\n\t0\nRun\t2\n\\n\t0\n')
    dataset = utils.dataset.load_dataset_of_corpus(str(corpus))
    assert dataset.size == 2 and dataset[0] == [['The', 0], ['dog', 1]] and dataset[1] == [['Run', 2]]
    assert dataset.tag_num_classes == [3] and dataset.max_token_len == 3 and dataset.max_sent_len == 2
    audios = tmp_path / 'audios.zip'
    with zipfile.ZipFile(audios, 'w') as z:
        z.writestr('audios.csv', 'wav_filename,wav_filesize,transcript\na.wav,4,hello\n')
        z.writestr('a.wav', b'RIFF')
    with tempfile.TemporaryDirectory() as d:
        holder = type('Dir', (), {'name': d})()
        rows = utils.dataset.load_dataset_of_audio_files(str(audios), holder)
        assert rows.size == 1 and rows[0]['transcript'] == 'hello' and os.path.exists(os.path.join(d, 'a.wav'))
    with pytest.raises(NotImplementedError, match='object detection'):
        utils.dataset.load_img_detection_datasets(str(corpus), 'coco')
