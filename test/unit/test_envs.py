"""Template environments without a server: keys, what the platform already satisfies, pip's reasons,
the platform description's codec, unpacking what a container built, and the store's refusals."""
import io
import json
import os
import sys
import tarfile

import pytest

from singa.envs.pip import reason
from singa.envs.platform import PlatformFacts, conflicts, unmet
from singa.envs.sandboxes import extract_tree
from singa.envs.store import EnvStore, env_key, normalised_requirements
from singa.errors import InvalidModelError, SingaError

FACTS = PlatformFacts(python='3.11', tag='cp311-cp311-manylinux_2_36_x86_64',
                      distributions=(('numpy', '2.4.6'), ('scikit-learn', '1.9.1'), ('scipy', '1.17.1')))


def test_one_set_of_requirements_is_one_key_however_it_is_spelled():
    assert normalised_requirements(['XGBoost_CPU >= 2.1', 'scipy', 'xgboost-cpu>=2.1']) == ['scipy', 'xgboost-cpu>=2.1']
    assert normalised_requirements(['a[Y,x]<3,>=1']) == ['a[x,y]<3,>=1']
    key = env_key(['xgboost-cpu>=2.1', 'lightgbm'], FACTS)
    assert key == env_key(['LightGBM', 'xgboost_cpu >=2.1'], FACTS) and len(key) == 64
    assert key != env_key(['xgboost-cpu>=2.2', 'lightgbm'], FACTS)
    upgraded = PlatformFacts(FACTS.python, FACTS.tag, (('numpy', '2.4.7'),) + FACTS.distributions[1:])
    assert key != env_key(['xgboost-cpu>=2.1', 'lightgbm'], upgraded)


def test_requirements_the_platform_meets_need_nothing_and_replacements_are_named():
    assert unmet(['numpy', 'scikit-learn>=1.0', 'SciPy==1.17.1'], FACTS) == []
    assert unmet(['numpy', 'xgboost-cpu', 'scikit-learn[benchmark]'], FACTS) == ['xgboost-cpu', 'scikit-learn[benchmark]']
    assert conflicts(['numpy<2', 'scipy>=1', 'xgboost-cpu==1.0'], FACTS) == [('numpy<2', 'numpy', '2.4.6')]


def test_pips_reason_keeps_its_errors_and_the_conflict_not_its_advice():
    conflict = b'''Looking in indexes: https://pypi.org/simple
WARNING: Location 'file:///x' is ignored: it is neither a file nor a directory.
ERROR: Cannot install foo==1.0 because these package versions have conflicting dependencies.

The conflict is caused by:
    foo 1.0 depends on numpy<2
    The user requested (constraint) numpy==2.4.6

To fix this you could try to:
1. loosen the range of package versions you've specified
2. remove package versions to allow pip attempt to solve the dependency conflict

ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/
'''
    text = reason(conflict)
    assert text.splitlines()[:4] == ['Cannot install foo==1.0 because these package versions have conflicting '
                                     'dependencies.', 'The conflict is caused by:', 'foo 1.0 depends on numpy<2',
                                     'The user requested (constraint) numpy==2.4.6']
    assert 'loosen' not in text and 'WARNING' not in text and 'Looking in' not in text
    missing = reason(b'ERROR: Could not find a version that satisfies the requirement nope (from versions: none)\n'
                     b'ERROR: No matching distribution found for nope\n')
    assert 'No matching distribution found for nope' in missing and 'only binary wheels' in missing
    offline = reason(b"WARNING: Retrying (Retry(total=0)) after connection broken by 'SSLError(...)': /simple/nope/\n"
                     b'ERROR: No matching distribution found for nope\n')
    assert "the package index could not be reached: Retrying (Retry(total=0)) after connection broken by 'SSLError" \
        in offline
    assert len(reason(b'ERROR: ' + b'x' * 10000)) <= 2000
    assert reason(b'Traceback...\nOSError: disk full\n') == 'Traceback...\nOSError: disk full'


def test_the_platforms_description_is_checked_and_targets_another_interpreter():
    here = PlatformFacts.here()
    assert here.python == f'{sys.version_info[0]}.{sys.version_info[1]}' and here.is_here()
    assert here.version_of('packaging') and PlatformFacts.from_dict(json.loads(json.dumps(here.to_dict()))) == here
    assert here.pip_target_args() == []
    for bad in ({}, {'python': '3', 'tag': here.tag, 'distributions': []},
                {'python': '3.11', 'tag': 'x', 'distributions': []},
                {'python': '3.11', 'tag': here.tag, 'distributions': [['../x', '1']]},
                {'python': '3.11', 'tag': here.tag, 'distributions': [['numpy', 'not a version']]}):
        with pytest.raises(SingaError):
            PlatformFacts.from_dict(bad)
    other = PlatformFacts('3.12', 'cp312-cp312-manylinux_2_17_aarch64', ())
    args = other.pip_target_args()
    assert args[:6] == ['--python-version', '3.12', '--implementation', 'cp', '--abi', 'cp312']
    platforms = [args[i + 1] for i, a in enumerate(args) if a == '--platform']
    assert platforms[0] == 'manylinux_2_17_aarch64' and 'manylinux_2_5_aarch64' in platforms
    assert platforms[-1] == 'linux_aarch64'


def _tar(path, members):
    with tarfile.open(path, 'w') as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == 'dir':
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == 'link':
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o700 if kind == 'exe' else 0o600
                tar.addfile(info, io.BytesIO(data))


def test_what_a_container_built_is_unpacked_as_plain_read_only_files(tmp_path):
    good = tmp_path / 'good.tar'
    _tar(good, [('env', 'dir', None), ('env/lib/site/pkg/__init__.py', 'file', b'x = 1\n'),
                ('env/bin/tool', 'exe', b'#!/bin/sh\n'), ('other/ignored', 'file', b'')])
    dest = tmp_path / 'dest'
    dest.mkdir()
    extract_tree(str(good), 'env', str(dest), 1 << 20)
    assert (dest / 'lib/site/pkg/__init__.py').read_bytes() == b'x = 1\n' and not (dest / 'other').exists()
    assert os.stat(dest / 'lib/site/pkg/__init__.py').st_mode & 0o777 == 0o644
    assert os.stat(dest / 'bin/tool').st_mode & 0o777 == 0o755
    for i, (members, message) in enumerate([([('env/link', 'link', '/etc/passwd')], 'not a plain file'),
                                            ([('env/../escape', 'file', b'x')], 'not a plain file'),
                                            ([('env/big', 'file', b'x' * 2048)], 'over 0 MiB')]):
        bad = tmp_path / 'bad.tar'
        _tar(bad, members)
        target = tmp_path / f'dest-{i}'
        target.mkdir()
        with pytest.raises(InvalidModelError, match=message):
            extract_tree(str(bad), 'env', str(target), 1024)
        assert not (tmp_path / 'escape').exists()


def test_the_store_uses_only_complete_environments_for_this_python(tmp_path):
    store = EnvStore(str(tmp_path))
    key = env_key(['xgboost-cpu'], FACTS)
    assert store.find(key) is None
    with pytest.raises(InvalidModelError, match='missing or incomplete'):
        store.get(key)
    with pytest.raises(InvalidModelError, match='not the key'):
        store.path('../../etc')
    os.makedirs(store.path(key))
    assert store.find(key) is None                      # a directory without its env.json is not one
    with store.lock(key, timeout=1):
        work = store.work_dir(key)
        os.makedirs(os.path.join(work, 'env', 'lib', 'site-packages'))
        env = store.publish(key, os.path.join(work, 'env'), {'python': '2.7', 'sites': ['lib/site-packages']})
    assert env.sites == ('lib/site-packages',) and store.find(key) == env
    with pytest.raises(InvalidModelError, match='built for Python 2.7'):
        store.get(key)
    with open(os.path.join(store.path(key), 'env.json'), 'w') as f:
        json.dump({'key': key, 'python': '3.11', 'sites': ['../../outside']}, f)
    assert store.find(key) is None
