"""What the ``singa`` command's exit codes mean, and which error ends it with which.

Scripts may rely on these numbers; README.rst lists them too (section "The singa command").
"""
from singa.errors import NotFoundError, ServiceUnavailableError, SingaError, UnauthenticatedError

OK = 0
FAILED = 1            # anything not below: `singa up` could not start the stack, an unexpected error
USAGE = 2             # bad arguments or bad local input (a file that is not there, JSON that does not parse)
NOT_ALL_UP = 3        # `singa status`: a component of the local stack is down
REFUSED = 4           # the admin or predictor refused the request (a 4xx other than 401 and 404)
NOT_FOUND = 5         # no such object, or none the caller may see (404), or no object of that name
UNAUTHENTICATED = 6   # not logged in, or the token was refused (401): run `singa login`
UNAVAILABLE = 7       # the admin or predictor could not be reached, or failed (5xx)
JOB_ERRORED = 8       # the job waited on ended ERRORED (an inference job: ended before it ran)
TIMEOUT = 9           # --timeout passed while waiting for a job
INTERRUPTED = 130     # Ctrl-C (the job waited on goes on)

DESCRIPTION = f"""exit codes:
  {OK}    done
  {FAILED}    failed for another reason (e.g. `singa up` could not start the stack)
  {USAGE}    usage error: bad arguments or bad local input
  {NOT_ALL_UP}    `singa status`: a component is down
  {REFUSED}    the admin refused the request (4xx: invalid, forbidden, conflict, too many)
  {NOT_FOUND}    not found (404), or no object of that name
  {UNAUTHENTICATED}    not logged in, or the token was refused (401): run `singa login`
  {UNAVAILABLE}    the admin or predictor could not be reached or failed (5xx)
  {JOB_ERRORED}    the job waited on ended ERRORED
  {TIMEOUT}    --timeout passed while waiting
  {INTERRUPTED}  interrupted (Ctrl-C)"""


class UsageError(Exception):
    """Bad local input the command found before asking anyone: exit code ``USAGE``."""


def exit_code_of(error: SingaError) -> int:
    """The exit code for an error the client raised (or the command raised in the client's terms)."""
    for cls, code in ((NotFoundError, NOT_FOUND), (UnauthenticatedError, UNAUTHENTICATED),
                      (ServiceUnavailableError, UNAVAILABLE)):
        if isinstance(error, cls):
            return code
    status = error.status_code or 0
    if 400 <= status < 500:
        return REFUSED
    if status >= 500:
        return UNAVAILABLE
    return FAILED
