"""The parameter format keeps every allowed type exactly, refuses the rest, and never unpickles."""
import io
import json
import os
import pickle
import threading
import zipfile

import numpy as np
import pytest

from singa.config import Settings
from singa.errors import InvalidParamsError, NotFoundError
from singa.param_store import FileParamStore, decode_params, encode_params, make_param_store

DTYPES = ['bool', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64',
          'float16', 'float32', 'float64', 'complex64', 'complex128']


def sample_params():
    params = {'name': 'ünïcode', 'empty': '', 'count': 2 ** 70, 'neg': -3, 'rate': 0.1,
              'nan': float('nan'), 'inf': float('-inf'), 'flag': True, 'off': False,
              'blob': bytes(range(256)), 'scalar32': np.float32(1.5), 'scalar_i': np.int64(-7),
              'zero_dim': np.array(3.25), 'empty_arr': np.zeros((0, 3), dtype='float32'),
              'fortran': np.asfortranarray(np.arange(12.0).reshape(3, 4)),
              'strided': np.arange(20)[::3]}
    for i, dtype in enumerate(DTYPES):
        params[f'arr_{dtype}'] = (np.arange(24).reshape(2, 3, 4) % (2 if dtype == 'bool' else 100)).astype(dtype)
    return params


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key, value in a.items():
        got = b[key]
        assert type(got) is type(value), key
        if isinstance(value, (np.ndarray, np.generic)):
            assert got.dtype == value.dtype and got.shape == value.shape, key
            assert np.array_equal(got, value), key
        elif isinstance(value, float) and value != value:
            assert got != got
        else:
            assert got == value, key


def test_every_allowed_type_round_trips_with_dtype_and_shape():
    params = sample_params()
    assert_same(params, decode_params(encode_params(params)))


@pytest.mark.parametrize('params, message', [
    ({'a': [1, 2]}, 'type list'), ({'a': {'b': 1}}, 'type dict'), ({'a': None}, 'type NoneType'),
    ({'a': np.array([object(), 1], dtype=object)}, 'dtype object'),
    ({'a': np.array(['x', 'y'])}, 'dtype <U1'),
    ({'a': np.zeros(2, dtype=[('x', 'i4')])}, 'not allowed'),
    ({1: 2}, 'non-empty strings'), ({'': 2}, 'non-empty strings'),
])
def test_disallowed_values_are_refused(params, message):
    with pytest.raises(InvalidParamsError, match=message):
        encode_params(params)
    with pytest.raises(InvalidParamsError):
        encode_params('not a dict')


class Boom:
    def __reduce__(self):
        return (os.system, ('touch PWNED',))


def test_a_crafted_pickle_payload_is_never_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = pickle.dumps(Boom())
    # 1. A raw pickle instead of a parameter file.
    with pytest.raises(InvalidParamsError):
        decode_params(payload)
    # 2. A well-formed file whose array member is an object-dtype .npy (which needs pickle).
    npy = io.BytesIO()
    np.save(npy, np.array([Boom()], dtype=object), allow_pickle=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as z:
        z.writestr('params.json', json.dumps({'format': 'singa-params', 'version': 1,
                                              'entries': {'w': {'kind': 'ndarray', 'member': 'm0.npy'}}}))
        z.writestr('m0.npy', npy.getvalue())
    with pytest.raises(InvalidParamsError, match='bad array'):
        decode_params(buf.getvalue())
    assert not (tmp_path / 'PWNED').exists()


@pytest.mark.parametrize('entry', [
    {'kind': 'int', 'value': 'x'}, {'kind': 'float', 'value': 'abc'}, {'kind': 'magic'},
    {'kind': 'bytes', 'member': 'missing'}, 'not an object',
])
def test_malformed_files_are_refused(entry):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as z:
        z.writestr('params.json', json.dumps({'format': 'singa-params', 'version': 1, 'entries': {'x': entry}}))
    with pytest.raises(InvalidParamsError):
        decode_params(buf.getvalue())
    with pytest.raises(InvalidParamsError):
        decode_params(b'garbage')


def test_file_store_saves_loads_and_deletes(tmp_path):
    store = make_param_store(Settings(storage_dir=str(tmp_path)))
    params_id = store.save(sample_params())
    assert os.path.isfile(tmp_path / 'params' / f'{params_id}.params')
    assert store.exists(params_id)
    assert_same(sample_params(), store.load(params_id))
    store.delete(params_id)
    store.delete(params_id)
    assert not store.exists(params_id)
    with pytest.raises(NotFoundError):
        store.load(params_id)


@pytest.mark.parametrize('bad_id', ['../etc/passwd', '../../x', '/etc/passwd', 'A' * 32, '', None,
                                    '0' * 31 + '/', '..'])
def test_traversal_and_malformed_ids_are_rejected(tmp_path, bad_id):
    store = FileParamStore(str(tmp_path))
    with pytest.raises(NotFoundError):
        store.load(bad_id)
    with pytest.raises(NotFoundError):
        store.delete(bad_id)
    assert store.exists(bad_id) is False


def test_writes_are_atomic_and_leave_no_temp_files(tmp_path):
    store = FileParamStore(str(tmp_path))
    big = {'w': np.random.default_rng(0).random((500, 500))}
    ids, seen_partial = [], []

    def reader():
        for _ in range(200):
            for name in os.listdir(tmp_path):
                if name.endswith('.params'):
                    try:
                        store.load(name[:-7])
                    except InvalidParamsError:
                        seen_partial.append(name)

    t = threading.Thread(target=reader)
    t.start()
    for _ in range(10):
        ids.append(store.save(big))
    t.join()
    assert not seen_partial
    assert sorted(os.listdir(tmp_path)) == sorted(f'{i}.params' for i in ids)
    with pytest.raises(InvalidParamsError):
        store.save({'bad': object()})
    assert len(os.listdir(tmp_path)) == len(ids)
