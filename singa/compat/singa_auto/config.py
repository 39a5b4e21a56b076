"""SingaAuto's ``singa_auto.config``, as far as a client script needs it: the superadmin's
email, and a password read from the environment (``SUPERADMIN_PASSWORD``, as SingaAuto's scripts
set it, or ours, ``SINGA_SUPERADMIN_PASSWORD``). There is no built-in password (SingaAuto's was
``singa_auto``), and no ``APP_SECRET``: the token secret never leaves the server."""
import os

SUPERADMIN_EMAIL = os.environ.get('SINGA_SUPERADMIN_EMAIL', 'superadmin@singaauto')
SUPERADMIN_PASSWORD = os.environ.get('SUPERADMIN_PASSWORD') or os.environ.get('SINGA_SUPERADMIN_PASSWORD')
