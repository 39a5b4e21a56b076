"""Where model code runs: sandboxes and the trusted runner that drives them.

``make_sandbox(settings)`` picks the sandbox named by ``SINGA_SANDBOX``:

- ``bubblewrap``: Linux namespaces (process mode; see ``singa.sandbox.bubblewrap``);
- ``container``: a plain child inside a locked-down worker container (what the Swarm manager
  gives its workers);
- ``none``: no isolation, allowed only with ``SINGA_SINGLE_USER`` (one user who trusts every
  template);
- ``auto`` (the default): ``bubblewrap`` where it works on this machine, else ``none``, which
  then limits who may run code (see ``sandbox_policy``).
"""
import functools
import shutil
import subprocess

from singa.errors import ConfigError
from singa.sandbox.base import BaseSandbox, SandboxLimits
from singa.sandbox.runner import ModelRunner, SandboxFailed, TemplateSource, TrialOutcome

KINDS = ('auto', 'bubblewrap', 'container', 'none')


@functools.lru_cache(maxsize=None)
def bubblewrap_works() -> bool:
    """Whether bubblewrap can make a sandbox here (a throwaway one runs ``true``)."""
    import os
    bwrap = shutil.which('bwrap')
    if not bwrap:
        return False
    args = [bwrap, '--ro-bind', '/', '/', '--unshare-pid', '--unshare-net', '--proc', '/proc', '--die-with-parent']
    if os.geteuid() != 0:
        args.append('--unshare-user')
    try:
        return subprocess.run(args + ['--', 'true'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def resolve_sandbox_kind(settings) -> str:
    """The sandbox kind these settings mean on this machine (``auto`` resolved)."""
    kind = settings.sandbox
    if kind not in KINDS:
        raise ConfigError(f'SINGA_SANDBOX must be one of {", ".join(KINDS)}; got {kind!r}')
    if kind == 'auto':
        return 'bubblewrap' if bubblewrap_works() else 'none'
    if kind == 'bubblewrap' and not bubblewrap_works():
        raise ConfigError('SINGA_SANDBOX=bubblewrap, but bubblewrap cannot make a sandbox here '
                          '(install it: apt-get install -y bubblewrap; it needs user namespaces or root)')
    if kind == 'none' and not settings.single_user:
        raise ConfigError('SINGA_SANDBOX=none runs every template without isolation; set SINGA_SINGLE_USER=true '
                          'as well if one trusted user is all this installation has')
    return kind


def make_sandbox(settings) -> BaseSandbox:
    kind = resolve_sandbox_kind(settings)
    if kind == 'bubblewrap':
        from singa.sandbox.bubblewrap import BubblewrapSandbox
        return BubblewrapSandbox()
    from singa.sandbox.container import ContainerSandbox, UnsandboxedProcess
    return ContainerSandbox() if kind == 'container' else UnsandboxedProcess()


def worker_limits(settings, threads: int = 0) -> SandboxLimits:
    """The limits of a train or inference worker's sandbox."""
    return SandboxLimits(memory_mb=settings.sandbox_memory_mb, max_pids=settings.sandbox_max_pids,
                         tmp_mb=settings.sandbox_tmp_mb, threads=threads)


__all__ = ['BaseSandbox', 'SandboxLimits', 'ModelRunner', 'SandboxFailed', 'TemplateSource', 'TrialOutcome',
           'KINDS', 'bubblewrap_works', 'resolve_sandbox_kind', 'make_sandbox', 'worker_limits']
