"""The README's configuration table names every setting."""
import os
from dataclasses import fields

from singa.config import PREFIX, Settings

README = os.path.join(os.path.dirname(__file__), '..', '..', 'README.rst')


def test_readme_lists_every_setting():
    with open(README, encoding='utf-8') as f:
        text = f.read()
    missing = [PREFIX + f.name.upper() for f in fields(Settings) if f'``{PREFIX}{f.name.upper()}``' not in text]
    assert missing == []
