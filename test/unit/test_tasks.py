"""The task registry: every task's dataset check and statistics, query check, ensembling rule, SDK
loader and prediction check, on small files written here (no server)."""
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from singa.constants import EnsembleMethod, Task
from singa.errors import InvalidDatasetError, InvalidModelError, InvalidRequestError
from singa.model import load_corpus_dataset, load_detection_dataset
from singa.tasks import BaseTask, get_task
from singa.tasks.detection_boxes import average_precision, fuse, iou
from singa.workers.predictor.ensemble import ensemble_one

POS = get_task('POS_TAGGING')
DET = get_task(Task.IMAGE_DETECTION)
AUTO, VOTE, WEIGHTED = EnsembleMethod.AUTO, EnsembleMethod.VOTE, EnsembleMethod.WEIGHTED_MEAN


def make_zip(path, files: dict) -> str:
    with zipfile.ZipFile(path, 'w') as z:
        for name, data in files.items():
            z.writestr(name, data)
    return str(path)


def png(size=(8, 6), colour=(40, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new('RGB', size, colour).save(buf, format='PNG')
    return buf.getvalue()


# -- the registry -------------------------------------------------------------------------------

def test_every_task_has_a_module_and_one_instance():
    for task in Task:
        assert isinstance(get_task(task), BaseTask) and get_task(task.value) is get_task(task)
        assert get_task(task).name == task and get_task(task).dataset_extension in ('zip', 'csv')
    with pytest.raises(InvalidRequestError) as e:
        get_task('SPEECH_RECOGNITION')
    assert 'POS_TAGGING' in e.value.message and 'IMAGE_DETECTION' in e.value.message


def test_the_original_task_names_are_in_singa_auto_constants():
    from singa_auto.constants import Tasks
    assert {Tasks.POS_TAGGING, Tasks.IMAGE_DETECTION} <= set(Task.values())


# -- POS_TAGGING --------------------------------------------------------------------------------

CORPUS = 'token\ttag\nThe\t0\ndog\t1\nbarks\t2\n.\t3\n\\n\t\nA\t0\nbook\t1\n\\n\t0\n'


def test_a_corpus_is_checked_summarised_and_loaded(tmp_path):
    path = make_zip(tmp_path / 'c.zip', {'corpus.tsv': CORPUS, 'tags.tsv': 'tag\tname\n'})
    stat = POS.check_dataset(path)
    assert stat == {'format': 'corpus_tsv', 'sentences': 2, 'tokens': 6, 'vocabulary': 6, 'max_sentence_length': 4,
                    'tag_count': 4, 'tags': {'0': 2, '1': 2, '2': 1, '3': 1}}
    sentences, tags, tag_count = load_corpus_dataset(path)
    assert sentences == [['The', 'dog', 'barks', '.'], ['A', 'book']] and tags == [[0, 1, 2, 3], [0, 1]]
    assert tag_count == 4 and POS.load_dataset(path)[0] == sentences
    assert POS.sample_queries(path, {}, 1) == [['The', 'dog', 'barks', '.']]


def test_the_singa_auto_corpus_reader_agrees_with_the_task(tmp_path):
    from singa_auto.model import utils
    path = make_zip(tmp_path / 'c.zip', {'corpus.tsv': CORPUS.replace('token\ttag\n', 'token\ttag\tchunk\n')
                                         .replace('\t0\n', '\t0\t1\n').replace('\t1\n', '\t1\t1\n')
                                         .replace('\t2\n', '\t2\t0\n').replace('\t3\n', '\t3\t0\n')})
    dataset = utils.dataset.load_dataset_of_corpus(path, tags=['tag', 'chunk'])
    sentences, tags, _ = load_corpus_dataset(path)
    assert [[row[0] for row in s] for s in dataset] == sentences and [[row[1] for row in s] for s in dataset] == tags
    assert dataset.tag_num_classes == [4, 2] and dataset.max_sent_len == 4 and dataset.max_token_len == 5


@pytest.mark.parametrize('files, message', [
    ({'other.tsv': CORPUS}, 'corpus.tsv at its root'),
    ({'corpus.tsv': CORPUS.replace('tag', 'pos', 1)}, 'lacks tag'),
    ({'corpus.tsv': CORPUS.replace('dog\t1', 'dog\tNN')}, "line 3: the tag must be an integer 0..k-1; got 'NN'"),
    ({'corpus.tsv': CORPUS.replace('dog\t1', 'dog\t-1')}, 'line 3'),
    ({'corpus.tsv': CORPUS.replace('dog\t1', '\t1')}, 'line 3 has no token'),
    ({'corpus.tsv': CORPUS.replace('\\n\t\n', '\\n\t\n\\n\t\n', 1)}, 'line 7: an empty sentence'),
    ({'corpus.tsv': CORPUS + 'Tail\t1\n'}, 'ends inside the sentence that starts on line 10'),
    ({'corpus.tsv': 'token\ttag\n'}, 'holds no sentence'),
    ({'corpus.tsv': 'token\ttag\nLatin\t0\n\\n\t\n'.encode('latin-1') + b'caf\xe9\t0\n'}, 'not UTF-8'),
])
def test_bad_corpora_are_refused_saying_where(tmp_path, files, message):
    with pytest.raises(InvalidDatasetError, match=message) as e:
        POS.check_dataset(make_zip(tmp_path / 'c.zip', files))
    assert e.value.field == 'dataset'


def test_a_corpus_that_is_not_a_zip_is_refused(tmp_path):
    path = tmp_path / 'corpus.tsv'
    path.write_text(CORPUS)
    with pytest.raises(InvalidDatasetError, match='must be a zip'):
        POS.check_dataset(str(path))


def test_pos_queries_are_lists_of_tokens():
    POS.check_queries([['The', 'dog'], ['Run', '!']])
    for queries, message, field in (([7], 'the query is not a sentence: it is a number', 'query'),
                                    ([[]], 'it is an empty list', 'query'),
                                    (['The dog'], 'it is a string', 'query'),
                                    ([['ok'], ['The', 3]], 'query 1 is not a sentence: token 1 is a number', 'queries')):
        with pytest.raises(InvalidRequestError, match=message) as e:
            POS.check_queries(queries)
        assert e.value.field == field


def test_pos_tags_are_voted_token_by_token():
    assert POS.ensemble([[0, 1, 2], [0, 3, 2], [4, 3, 2]], [1, 1, 1], AUTO) == [0, 3, 2]
    # Weighted: the best model's tag wins where the others disagree with each other.
    assert POS.ensemble([[0, 1], [2, 3], [4, 5]], [3, 1, 1], WEIGHTED) == [0, 1]
    # A model answering another number of tags is left out; a tie goes to the first model.
    assert POS.ensemble([[0, 1], [2, 3], [9]], [1, 1, 1], AUTO) == [0, 1]
    assert POS.ensemble(['junk', [5, 6]], [1, 1], AUTO) == [5, 6]
    # Through the predictor's entry, with validation scores as weights.
    assert ensemble_one([([1, 1], 0.2), ([2, 2], 0.9)], 'WEIGHTED_MEAN', 'POS_TAGGING') == [2, 2]


def test_pos_predictions_are_one_integer_tag_per_token():
    POS.check_predictions([[0, 1], [2]], [['a', 'b'], ['c']])
    for bad in ([[0]], [[0, 'NN']], [[0, True]], [[0, -1]]):
        with pytest.raises(InvalidModelError, match='list of 2 integer tags'):
            POS.check_predictions(bad, [['a', 'b']])


# -- IMAGE_DETECTION ----------------------------------------------------------------------------

def coco(images=2, annotations=None, categories=None) -> dict:
    return {'images': [{'id': i + 1, 'file_name': f'{i}.png', 'width': 8, 'height': 6} for i in range(images)],
            'annotations': annotations if annotations is not None else [
                {'id': 1, 'image_id': 1, 'category_id': 3, 'bbox': [1, 1, 4, 3]},
                {'id': 2, 'image_id': 1, 'category_id': 7, 'bbox': [0, 0, 2, 2]},
                {'id': 3, 'image_id': 2, 'category_id': 3, 'bbox': [2, 2, 5, 3.5]}],
            'categories': categories or [{'id': 7, 'name': 'cat'}, {'id': 3, 'name': 'dog'}]}


def coco_zip(tmp_path, data=None, split='val2017', extra=None, images=2) -> str:
    files = {f'{split}/{i}.png': png() for i in range(images)}
    files[f'annotations/instances_{split}.json'] = json.dumps(data or coco(images))
    return make_zip(tmp_path / 'd.zip', {**files, **(extra or {})})


def test_a_coco_zip_is_checked_summarised_and_loaded(tmp_path):
    # SingaAuto's two archives zipped together: the other split's and other kinds' annotations are ignored.
    path = coco_zip(tmp_path, extra={'annotations/instances_train2017.json': '{}',
                                     'annotations/captions_val2017.json': '{}'})
    stat = DET.check_dataset(path)
    assert stat == {'format': 'coco', 'split': 'val2017', 'images': 2, 'boxes': 3, 'category_count': 2,
                    'categories': {'dog': 2, 'cat': 1}, 'images_without_boxes': 0, 'max_boxes_per_image': 2,
                    'image_sizes': [[8, 6]]}
    data = load_detection_dataset(path)
    assert len(data) == 2 and data.images[0].shape == (6, 8, 3) and data.images[0].dtype == np.uint8
    assert data.categories == [{'id': 3, 'name': 'dog'}, {'id': 7, 'name': 'cat'}]
    assert data.labels[0].tolist() == [0, 1] and data.boxes[1].tolist() == [[2, 2, 5, 3.5]]
    assert data.truths()[0] == [(3, [1.0, 1.0, 4.0, 3.0]), (7, [0.0, 0.0, 2.0, 2.0])]
    perfect = [[{'bbox': b, 'category_id': c, 'score': 0.9} for c, b in t] for t in data.truths()]
    assert data.average_precision(perfect) == 1.0
    assert DET.sample_queries(path, {}, 1)[0] == [[[40, 40, 40]] * 8] * 6


@pytest.mark.parametrize('change, message', [
    (lambda d: d['images'].append({'id': 9, 'file_name': 'gone.png'}), "images\\[2\\] is 'gone.png', but the zip"),
    (lambda d: d['images'].append({'id': 1, 'file_name': '0.png'}), 'repeats the id 1'),
    (lambda d: d['annotations'].append({'image_id': 1, 'category_id': 99, 'bbox': [0, 0, 1, 1]}),
     'annotations\\[3\\] needs the image_id of an image and the category_id of a category'),
    (lambda d: d['annotations'].append({'image_id': [1], 'category_id': 3, 'bbox': [0, 0, 1, 1]}), 'annotations\\[3\\]'),
    (lambda d: d['annotations'][0].update(bbox=[1, 1, 0, 3]), 'width and height above 0'),
    (lambda d: d['annotations'][0].update(bbox=[1, 1, 'x', 3]), 'annotations\\[0\\] needs a bbox'),
    (lambda d: d['annotations'][0].update(bbox=[1, 1, 10 ** 400, 3]), 'annotations\\[0\\] needs a bbox'),
    (lambda d: d['images'][0].update(file_name='../annotations/instances_val2017.json'), 'images\\[0\\] is'),
    (lambda d: d['categories'].append({'id': 4}), 'categories\\[2\\] needs an integer id and a name'),
    (lambda d: d.pop('categories'), 'the lists images, annotations and categories'),
])
def test_bad_annotations_are_refused_saying_where(tmp_path, change, message):
    data = coco()
    change(data)
    with pytest.raises(InvalidDatasetError, match=message) as e:
        DET.check_dataset(coco_zip(tmp_path, data))
    assert e.value.field == 'dataset' and 'instances_val2017.json' in e.value.message


@pytest.mark.parametrize('files, message', [
    ({'val/0.png': png()}, 'no annotations/instances_<split>.json'),
    ({'annotations/instances_val.json': '{}', 'train/0.png': png()}, 'no folder of images matches val'),
    ({'annotations/instances_a.json': '{}', 'annotations/instances_b.json': '{}', 'a/0.png': png(), 'b/0.png': png()},
     'it holds 2 \\(a, b\\)'),
    ({'annotations/instances_val.json': '{"images": [', 'val/0.png': png()}, 'is not UTF-8 JSON'),
])
def test_bad_detection_layouts_are_refused(tmp_path, files, message):
    with pytest.raises(InvalidDatasetError, match=message):
        DET.check_dataset(make_zip(tmp_path / 'd.zip', files))


def test_image_queries_are_rectangular_arrays_of_pixels():
    for task in (DET, get_task('IMAGE_CLASSIFICATION')):
        task.check_queries([[[0, 1], [2, 3]], [[[0, 0, 0]]], [[[1], [2]]], [[[1, 2, 3, 4]]]])
        for queries, message in (([[1, 2]], 'row 0 is a number'), (['aGk='], 'it is a string'),
                                 ([[[1, 2], [3]]], 'row 1 has 1 pixels, row 0 has 2'),
                                 ([[[[1, 2]]]], r'pixel \(0, 0\) has 2 channels'),
                                 ([[[[1, 2, 3], 4]]], r'pixel \(0, 1\) has no channels, pixel \(0, 0\) 3'),
                                 ([[[None]]], r'pixel \(0, 0\) is null'),
                                 ([[[[1, 'a', 3]]]], r'pixel \(0, 0\) holds something other than numbers')):
            with pytest.raises(InvalidRequestError, match=message) as e:
                task.check_queries(queries)
            assert task.name.value in e.value.message
        with pytest.raises(InvalidRequestError, match='query 1 is not an image') as e:
            task.check_queries([[[0]], {}])
        assert e.value.field == 'queries' and e.value.details == {'index': 1}


def test_tabular_queries_are_left_to_the_models():
    for name in ('TABULAR_CLASSIFICATION', 'TABULAR_REGRESSION'):
        get_task(name).check_queries([{'a': 1}, 7, 'x'])


def box(x, y, w, h, category=1, score=0.9, **extra):
    return {'bbox': [x, y, w, h], 'category_id': category, 'score': score, **extra}


def test_boxes_of_several_models_are_fused():
    assert iou([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(1 / 3) and iou([0, 0, 1, 1], [2, 2, 1, 1]) == 0
    fused = DET.ensemble([[box(0, 0, 10, 10, score=0.8, name='a')], [box(2, 0, 10, 10, score=0.8)]], [1, 1], AUTO)
    assert fused == [{'bbox': [1.0, 0.0, 10.0, 10.0], 'category_id': 1, 'score': 0.8, 'name': 'a'}]
    # A box only one of two models sees keeps half its score; another category is never merged.
    fused = DET.ensemble([[box(0, 0, 10, 10), box(30, 30, 5, 5, score=0.6)], [box(0, 0, 10, 10, category=2)]],
                         [1, 1], AUTO)
    assert [(d['category_id'], d['score']) for d in fused] == [(1, 0.45), (2, 0.45), (1, 0.3)]
    # VOTE keeps what models with more than half the weight see; weights move the fused box.
    votes = DET.ensemble([[box(0, 0, 10, 10)], [box(0, 0, 10, 10)], [box(30, 30, 5, 5)]], [1, 1, 1], VOTE)
    assert [d['bbox'] for d in votes] == [[0, 0, 10, 10]]
    weighted = ensemble_one([([box(0, 0, 10, 10)], 3.0), ([box(2, 0, 10, 10)], 1.0)], 'WEIGHTED_MEAN',
                            'IMAGE_DETECTION')
    assert weighted[0]['bbox'] == [0.5, 0.0, 10.0, 10.0]
    # Answers that are not lists of detections are left out, as a model that did not answer; none at all: a vote.
    assert DET.ensemble([[box(0, 0, 4, 4), {'bbox': 'x'}], 'junk'], [1, 1], AUTO) == [box(0, 0, 4, 4)]
    assert DET.ensemble(['a', 'a', 'b'], [1, 1, 1], AUTO) == 'a'
    assert fuse([[], []], [1, 1]) == []


def test_average_precision_at_iou_half():
    truths = [[(1, [0, 0, 10, 10]), (2, [20, 20, 10, 10])], [(1, [5, 5, 10, 10])]]
    assert average_precision([[box(0, 0, 10, 10), box(20, 20, 10, 10, category=2)], [box(5, 5, 10, 10)]],
                             truths) == 1.0
    # Category 1: a miss ranked first, then both hits: precision 2/3 at every recall (the envelope),
    # so AP 2/3; category 2: missed, AP 0.
    found = [[box(0, 0, 10, 10, score=0.5), box(50, 50, 5, 5, score=0.9)], [box(5, 5, 10, 10, score=0.4)]]
    assert average_precision(found, truths) == pytest.approx((2 / 3 + 0) / 2)
    # A second box on a found object counts as a false positive.
    assert average_precision([[box(0, 0, 10, 10), box(0, 0, 10, 10, score=0.1)]], [[(1, [0, 0, 10, 10])]]) == 1.0


def test_detection_predictions_are_lists_of_coco_results():
    DET.check_predictions([[box(0, 0, 1, 1)], []])
    for bad, message in (([box(0, 0, 1, 1)], 'prediction 0 is not a list'),
                         ([[box(0, 0, -1, 1)]], 'detection 0 has no bbox'),
                         ([[box(0, 0, 1, 1, category='dog')]], 'has no integer category_id'),
                         ([[box(0, 0, 1, 1, score=2)]], 'has no score between 0 and 1')):
        with pytest.raises(InvalidModelError, match=message):
            DET.check_predictions(bad)
