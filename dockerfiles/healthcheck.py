#!/usr/bin/env python3
"""Docker HEALTHCHECK for the HTTP roles: healthy (exit 0) when a server answers at the URL
given as the only argument with any status below 500; unhealthy (exit 1) otherwise."""
import sys
import urllib.error
import urllib.request


def main(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=9):
            return 0
    except urllib.error.HTTPError as e:
        return 0 if e.code < 500 else 1
    except OSError as e:
        print(f'{url}: {e}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
