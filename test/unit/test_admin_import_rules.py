"""Who may import whom (STYLE.md), checked on the source: services never import Flask, routes never
reach the database or its driver, the client uses only requests and singa.constants / singa.errors."""
import ast
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def imports_of(path: str) -> set[str]:
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules_in(folder: str) -> list[str]:
    base = os.path.join(ROOT, folder)
    return sorted(os.path.join(base, n) for n in os.listdir(base) if n.endswith('.py'))


@pytest.mark.parametrize('path', modules_in('admin/services'))
def test_services_do_not_import_flask(path):
    assert not {n for n in imports_of(path) if n.split('.')[0] in ('flask', 'werkzeug')}


@pytest.mark.parametrize('path', modules_in('admin/routes'))
def test_routes_do_not_touch_the_database(path):
    allowed = {'singa.meta_store.records'}
    bad = {n for n in imports_of(path) if (n.startswith('singa.meta_store') and n not in allowed)
           or n.split('.')[0] in ('psycopg2', 'redis', 'docker')}
    assert not bad


@pytest.mark.parametrize('path', modules_in('client'))
def test_the_client_imports_only_requests_and_the_shared_names(path):
    # The parameter codec is pure (numpy only): the client decodes downloaded parameters with it.
    allowed = {'singa.constants', 'singa.errors', 'singa.param_store.codec'}
    for name in imports_of(path):
        top = name.split('.')[0]
        if top == 'singa':
            assert name in allowed or name.startswith('singa.client'), name
        else:
            assert top == 'requests' or top in sys.stdlib_module_names, name


def test_only_the_advisors_and_the_exports_import_optuna():
    """The advisors search with it; the exports (singa.export, run on the client's side) write studies."""
    found = []
    for folder in ('singa', 'admin', 'workers', 'client'):
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                path = os.path.join(dirpath, name)
                if name.endswith('.py') and any(n.split('.')[0] == 'optuna' for n in imports_of(path)):
                    found.append(os.path.relpath(path, ROOT))
    allowed = tuple(os.path.join('singa', folder) + os.sep for folder in ('advisor', 'export'))
    assert found and all(p.startswith(allowed) for p in found), found
