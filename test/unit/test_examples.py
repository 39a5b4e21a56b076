"""Every example template passes the local harness on its dataset with a small budget and reaches
a sensible score (the scores are printed: run with -s to see them)."""
import ast
import io
import json
import os
import sys
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from examples.datasets.build import TASKS, build
from examples.models import declared_dependencies
from singa.admin.services.model_fields import parse_dependencies
from singa.model import dev

ROOT = os.path.join(os.path.dirname(__file__), '..', '..', 'examples', 'models')
CASES = [
    # file, class, task, dataset, budget (trials), minimum score, pruner
    ('sk_decision_tree.py', 'SkDecisionTree', 'TABULAR_CLASSIFICATION', 'iris', 4, 0.85, 'NONE'),
    ('sk_random_forest.py', 'SkRandomForestClf', 'TABULAR_CLASSIFICATION', 'wine', 4, 0.9, 'NONE'),
    ('sk_random_forest.py', 'SkRandomForestReg', 'TABULAR_REGRESSION', 'diabetes', 4, 0.3, 'NONE'),
    ('sk_svc.py', 'SkSvc', 'TABULAR_CLASSIFICATION', 'digits', 5, 0.95, 'NONE'),
    ('sk_sgd.py', 'SkSgdClf', 'TABULAR_CLASSIFICATION', 'wine', 4, 0.9, 'NONE'),
    ('sk_logistic_regression.py', 'SkLogisticRegression', 'TABULAR_CLASSIFICATION', 'breast_cancer', 4, 0.93, 'NONE'),
    ('sk_gradient_boosting.py', 'SkGradientBoostingClf', 'TABULAR_CLASSIFICATION', 'breast_cancer', 3, 0.9, 'NONE'),
    ('sk_gradient_boosting.py', 'SkGradientBoostingReg', 'TABULAR_REGRESSION', 'diabetes', 3, 0.2, 'NONE'),
    ('sk_extra_trees.py', 'SkExtraTreesClf', 'TABULAR_CLASSIFICATION', 'digits', 3, 0.95, 'NONE'),
    ('sk_extra_trees.py', 'SkExtraTreesReg', 'TABULAR_REGRESSION', 'diabetes', 3, 0.3, 'NONE'),
    ('torch_mlp.py', 'TorchMlpClf', 'TABULAR_CLASSIFICATION', 'wine', 6, 0.9, 'MEDIAN'),
    ('torch_cnn.py', 'TorchCnnClf', 'IMAGE_CLASSIFICATION', 'digits_images', 5, 0.9, 'MEDIAN'),
    ('sk_pos_tagger.py', 'SkPosTagger', 'POS_TAGGING', 'pos_corpus', 2, 0.95, 'NONE'),
    ('torch_detector.py', 'TorchCenterNet', 'IMAGE_DETECTION', 'shapes', 1, 0.5, 'NONE'),
]
TRAIN_ARGS = {'TorchCenterNet': {'epochs': 10}}     # a short training: seconds, not half a minute


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('datasets'))
    for name in {case[3] for case in CASES}:
        build(name, out)
    return out


def paths(data_dir, name):
    ext = 'csv' if TASKS[name].startswith('TABULAR') else 'zip'
    return [os.path.join(data_dir, f'{name}_{part}.{ext}') for part in ('train', 'val')]


@pytest.mark.parametrize('file, cls, task, dataset, trials, minimum, pruner', CASES,
                         ids=[c[1] for c in CASES])
def test_example_template_tunes_and_reloads(data_dir, file, cls, task, dataset, trials, minimum, pruner):
    train, val = paths(data_dir, dataset)
    out = io.StringIO()
    result = dev.run_model_class(os.path.join(ROOT, file), cls, task, None, train, val,
                                 budget={'MODEL_TRIAL_COUNT': trials}, train_args=TRAIN_ARGS.get(cls), pruner=pruner,
                                 seed=0, out=out)
    print(f'\n{cls} on {dataset}: best score {result.best.score:.4f} '
          f'({len(result.trials)} trials, {sum(t.seconds for t in result.trials):.1f} s)')
    assert result.best.score >= minimum, out.getvalue()
    assert len(result.predictions) == 3
    assert 'Parameters round-trip, reload and predictions: OK' in out.getvalue()


@pytest.mark.parametrize('file, cls', sorted({(c[0], c[1]) for c in CASES}))
def test_example_template_passes_the_admins_inspection(file, cls):
    from singa.model.inspect import check_model_template
    with open(os.path.join(ROOT, file), 'rb') as f:
        config = check_model_template(f.read(), cls)
    assert config['knobs']


def shipped() -> set:
    """The distributions the platform gives model code (it decides by what is installed where the
    template runs: ``singa.envs.platform``): its own requirements, and torch (the ``torch`` extra,
    the singa-worker-torch image)."""
    requirements = [Requirement(text) for text in metadata.requires('singa-auto')]
    return {canonicalize_name(r.name) for r in requirements if r.marker is None or r.marker.evaluate({'extra': 'torch'})}


def third_party_imports(source: str) -> set:
    """The top-level modules a template imports, anywhere in it, other than the standard library's and ours."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.add(node.module.split('.')[0])
    return found - set(sys.stdlib_module_names) - {'singa'}


@pytest.mark.parametrize('file', sorted(f for f in os.listdir(ROOT) if f.endswith('.py') and f != '__init__.py'))
def test_example_template_declares_what_it_imports_beyond_the_platform(file):
    with open(os.path.join(ROOT, file)) as f:
        source = f.read()
    declared = declared_dependencies(source)
    assert declared is not None, f'{file} has no DEPENDENCIES: what to declare when uploading it'
    names = {canonicalize_name(Requirement(text).name) for text in parse_dependencies(json.dumps(declared))}
    providers = metadata.packages_distributions()
    for module in sorted(third_party_imports(source)):
        installed = {canonicalize_name(d) for d in providers.get(module, [])}
        if installed & shipped():
            continue
        # Declared by a distribution that provides it here, or by one named after it (xgboost-cpu).
        assert installed & names or any(n == module or n.startswith(f'{module}-') for n in names), \
            f'{file} imports {module}, which the platform does not ship, and does not declare it: {declared}'
