"""Headless Chromium (Debian's package) driven by Playwright, for the web admin's tests.

Playwright's own browser download cannot run here, so it is pointed at ``/usr/bin/chromium``
(``scripts/test.sh`` installs it with apt when missing), headless (Playwright adds ``--headless``)
with the flags below. Each launch gets a fresh profile directory (``--user-data-dir``); pages
record uncaught script errors and Content-Security-Policy refusals, which the tests assert are
absent, and screenshots go to ``test-artifacts/web/``.
"""
import os
import re
import tempfile
import time

import pytest

CHROMIUM = '/usr/bin/chromium'
LAUNCH_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                '--disable-sync', '--no-first-run']
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTIFACTS = os.path.join(REPO, 'test-artifacts', 'web')
VIEWPORT = {'width': 1280, 'height': 900}


def launch(playwright):
    """A persistent context in a fresh ``--user-data-dir``; the caller closes it."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f'the browser tests need Debian\'s chromium at {CHROMIUM}: run "apt-get install -y chromium" '
                    '(scripts/test.sh does it when run as root)')
    profile = tempfile.mkdtemp(prefix='singa-chromium-')
    return playwright.chromium.launch_persistent_context(
        profile, executable_path=CHROMIUM, headless=True, args=LAUNCH_FLAGS,
        viewport=VIEWPORT, accept_downloads=True)


class WatchedPage:
    """A page whose script errors and CSP refusals are collected in ``problems``."""

    def __init__(self, context, base_url: str):
        self.page = context.new_page()
        self.base = base_url
        self.problems: list[str] = []
        self.page.on('pageerror', lambda e: self.problems.append(f'script error: {e}'))
        self.page.on('console', self._console)

    def _console(self, message):
        if 'Refused to' in message.text or 'Content Security Policy' in message.text:
            self.problems.append(f'CSP: {message.text}')

    def goto(self, path: str):
        self.page.goto(self.base + path)
        return self.page

    def login(self, email: str, password: str, expect_path: str = '/web/train-jobs', here: bool = False):
        """Log in on the login page (``here``: the one already shown) and wait for ``expect_path``."""
        page = self.page if here else self.goto('/web/login')
        page.get_by_label('Email').fill(email)
        page.get_by_label('Password').fill(password)
        page.get_by_role('button', name='Log in').click()
        page.wait_for_url(re.compile(re.escape(self.base + expect_path) + '$'))
        return page

    def shot(self, name: str):
        """Save a full-page screenshot once every shown chart has drawn."""
        # Polled from here: Playwright's own wait_for_function polls with eval, which the page's CSP refuses.
        drawn = ("[...document.querySelectorAll('.chart')].filter((e) => !e.hidden)"
                 ".every((e) => e.querySelector('canvas'))")
        deadline = time.monotonic() + 20
        while not self.page.evaluate(drawn):
            assert time.monotonic() < deadline, 'the charts did not draw within 20 s'
            self.page.wait_for_timeout(100)
        self.page.wait_for_timeout(200)   # the frame after the charts' first paint
        os.makedirs(ARTIFACTS, exist_ok=True)
        self.page.screenshot(path=os.path.join(ARTIFACTS, f'{name}.png'), full_page=True)
