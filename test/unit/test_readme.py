"""The README renders cleanly and its configuration table names every setting."""
import os
import re
from dataclasses import fields

import docutils.core
from docutils import nodes

from singa.config import PREFIX, Settings

README = os.path.join(os.path.dirname(__file__), '..', '..', 'README.rst')
# A line of one repeated punctuation character: a section adornment (or a merge marker).
ADORNMENT = re.compile(r'^([!-/:-@\[-`{-~])\1{2,}$')


def _text() -> str:
    with open(README, encoding='utf-8') as f:
        return f.read()


def test_readme_lists_every_setting():
    text = _text()
    missing = [PREFIX + f.name.upper() for f in fields(Settings) if f'``{PREFIX}{f.name.upper()}``' not in text]
    assert missing == []


def test_readme_renders_without_warnings():
    """docutils stops at the first warning (halt_level 2) and raises it as an error."""
    docutils.core.publish_string(_text(), writer='html', settings_overrides={
        'halt_level': 2, 'report_level': 2, 'warning_stream': False})


def test_no_heading_is_swallowed_by_a_paragraph():
    """A title whose blank line above went missing, or a stray underline, renders as paragraph text
    without any warning; no paragraph may hold an adornment line."""
    doctree = docutils.core.publish_doctree(_text(), settings_overrides={'report_level': 5})
    swallowed = [line for paragraph in doctree.findall(nodes.paragraph)
                 for line in paragraph.astext().splitlines() if ADORNMENT.match(line.strip())]
    assert swallowed == []
