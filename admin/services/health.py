"""What ``GET /health`` reports: whether the admin's dependencies answer."""
from singa.errors import ServiceUnavailableError
from singa.queues import ping


def check_dependencies(meta_store, redis_client) -> dict:
    """``{'postgres': 'ok', 'redis': 'ok'}``; ``ServiceUnavailableError`` naming each one that does
    not answer (``details`` holds the same map, with the error in place of ``ok``)."""
    found = {}
    for name, check in (('postgres', meta_store.ping), ('redis', lambda: ping(redis_client))):
        try:
            check()
            found[name] = 'ok'
        except ServiceUnavailableError as e:
            found[name] = e.message
    down = [name for name, state in found.items() if state != 'ok']
    if down:
        raise ServiceUnavailableError(f'{" and ".join(down)} unavailable', resource=down[0], details=found)
    return found
