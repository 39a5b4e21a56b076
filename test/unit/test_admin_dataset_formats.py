"""Dataset format checks that need no server: image headers, class summaries, field validators."""
import io

import pytest
from PIL import Image

from singa.tasks.image_classification import class_summary
from singa.tasks.images import image_size
from singa.admin.services.model_fields import check_docker_image, parse_dependencies
from singa.errors import InvalidDatasetError, InvalidRequestError


def _image(fmt: str, width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new('RGB', (width, height), (200, 10, 10)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize('fmt', ['PNG', 'JPEG', 'GIF', 'BMP', 'WEBP', 'TIFF'])
def test_image_sizes_come_from_headers(fmt):
    assert image_size(_image(fmt, 37, 21)[:64 << 10]) == (37, 21)


@pytest.mark.parametrize('head', [b'not an image at all', b'\xff\xd8\x00', b'\x89PNG\r\n\x1a\n', b''])
def test_unknown_or_cut_off_headers_have_no_size(head):
    assert image_size(head) is None


def test_class_summaries_order_integer_classes_and_note_gaps():
    summary = class_summary(['2', '0', '0', '10'])
    assert summary['classes'] == {'0': 2, '2': 1, '10': 1} and summary['class_count'] == 11
    assert summary['missing_classes'][:2] == [1, 3]
    assert class_summary(['cat', 'dog', 'cat']) == {'classes': {'cat': 2, 'dog': 1}, 'class_count': 2,
                                                    'class_kind': 'name'}
    with pytest.raises(InvalidDatasetError):
        class_summary(['-1', '0'])


def test_dependencies_normalise_to_requirement_strings():
    assert parse_dependencies(None) == [] and parse_dependencies(' ') == []
    assert parse_dependencies('["torch[cpu] >= 2.0", "numpy"]') == ['torch[cpu]>=2.0', 'numpy']
    assert parse_dependencies('{"numpy": "1.26.4", "scipy": "~=1.11", "six": null}') == \
        ['numpy==1.26.4', 'scipy~=1.11', 'six']
    for bad in ('["git+https://x/y.git"]', '["-e ."]', '{"numpy": 1}', '["a" , "b; os_name==\'nt\'"]',
                '["x" ' + ', "x"' * 100 + ']'):
        with pytest.raises(InvalidRequestError):
            parse_dependencies(bad)


def test_docker_image_references():
    assert check_docker_image(None) is None and check_docker_image('') is None
    assert check_docker_image(' python:3.11-slim ') == 'python:3.11-slim'
    for bad in ('Python', 'a//b', 'repo:', 'repo@sha256:short', '-repo', 'a b'):
        with pytest.raises(InvalidRequestError):
            check_docker_image(bad)
