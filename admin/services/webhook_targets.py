"""Where a webhook may point, and an HTTP session that keeps to it (no SSRF).

A webhook URL is user input that the admin will send requests to, from inside the platform's own
network: left unchecked, a user could make the admin probe PostgreSQL, Redis, the Docker API or a
cloud metadata service. So:

- the URL must be ``http`` or ``https`` with a host name or address, an optional port, and no
  user name or password in it;
- every address the host has must lie in the networks ``SINGA_WEBHOOK_NETWORKS`` allows: by
  default ``public``, the globally routable addresses only (no loopback, private, link-local,
  shared, multicast or reserved ones); an operator may add CIDRs (``public,10.1.2.0/24``) or allow
  only some (``127.0.0.0/8`` for a test);
- the check runs when the webhook is registered (for a name that resolves then) and again on
  every connection the delivery worker opens, on the very address it connects to, so a name that
  resolves elsewhere later (DNS rebinding) gains nothing. Redirects are not followed and proxies
  from the environment are not used.
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
    """The addresses webhooks may reach (``SINGA_WEBHOOK_NETWORKS``)."""

    def __init__(self, public: bool, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]):
        self.public = public
        self.networks = tuple(networks)

    @classmethod
    def parse(cls, text: str) -> 'NetworkPolicy':
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
                raise ConfigError(f'SINGA_WEBHOOK_NETWORKS: {item!r} is neither "public" nor a network '
                                  '(such as 127.0.0.0/8)') from None
        return cls(public, networks)

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
            raise ForbiddenError(f'webhooks may not point at {host} ({", ".join(refused)}): this platform sends '
                                 f'webhooks only to {self.describe()} (SINGA_WEBHOOK_NETWORKS)', field='url')

    def resolve(self, host: str, port: int) -> list[str]:
        """Every address of ``host``, all of them allowed (``ForbiddenError`` otherwise); ``OSError``
        when the name does not resolve."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split('%')[0]) for info in infos))
        self.check_addresses(host, addresses)
        return [str(a) for a in addresses]


def check_url(url: str, policy: NetworkPolicy) -> str:
    """``url`` if it is a webhook URL this platform may send to: ``InvalidRequestError`` for one that is
    malformed, ``ForbiddenError`` for one whose host lies outside the allowed networks. A host name that
    does not resolve now is accepted (the delivery worker checks it again on every connection)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        raise InvalidRequestError('url is not a URL', field='url') from None
    if parts.scheme not in ('http', 'https'):
        raise InvalidRequestError('url must start with http:// or https://', field='url')
    if parts.username is not None or parts.password is not None:
        raise InvalidRequestError('url must not carry a user name or password', field='url')
    try:
        port = parts.port or (443 if parts.scheme == 'https' else 80)
    except ValueError:
        raise InvalidRequestError('url has an invalid port', field='url') from None
    host = parts.hostname
    if not host:
        raise InvalidRequestError('url must name a host', field='url')
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


# -- the delivery worker's HTTP session ----------------------------------------------------------

class _CheckedConnectionMixin:
    policy: NetworkPolicy

    def _new_conn(self):
        """Connect to an address of the host the policy allows (checked now, not when registered)."""
        try:
            addresses = self.policy.resolve(self._dns_host, self.port)
        except ForbiddenError as e:
            raise NewConnectionError(self, e.message) from None
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
