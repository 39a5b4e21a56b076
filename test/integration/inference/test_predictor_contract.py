"""The predictor's ``POST /``, the original SingaAuto's contract, at its edge: the real predictor
app in process against the session's Redis, with replicas played by threads (``test_batcher``'s
``Serving``) that answer with what they were sent. A JSON body is one query; each multipart
``img`` file is one, decoded to nested lists of pixels; keys and limits are those of /predict.
The whole path with real worker processes and a trained image template is in
test_singa_auto_serving.py."""
import hashlib
import io

import pytest
from PIL import Image

from singa.container.base import wait_until
from singa.queues import ServedTrial, ServingConfig
from test_batcher import Replica, Serving

KEY = 'sk_contract-test-key'


def _png(width: int, height: int, mode: str = 'L', color=7) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, format='PNG')
    return out.getvalue()


@pytest.fixture
def echo(settings):
    """A private job whose one model answers every query with the query itself."""
    serving = Serving(settings)
    # A tabular task: its queries are checked by the models only (IMAGE_CLASSIFICATION would refuse
    # the queries that are not images at the edge), so the echo sees any JSON.
    config = ServingConfig((ServedTrial('a', 'echo', 1.0, 1),), task='TABULAR_CLASSIFICATION', is_public=False)
    serving.channel.publish(config, {}, [hashlib.sha256(KEY.encode()).hexdigest()])
    replica = Replica(settings, serving.job_id, 'a', model=lambda q: q)
    replica.start()
    serving.started.append(replica)
    assert wait_until(lambda: serving.channel.live_trials(['a']) == {'a'}, 5)
    app = serving.app(predictor_max_body_bytes=64 << 10, predictor_max_queries=3, predictor_max_depth=4,
                      predictor_max_image_pixels=1000)
    yield app.test_client()
    serving.close()


AUTH = {'Authorization': f'Bearer {KEY}'}


def test_a_json_body_is_one_query_and_the_answer_is_a_list(echo):
    for query in ({'x': 1.5, 'y': [1, 2]}, [[1, 2], [3, 4]], 'text', 3):
        response = echo.post('/', json=query, headers=AUTH)
        assert response.status_code == 200 and response.get_json() == [query]
    assert echo.post('/predict', json={'query': [1, 2]}, headers=AUTH).get_json()['prediction'] == [1, 2]


def test_each_img_file_is_one_image_query(echo):
    files = [(io.BytesIO(_png(3, 2)), 'gray.png'), (io.BytesIO(_png(2, 2, 'RGB', (1, 2, 3))), 'rgb.png'),
             (io.BytesIO(_png(2, 1, 'RGBA', (9, 8, 7, 0))), 'alpha.png')]
    response = echo.post('/', data={'img': files}, headers=AUTH, content_type='multipart/form-data')
    assert response.status_code == 200, response.get_json()
    gray, rgb, alpha = response.get_json()
    assert gray == [[7, 7, 7], [7, 7, 7]]                 # H x W for a grayscale image
    assert rgb == [[[1, 2, 3], [1, 2, 3]]] * 2            # H x W x 3 for any other
    assert alpha == [[[9, 8, 7], [9, 8, 7]]]


def test_keys_and_limits_are_those_of_predict(echo):
    for headers in ({}, {'Authorization': 'Bearer sk_wrong'}):
        for kwargs in ({'json': [1]}, {'data': {'img': (io.BytesIO(_png(1, 1)), 'a.png')},
                                       'content_type': 'multipart/form-data'}):
            response = echo.post('/', headers=headers, **kwargs)
            assert response.status_code == 401 and response.get_json()['error']['type'] in (
                'UnauthenticatedError', 'InvalidTokenError')
    refusals = (
        ({'data': b'{"x": NaN}', 'content_type': 'application/json'}, 400, 'NaN is not a JSON number'),
        ({'data': b'null', 'content_type': 'application/json'}, 400, 'any JSON value but null'),
        ({'data': b'{"x": ', 'content_type': 'application/json'}, 400, 'send one query as the JSON body'),
        ({'json': [[[[[1]]]]]}, 400, 'at most 4 levels'),
        ({'data': b'"' + b'x' * (65 << 10) + b'"', 'content_type': 'application/json'}, 413, 'bytes'),
        ({'data': {'img': (io.BytesIO(b'not an image'), 'notes.txt')}}, 400,
         'image 1 (notes.txt) is not an image this predictor can decode'),
        ({'data': {'img': (io.BytesIO(_png(1, 1)[:20]), 'cut.png')}}, 400, 'not an image this predictor can decode'),
        ({'data': {'img': (io.BytesIO(b''), 'empty.png')}}, 400, 'image 1 (empty.png) is empty'),
        ({'data': {'img': [(io.BytesIO(_png(1, 1)), f'{i}.png') for i in range(4)]}}, 400, 'at most 3 images'),
        ({'data': {'img': [(io.BytesIO(_png(20, 20)), 'a.png'), (io.BytesIO(_png(30, 30)), 'b.png')]}}, 413,
         'image 2 (b.png) is 30 x 30 pixels: the images of one request may hold at most 1000 pixels in all'),
        ({'data': {'image': (io.BytesIO(_png(1, 1)), 'a.png')}}, 400, 'unknown field(s) image'),
        ({'data': {'img': 'text'}}, 400, 'img must be sent as a file'),
        ({'data': {}, 'content_type': 'multipart/form-data'}, 400, 'send at least one image'),
    )
    for kwargs, status, message in refusals:
        if 'json' not in kwargs:
            kwargs.setdefault('content_type', 'multipart/form-data')
        response = echo.post('/', headers=AUTH, **kwargs)
        assert response.status_code == status, (message, response.get_data())
        assert message in response.get_json()['error']['message'], response.get_json()
    # the edge refused them all before the batcher: it is healthy and answers the next request
    assert echo.post('/', json={'ok': True}, headers=AUTH).get_json() == [{'ok': True}]


def test_the_openapi_document_describes_post_slash(echo):
    from openapi_spec_validator import validate
    document = echo.get('/openapi.json').get_json()
    validate(document)
    post = document['paths']['/']['post']
    assert set(post['requestBody']['content']) == {'application/json', 'multipart/form-data'}
    assert post['requestBody']['content']['multipart/form-data']['schema']['properties']['img']['maxItems'] == 3
    assert {'200', '400', '401', '413', '503'} <= set(post['responses'])
    assert echo.get('/').status_code == 200         # GET / stays the health check
