"""Small checks on the numbers of request bodies, shared by the job services."""


def is_int(value) -> bool:
    """A JSON integer (``True`` is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` (GPUs) over ``parts`` (templates or trials), the first ones getting one more."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]
