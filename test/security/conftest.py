"""Fixtures of the hostile-template suite (the platform harness is test/support/local_stack.py)."""
import subprocess
import sys

import pytest

from local_stack import REPO


@pytest.fixture(scope='session')
def iris_splits(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp('iris-security')
    subprocess.run([sys.executable, '-m', 'examples.datasets.build', '--out', str(out), 'iris'], cwd=REPO,
                   check=True, capture_output=True)
    return {split: str(out / f'iris_{split}.csv') for split in ('train', 'val', 'test')}
