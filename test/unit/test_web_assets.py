"""The web admin's files: the vendored chart library is the pinned one, every module a page imports
exists, nothing is loaded from another origin or written as markup, and a built wheel carries it all."""
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WEB = os.path.join(ROOT, 'admin', 'web')
STATIC = os.path.join(WEB, 'static')
VENDOR = os.path.join(STATIC, 'vendor')
OWN_FILES = sorted([os.path.join(WEB, 'index.html')] + [
    p for p in glob.glob(os.path.join(STATIC, '**', '*'), recursive=True)
    if os.path.isfile(p) and not p.startswith(VENDOR + os.sep)])
SCRIPTS = [p for p in OWN_FILES if p.endswith('.js')]
MAX_FILE_BYTES = 5 << 20


def read(path: str) -> str:
    with open(path, encoding='utf-8') as f:
        return f.read()


def test_the_vendored_echarts_is_the_pinned_release():
    manifest = json.loads(read(os.path.join(VENDOR, 'echarts', 'MANIFEST.json')))
    assert manifest['package'] == 'echarts' and manifest['license'] == 'Apache-2.0'
    script = read(os.path.join(ROOT, 'scripts', 'vendor_echarts.sh'))
    assert f'VERSION={manifest["version"]}\n' in script and manifest['npm_integrity'] in script
    for name, digest in manifest['sha256'].items():
        with open(os.path.join(VENDOR, 'echarts', name), 'rb') as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name


def test_no_web_file_is_over_the_size_limit():
    for path in glob.glob(os.path.join(WEB, '**', '*'), recursive=True):
        assert os.path.getsize(path) <= MAX_FILE_BYTES, path


@pytest.mark.parametrize('path', SCRIPTS, ids=lambda p: os.path.relpath(p, STATIC))
def test_every_module_import_resolves(path):
    source = read(path)
    targets = re.findall(r"""(?:from|import)\s*\(?\s*['"](\.{1,2}/[^'"]+)['"]""", source)
    for target in targets:
        assert os.path.isfile(os.path.normpath(os.path.join(os.path.dirname(path), target))), target


def test_every_route_names_a_page_its_module_exports():
    routes = re.findall(r"\[/\^.*?/, '(\./pages/[a-z_]+\.js)', '(\w+)'\]", read(os.path.join(STATIC, 'app.js')))
    assert len(routes) >= 12
    for module, name in routes:
        source = read(os.path.join(STATIC, module))
        assert re.search(rf'export (?:async )?function {name}\(', source), (module, name)


@pytest.mark.parametrize('path', OWN_FILES, ids=lambda p: os.path.relpath(p, WEB))
def test_nothing_comes_from_another_origin_and_no_markup_is_built_from_strings(path):
    source = read(path)
    assert not re.search(r'(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/', source, re.I), 'a URL of another origin'
    assert not re.search(r'\b(?:innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval)\b', source)


def test_a_built_wheel_carries_every_web_file(tmp_path):
    """What a non-editable install gets (setup.py's package_data 'web/**/*')."""
    source = tmp_path / 'src'
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
    for folder in ('singa', 'admin', 'workers', 'client'):
        shutil.copytree(os.path.join(ROOT, folder), source / folder, ignore=ignore)
    for name in ('setup.py', 'README.rst'):
        shutil.copy(os.path.join(ROOT, name), source / name)
    built = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q',
                            '-w', str(tmp_path / 'dist'), str(source)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = glob.glob(str(tmp_path / 'dist' / '*.whl'))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {'singa/admin/' + os.path.relpath(p, os.path.join(ROOT, 'admin')).replace(os.sep, '/')
                for p in glob.glob(os.path.join(WEB, '**', '*'), recursive=True) if os.path.isfile(p)}
    assert 'singa/admin/web/static/vendor/echarts/echarts.min.js' in expected
    assert expected <= names, sorted(expected - names)
