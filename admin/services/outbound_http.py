"""Where the admin may send a request that a user asked for, and an HTTP session that keeps to
it (no SSRF): webhook deliveries and dataset downloads (``dataset_url``).

Such a URL is user input that the admin will send requests to, from inside the platform's own
network: left unchecked, a user could make the admin probe PostgreSQL, Redis, the Docker API or a
cloud metadata service. So:

- the URL must be ``http`` or ``https`` with a host name or address, an optional port, and no
  user name or password in it;
- every address the host has must lie in the networks a ``NetworkPolicy`` allows (webhooks:
  ``SINGA_WEBHOOK_NETWORKS``; dataset downloads: ``SINGA_DATASET_URL_NETWORKS``): by default
  ``public``, the globally routable addresses only (no loopback, private, link-local, shared,
  multicast or reserved ones); an operator may add CIDRs (``public,10.1.2.0/24``) or allow only
  some (``127.0.0.0/8`` for a test);
- the check runs when the URL is given (for a name that resolves then) and again on every
  connection ``checked_session`` opens, on the very address it connects to, so a name that
  resolves elsewhere later (DNS rebinding) gains nothing, and neither does a redirect (webhook
  deliveries follow none). Proxies from the environment are not used.
"""
import ipaddress
import socket
import urllib.parse
from typing import Iterable

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from singa.errors import ConfigError, ForbiddenError, InvalidRequestError

PUBLIC = 'public'
MAX_URL_LENGTH = 2048
# The URL rule the API documents: http(s), a host name or IPv4 address, a port in range, then
# printable ASCII only (a host that is not ASCII is written in punycode).
_PORT = r'6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}'
URL_PATTERN = rf'^https?://[A-Za-z0-9.-]+(:({_PORT}))?([/?#][!-~]*)?$'
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class NetworkPolicy:
    """The addresses one kind of request may reach (``setting``, such as ``SINGA_WEBHOOK_NETWORKS``);
    ``what`` names those requests' URLs and ``field`` the request field that gives one, in errors."""

    def __init__(self, public: bool, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network],
                 setting: str = 'SINGA_WEBHOOK_NETWORKS', what: str = 'webhooks', field: str = 'url'):
        self.public = public
        self.networks = tuple(networks)
        self.setting, self.what, self.field = setting, what, field

    @classmethod
    def parse(cls, text: str, **names) -> 'NetworkPolicy':
        """The policy a setting's text describes (``names``: ``setting``, ``what``, ``field``)."""
        setting = names.get('setting', 'SINGA_WEBHOOK_NETWORKS')
        public, networks = False, []
        for item in (part.strip() for part in text.split(',')):
            if not item:
                continue
            if item == PUBLIC:
                public = True
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ConfigError(f'{setting}: {item!r} is neither "public" nor a network '
                                  '(such as 127.0.0.0/8)') from None
        return cls(public, networks, **names)

    def describe(self) -> str:
        parts = (['public addresses'] if self.public else []) + [str(n) for n in self.networks]
        return ', '.join(parts) or 'nothing'

    def allows(self, address: _Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.networks):
            return True
        return self.public and address.is_global and not address.is_multicast

    def check_addresses(self, host: str, addresses: list[_Address]) -> None:
        refused = [str(a) for a in addresses if not self.allows(a)]
        if refused:
            raise ForbiddenError(f'{self.what} may not point at {host} ({", ".join(refused)}): {self.setting} '
                                 f'allows only {self.describe()} on this platform', field=self.field)

    def resolve(self, host: str, port: int) -> list[str]:
        """Every address of ``host``, all of them allowed (``ForbiddenError`` otherwise); ``OSError``
        when the name does not resolve."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split('%')[0]) for info in infos))
        self.check_addresses(host, addresses)
        return [str(a) for a in addresses]


def check_url(url: str, policy: NetworkPolicy) -> str:
    """``url`` if this platform may send to it: ``InvalidRequestError`` for one that is malformed,
    ``ForbiddenError`` for one whose host lies outside the allowed networks. A host name that does
    not resolve now is accepted (``checked_session`` checks it again on every connection)."""
    field = policy.field
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        raise InvalidRequestError(f'{field} is not a URL', field=field) from None
    if parts.scheme not in ('http', 'https'):
        raise InvalidRequestError(f'{field} must start with http:// or https://', field=field)
    if parts.username is not None or parts.password is not None:
        raise InvalidRequestError(f'{field} must not carry a user name or password', field=field)
    try:
        port = parts.port or (443 if parts.scheme == 'https' else 80)
    except ValueError:
        raise InvalidRequestError(f'{field} has an invalid port', field=field) from None
    host = parts.hostname
    if not host:
        raise InvalidRequestError(f'{field} must name a host', field=field)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        policy.check_addresses(host, [literal])
    else:
        try:
            policy.resolve(host, port)
        except (OSError, UnicodeError):
            pass
    return url


# -- an HTTP session that keeps to a policy ------------------------------------------------------

class RefusedAddress(NewConnectionError):
    """A connection ``checked_session`` did not open: ``refusal`` is the policy's ``ForbiddenError``."""

    def __init__(self, conn, refusal: ForbiddenError):
        super().__init__(conn, refusal.message)
        self.refusal = refusal


def innermost_error(error: BaseException) -> BaseException:
    """The error at the bottom of what ``requests`` raised (its wrapped urllib3 errors, their reasons)."""
    while True:
        inner = getattr(error, 'reason', None)
        if not isinstance(inner, BaseException):
            inner = error.args[0] if error.args and isinstance(error.args[0], BaseException) else None
        if inner is None:
            return error
        error = inner


class _CheckedConnectionMixin:
    policy: NetworkPolicy

    def _new_conn(self):
        """Connect to an address of the host the policy allows (checked now, not when registered)."""
        try:
            addresses = self.policy.resolve(self._dns_host, self.port)
        except ForbiddenError as e:
            raise RefusedAddress(self, e) from None
        except (OSError, UnicodeError) as e:
            raise NewConnectionError(self, f'cannot resolve {self._dns_host}: {e}') from None
        self._dns_host = addresses[0]
        return super()._new_conn()


def checked_session(policy: NetworkPolicy) -> requests.Session:
    """A ``requests`` session whose every connection goes only where ``policy`` allows (no proxies)."""
    http_conn = type('CheckedHTTPConnection', (_CheckedConnectionMixin, HTTPConnection), {'policy': policy})
    https_conn = type('CheckedHTTPSConnection', (_CheckedConnectionMixin, HTTPSConnection), {'policy': policy})
    pools = {'http': type('CheckedHTTPPool', (HTTPConnectionPool,), {'ConnectionCls': http_conn}),
             'https': type('CheckedHTTPSPool', (HTTPSConnectionPool,), {'ConnectionCls': https_conn})}

    class CheckedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

    session = requests.Session()
    session.trust_env = False
    session.mount('http://', CheckedAdapter(max_retries=0))
    session.mount('https://', CheckedAdapter(max_retries=0))
    return session
