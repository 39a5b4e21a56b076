"""Template inspection runs the uploaded file in a scrubbed, time-limited subprocess."""
import io
import json
import subprocess
import sys
import zipfile

import pytest

from singa.errors import InvalidModelError
from singa.model.inspect import check_model_template, checked_template, inspect_model_template

GOOD = b'''
from singa.model import BaseModel, FloatKnob, CategoricalKnob

class Good(BaseModel):
    @staticmethod
    def get_knob_config():
        return {'kind': CategoricalKnob(['a', 'b']),
                'lr': FloatKnob(1e-4, 1e-1, is_exp=True, condition={'kind': ['a']})}
    def train(self, dataset_path, shared_params=None, **train_args): pass
    def evaluate(self, dataset_path, **kwargs): return 1.0
    def predict(self, queries): return [0 for _ in queries]
    def dump_parameters(self): return {}
    def load_parameters(self, params): pass
'''


def test_good_template_gives_its_serialized_knob_config():
    config = check_model_template(GOOD, 'Good')
    assert [k['name'] for k in config['knobs']] == ['kind', 'lr']
    assert config['knobs'][1]['condition'] == {'kind': ['a']}


def test_template_in_a_zip_imports_its_sibling_module():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as z:
        z.writestr('pkg/helper.py', 'KNOBS = ["x", "y"]\n')
        z.writestr('pkg/model.py', GOOD.decode().replace(
            "CategoricalKnob(['a', 'b'])", "CategoricalKnob(['a'] + helper.KNOBS)").replace(
            'from singa.model', 'import helper\nfrom singa.model'))
    config = check_model_template(buf.getvalue(), 'Good', file_kind='zip', module_file='pkg/model.py')
    assert config['knobs'][0]['values'] == ['a', 'x', 'y']


@pytest.mark.parametrize('source, cls, message', [
    (b'def f(:\n  pass\n', 'Good', 'syntax error at line 1'),
    (GOOD, 'Missing', 'class Missing not found'),
    (b'class Good: pass\n', 'Good', 'not a BaseModel subclass'),
    (GOOD.replace(b"FloatKnob(1e-4", b"FloatKnob(1e4"), 'Good', 'bad knob config: FloatKnob needs value_min'),
    (GOOD.replace(b"{'kind': ['a']}", b"{'nope': ['a']}"), 'Good', 'bad knob config: .*missing knob'),
    (GOOD.replace(b'    @staticmethod\n', b''), 'Good', 'must be a @staticmethod'),
    (GOOD.replace(b'    def predict(self, queries): return [0 for _ in queries]\n', b''), 'Good',
     'does not implement: predict'),
    (b'import no_such_module_here\n', 'Good', 'ModuleNotFoundError'),
])
def test_bad_templates_are_refused_with_the_reason(source, cls, message):
    with pytest.raises(InvalidModelError, match=message):
        check_model_template(source, cls)


def test_a_hanging_template_is_killed_after_the_time_limit():
    with pytest.raises(InvalidModelError, match='timed out after 1 s'):
        check_model_template(b'import time\ntime.sleep(60)\n' + GOOD, 'Good', timeout=1)


def test_a_memory_hog_is_stopped_by_the_rlimit():
    with pytest.raises(InvalidModelError):
        check_model_template(b'x = bytearray(3 << 30)\n' + GOOD, 'Good', memory_mb=2048)


def test_the_template_sees_no_singa_secrets_and_prints_do_not_break_the_protocol(monkeypatch, tmp_path):
    monkeypatch.setenv('SINGA_POSTGRES_PASSWORD', 'secret')
    monkeypatch.setenv('SINGA_TOKEN_SECRET', 'secret')
    probe = (b'import os, json\nprint("hello from the template")\n'
             b'leaked = sorted(k for k in os.environ if k.startswith("SINGA_"))\n'
             b'from singa.model import BaseModel\n'
             b'if leaked or os.getcwd() != os.environ["HOME"]:\n'
             b'    raise RuntimeError("leaked %s cwd %s" % (leaked, os.getcwd()))\n') + GOOD
    assert check_model_template(probe, 'Good')['knobs'][0]['name'] == 'kind'


def test_command_line_prints_one_json_line(tmp_path):
    path = tmp_path / 'm.py'
    path.write_bytes(b'print("noise")\n' + GOOD)
    out = subprocess.run([sys.executable, '-m', 'singa.model.inspect', str(path), 'Good'],
                         capture_output=True, check=True).stdout.decode().strip().splitlines()
    assert len(out) == 1 and json.loads(out[0])['ok'] is True
    assert json.loads(out[0])['score_counts_examples'] is True
    bad = subprocess.run([sys.executable, '-m', 'singa.model.inspect', str(path), 'Nope'],
                         capture_output=True)
    assert bad.returncode == 1 and json.loads(bad.stdout)['error'].startswith('class Nope not found')


F1 = GOOD.replace(b"class Good(BaseModel):\n", b"class Good(BaseModel):\n    score_counts_examples = False\n")


def test_a_template_says_whether_its_score_counts_examples_and_the_check_reads_it_in_the_sandbox():
    assert inspect_model_template(GOOD, 'Good').score_counts_examples is True      # the default
    checked = inspect_model_template(F1, 'Good')
    assert checked.score_counts_examples is False and [k['name'] for k in checked.knob_config['knobs']] == ['kind', 'lr']
    with pytest.raises(InvalidModelError, match='score_counts_examples must be True or False'):
        inspect_model_template(F1.replace(b'= False', b'= "no"'), 'Good')


def test_the_declaration_a_sandbox_answers_is_checked_like_the_knob_config():
    config = check_model_template(GOOD, 'Good')
    assert checked_template({'knob_config': config}).score_counts_examples is True   # an older worker image
    for answer in ({'knob_config': config, 'score_counts_examples': 'false'}, ['not', 'a', 'dict']):
        with pytest.raises(InvalidModelError, match='score_counts_examples|not a description'):
            checked_template(answer)
