"""The password policy: what a new password (of a new user, a change, a reset) must be.

* 8 to 1024 characters (8 is NIST SP 800-63B's minimum for a chosen password), not all whitespace;
* not the account's email address;
* neither common nor trivial: zxcvbn, Dropbox's password strength estimator, must expect an
  attacker to need at least 10^8 guesses (its score 3, "moderate protection from an offline
  slow-hash scenario": the hashes here are scrypt). zxcvbn ships frequency lists (about 30,000
  passwords from leaks, English words, names) and recognises keyboard walks, sequences, repeats,
  dates, l33t substitutions and the account's own email in a password, so ``password``,
  ``12345678``, ``qwertyuiop``, ``P@ssw0rd!`` and ``jane@example.com1`` are refused, while
  ``correct horse battery staple`` or a password manager's output are not. It judges the first 72
  characters (its own bound on the work); a longer password is judged by those.

A refusal is an ``InvalidRequestError`` on the password field: a ``WeakPasswordError`` (with zxcvbn's
advice in the message) when the password has the right form but the policy judges it guessable.
"""
import zxcvbn

from singa.errors import InvalidRequestError, WeakPasswordError

MIN_LENGTH = 8
MAX_LENGTH = 1024
MIN_SCORE = 3
RULES = (f'A password has {MIN_LENGTH} to {MAX_LENGTH} characters, is neither all whitespace nor the email, and '
         'is not common or trivial (zxcvbn must expect at least 10^8 guesses); a refused one is a 400 saying why.')
_JUDGED_LENGTH = 72
_PLATFORM_WORDS = ['singa', 'singaauto', 'rafiki', 'admin', 'superadmin']


def check_new_password(password: str, email: str, field: str = 'password') -> None:
    """Raise ``InvalidRequestError`` (on ``field``) unless ``password`` may be the password of ``email``."""
    if len(password) < MIN_LENGTH:
        raise InvalidRequestError(f'the password must be at least {MIN_LENGTH} characters long', field=field)
    if len(password) > MAX_LENGTH:
        raise InvalidRequestError(f'the password must be at most {MAX_LENGTH} characters long', field=field)
    if not password.strip():
        raise InvalidRequestError('the password must not be only spaces', field=field)
    email = email.strip().lower()
    if password.strip().lower() == email:
        raise WeakPasswordError('the password must not be your email address', field=field)
    local, _, domain = email.partition('@')
    verdict = zxcvbn.zxcvbn(password[:_JUDGED_LENGTH], user_inputs=[email, local, *domain.split('.'),
                                                                    *_PLATFORM_WORDS],
                            max_length=_JUDGED_LENGTH)
    if verdict['score'] < MIN_SCORE:
        advice = ' '.join(part for part in [verdict['feedback'].get('warning') or '',
                                            *verdict['feedback'].get('suggestions', [])] if part)
        raise WeakPasswordError('the password is too easy to guess' + (f': {advice}' if advice else ''),
                                field=field)
