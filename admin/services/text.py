"""The one text check of every request, and its JSON Schema patterns.

No string anywhere in a request (a text field, a key or a string inside a free-form JSON value)
may hold a control character (U+0000 to U+001F, U+007F to U+009F; a multi-line field allows tab,
line feed and carriage return) or a lone surrogate: PostgreSQL cannot store NUL, and none of them
belongs in a name, an email or a password. Lone surrogates are left out of the patterns: valid
UTF-8 cannot carry them (only a JSON escape can), and regex dialects disagree about them.
"""
import re

from singa.errors import InvalidRequestError

_CONTROL = {False: r'\x00-\x1f\x7f-\x9f', True: r'\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f'}    # by multiline
_FORBIDDEN = {multiline: re.compile(f'[{chars}\ud800-\udfff]') for multiline, chars in _CONTROL.items()}
MAX_JSON_DEPTH = 32


# Text with a character other than white space (what is left after strip() is not empty), and no
# control character: names and passwords.
NOT_BLANK_PATTERN = f'^[^{_CONTROL[False]}]*[^\\s{_CONTROL[False]}][^{_CONTROL[False]}]*$'


def text_pattern(multiline: bool = False) -> str:
    """The JSON Schema pattern of text that passes ``check_text``."""
    return f'^[^{_CONTROL[multiline]}]*$'


def check_text(value: str, field: str, multiline: bool = False) -> str:
    """``value`` unless it holds a control character or a lone surrogate (``InvalidRequestError``)."""
    bad = _FORBIDDEN[multiline].search(value)
    if bad:
        raise InvalidRequestError(f'{field} must not contain control characters; found U+{ord(bad.group()):04X} '
                                  f'at position {bad.start()}', field=field)
    return value


def check_json_value(value, field: str):
    """``value`` (parsed JSON) unless a string in it, or a key, fails the (multi-line) text check,
    or it nests deeper than ``MAX_JSON_DEPTH``. Walks without recursion: no input exhausts the stack."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise InvalidRequestError(f'{field} is nested more than {MAX_JSON_DEPTH} deep', field=field)
        if isinstance(item, str):
            check_text(item, field, multiline=True)
        elif isinstance(item, dict):
            for key, child in item.items():
                check_text(key, field, multiline=True)
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return value
