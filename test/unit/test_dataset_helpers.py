"""The dataset helpers read both image-zip layouts and tabular CSVs, and refuse bad ones."""
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from singa.errors import InvalidDatasetError
from singa.model.dataset import (image_queries_to_array, load_image_dataset, load_tabular_dataset,
                                 tabular_queries_to_array)


def png(value, size=(4, 3), mode='L'):
    buf = io.BytesIO()
    Image.new(mode, size, value if mode == 'L' else (value, 0, 0)).save(buf, format='PNG')
    return buf.getvalue()


def jpeg(value):
    buf = io.BytesIO()
    Image.new('L', (4, 3), value).save(buf, format='JPEG')
    return buf.getvalue()


def make_zip(path, files):
    with zipfile.ZipFile(path, 'w') as z:
        for name, data in files.items():
            z.writestr(name, data)
    return str(path)


def test_images_csv_layout(tmp_path):
    path = make_zip(tmp_path / 'd.zip', {'images.csv': 'path,class\nimg/a.png,1\nimg/b.jpg,0\nimg/c.png,10\n',
                                         'img/a.png': png(10), 'img/b.jpg': jpeg(200), 'img/c.png': png(30)})
    images, labels, classes = load_image_dataset(path)
    assert images.shape == (3, 3, 4) and images.dtype == np.uint8
    assert classes == [0, 1, 10] and labels.tolist() == [1, 0, 2]
    assert images[0, 0, 0] == 10


def test_folder_per_class_layout_with_a_wrapping_folder_and_mixed_modes(tmp_path):
    path = make_zip(tmp_path / 'd.zip', {'data/cat/1.png': png(1), 'data/dog/2.png': png(2, mode='RGB'),
                                         'data/dog/3.png': png(3)})
    images, labels, classes = load_image_dataset(path)
    assert classes == ['cat', 'dog'] and labels.tolist() == [0, 1, 1] and images.shape == (3, 3, 4, 3)
    assert load_image_dataset(path, mode='L')[0].shape == (3, 3, 4)


@pytest.mark.parametrize('files, message', [
    ({'images.csv': 'file,label\na.png,0\n', 'a.png': png(1)}, 'path,class'),
    ({'images.csv': 'path,class\nmissing.png,0\n'}, 'not in the zip'),
    ({'images.csv': 'path,class\na.png,0\n', 'a.png': b'not an image'}, 'cannot decode'),
    ({'a/x.png': png(1), 'b/y.png': png(1, size=(5, 5))}, 'differ in size'),
    ({'x.png': png(1)}, 'not inside a class folder'),
    ({'readme.txt': b'hi'}, 'no images'),
])
def test_bad_image_datasets_are_refused(tmp_path, files, message):
    with pytest.raises(InvalidDatasetError, match=message):
        load_image_dataset(make_zip(tmp_path / 'd.zip', files))
    (tmp_path / 'x.zip').write_bytes(b'nope')
    with pytest.raises(InvalidDatasetError, match='zip'):
        load_image_dataset(str(tmp_path / 'x.zip'))


def test_tabular_csv_with_default_and_named_target(tmp_path):
    path = tmp_path / 't.csv'
    path.write_text('a,b,label,c\n1,2.5,x,3\n4,,y,6\n')
    with pytest.raises(InvalidDatasetError, match="'x' is not a number"):
        load_tabular_dataset(str(path))    # the last column 'c' is the target; 'label' is a feature
    X, y, names = load_tabular_dataset(str(path), target='label')
    assert names == ['a', 'b', 'c'] and y.tolist() == ['x', 'y'] and np.isnan(X[1, 1])
    X, y, names = load_tabular_dataset(str(path), features=['c', 'a'], target='a')
    assert X.tolist() == [[3.0, 1.0], [6.0, 4.0]] and y.dtype == np.int64
    zipped = make_zip(tmp_path / 't.zip', {'inner.csv': path.read_text()})
    assert load_tabular_dataset(zipped, target='label')[2] == ['a', 'b', 'c']


@pytest.mark.parametrize('text, kwargs, message', [
    ('a,b\n', {}, 'at least one data row'),
    ('a,b\n1,2,3\n', {}, 'row 2 has 3 cells'),
    ('a,b\n1,2\n', {'target': 'z'}, "target column 'z'"),
    ('a,b\n1,2\n', {'features': ['q']}, 'not in the CSV: q'),
])
def test_bad_tabular_datasets_are_refused(tmp_path, text, kwargs, message):
    path = tmp_path / 't.csv'
    path.write_text(text)
    with pytest.raises(InvalidDatasetError, match=message):
        load_tabular_dataset(str(path), **kwargs)


def test_query_conversion():
    X = tabular_queries_to_array([{'a': 1, 'b': 2}, {'a': None, 'b': 3, 'target': 0}, [4, None]], ['a', 'b'])
    assert X[0].tolist() == [1, 2] and np.isnan(X[1, 0]) and X[1, 1] == 3 and X[2, 0] == 4 and np.isnan(X[2, 1])
    with pytest.raises(ValueError, match=r'query 0 has 1 values; expected 2'):
        tabular_queries_to_array([[1], [1, 2]], ['a', 'b'])
    with pytest.raises(ValueError, match=r"the query: feature 'b' must be a number or null; got 'x'"):
        tabular_queries_to_array([{'a': 1, 'b': 'x'}], ['a', 'b'])


def test_a_query_lacking_trained_features_is_refused_naming_them():
    with pytest.raises(ValueError, match=r'^query 1 lacks 2 of the 3 features the model was trained on: a, c '):
        tabular_queries_to_array([{'a': 1, 'b': 2, 'c': 3}, {'b': 2, 'z': 1}], ['a', 'b', 'c'])
    many = [f'pixel_{i}' for i in range(64)]
    with pytest.raises(ValueError, match=r'lacks 63 of the 64 features .*: pixel_1, pixel_2, .*, pixel_20 and 43 more'):
        tabular_queries_to_array([{'pixel_0': 0}], many)
    assert image_queries_to_array([[[1, 2], [3, 4]]] * 2).shape == (2, 2, 2)
