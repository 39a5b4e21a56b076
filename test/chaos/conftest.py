"""The chaos suite's figures: one file per module (``MODE``), written when its tests are done."""
import pytest

from chaos import Figures


@pytest.fixture(scope='module')
def figures(request):
    module = request.module
    figures = Figures(module.MODE)
    yield figures
    figures.save(trials=module.TRIALS, deadline_seconds=module.DEADLINE)
