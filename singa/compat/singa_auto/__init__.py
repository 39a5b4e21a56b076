"""``singa_auto``: SingaAuto's package names on this platform, for templates and scripts written
for the original (nusdbsystem/singa-auto) to run unchanged.

``singa_auto.model`` (with ``.dev``), ``singa_auto.constants``, ``singa_auto.config``,
``singa_auto.datasets`` and ``singa_auto.client`` keep the original's names, signatures and
formats on top of ``singa.model``, ``singa.constants`` and ``singa.client``; where the original's
semantics differ from ours, each module says what it does and why. ``setup.py`` installs this
folder (``singa/compat/singa_auto``) as the top-level package ``singa_auto``.

``Client`` is imported on first use, so model code that imports ``singa_auto`` never loads the
client (a sandbox need not carry it: it binds only the ``singa`` package's tree).
"""


def __getattr__(name):
    if name == 'Client':
        from singa_auto.client import Client
        return Client
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
