"""Login throttling, per account and per client address, shared by every admin process.

Failed logins in a row are counted per account (the email asked for, whether it exists or not, so
that the answers do not tell which emails are users) and per client address. Past a number of free
failures, each further failure locks the account, or the address, for a time that doubles (15 s,
30 s, 1 min, ... at most 15 min); while locked, every attempt is answered 429 with
``Retry-After``, even one with the right password, and is not checked. A successful login clears
its account's count, not its address's (an attacker could otherwise reset it by logging into an
account of their own). A count is forgotten after an hour without a failure; an admin's password
reset clears the account's.

The counts live in PostgreSQL (``login_failures``), not in a process: gunicorn runs several admin
processes, and every one of them must see every failure; a Redis restart must not reset an
attacker's count. Two attempts racing through the check before either failure is recorded are both
checked; the admin's request threads bound how many can.
"""
import math
from dataclasses import dataclass

from singa.errors import TooManyRequestsError
from singa.meta_store import login_failures
from singa.meta_store.db import MetaStore


@dataclass(frozen=True)
class ThrottleRule:
    scope: str                      # 'account' or 'address'
    free_failures: int              # failures in a row that lock nothing
    first_lock_seconds: float       # the lock after the first failure past those; each further one doubles it
    max_lock_seconds: float
    forget_after_seconds: float     # a count with no failure for this long starts again
    refusal: str                    # the 429's message, with {seconds}

    def lock_seconds(self, failures: int) -> float:
        """How long ``failures`` failures in a row lock the subject (0: not at all)."""
        if failures <= self.free_failures:
            return 0.0
        return min(self.first_lock_seconds * 2 ** min(failures - self.free_failures - 1, 32), self.max_lock_seconds)


ACCOUNT = ThrottleRule('account', free_failures=5, first_lock_seconds=15, max_lock_seconds=900,
                       forget_after_seconds=3600,
                       refusal='too many failed logins for this account; try again in {seconds} s')
ADDRESS = ThrottleRule('address', free_failures=20, first_lock_seconds=15, max_lock_seconds=900,
                       forget_after_seconds=3600,
                       refusal='too many failed logins from your address; try again in {seconds} s')


class LoginThrottle:
    def __init__(self, store: MetaStore, account: ThrottleRule = ACCOUNT, address: ThrottleRule = ADDRESS):
        self.store = store
        self.account = account
        self.address = address

    def check(self, email: str, client_address: str) -> None:
        """Raise ``TooManyRequestsError`` (with ``retry_after``) while the account or the address is locked."""
        rules = {(self.account.scope, email): self.account, (self.address.scope, client_address): self.address}
        with self.store.transaction() as cur:
            locked = login_failures.seconds_locked(cur, list(rules))
        if locked:
            key, wait = max(locked.items(), key=lambda item: item[1])
            seconds = max(1, math.ceil(wait))
            raise TooManyRequestsError(rules[key].refusal.format(seconds=seconds), resource='login',
                                       details={'retry_after': seconds})

    def failed(self, email: str, client_address: str) -> None:
        """Count a failed login against the account and the address, locking either when due."""
        with self.store.transaction() as cur:
            for rule, subject in ((self.account, email), (self.address, client_address)):
                row = login_failures.count_failure(cur, rule.scope, subject, rule.forget_after_seconds)
                seconds = rule.lock_seconds(row.failures)
                if seconds:
                    login_failures.lock(cur, rule.scope, subject, seconds)

    def clear_account(self, email: str) -> None:
        """Forget the account's failures (a successful login, an admin's password reset)."""
        with self.store.transaction() as cur:
            login_failures.clear(cur, self.account.scope, email)

    def purge(self) -> int:
        """Forget old counts (the reconciler's housekeeping)."""
        with self.store.transaction() as cur:
            return login_failures.purge(cur, max(self.account.forget_after_seconds,
                                                 self.address.forget_after_seconds))
