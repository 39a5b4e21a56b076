"""Host ports for published services (predictors), chosen the same way by every container manager:
the lowest port of ``predictor_port_min..max`` that is neither taken nor refused by ``usable``,
under a file lock held while the port is chosen and claimed, so that the processes of one admin
never pick the same one."""
import contextlib
import fcntl
import os
from typing import Callable, Iterable

from singa.errors import ContainerError


@contextlib.contextmanager
def port_lock(path: str):
    """An exclusive lock on the file ``path`` (created if missing) for the ``with`` block."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        f = open(path, 'a')
    except OSError as e:
        raise ContainerError(f'cannot open the port lock {path}: {e}', resource='service') from e
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def pick_port(settings, taken: Iterable[int], usable: Callable[[int], bool] = lambda port: True) -> int:
    taken = set(taken)
    for port in range(settings.predictor_port_min, settings.predictor_port_max + 1):
        if port not in taken and usable(port):
            return port
    raise ContainerError(f'no free port in {settings.predictor_port_min}..{settings.predictor_port_max} '
                         '(SINGA_PREDICTOR_PORT_MIN/MAX)', resource='service', field='publish_port')
