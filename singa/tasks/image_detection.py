"""IMAGE_DETECTION: images with boxes around their objects; answers are lists of detections.

- **Dataset**: a zip in COCO's layout, as SingaAuto's COCO datasets were: the images in one
  folder, ``<split>/`` (any name: ``train2017``, ``val``...), and their boxes in
  ``annotations/instances_<split>.json``, COCO's object detection format (``images`` with ``id``
  and ``file_name``, ``annotations`` with ``image_id``, ``category_id`` and ``bbox`` ``[x, y,
  width, height]`` in pixels, ``categories`` with ``id`` and ``name``). Other files in
  ``annotations/`` (captions, keypoints, another split's instances) are ignored, so SingaAuto's
  two archives (the images, and COCO's annotations, which it took as ``annotation_dataset_id``)
  zipped together are one dataset. The upload reads the annotations and the images' headers only.
- **Query**: an image, ``H x W`` or ``H x W x C`` nested lists of pixel values (``images.py``).
- **Prediction**: a list of detections ``{"bbox": [x, y, width, height], "category_id": id,
  "score": s}`` (COCO's result format), ``category_id`` one of the dataset's categories.
- **Ensemble**: weighted boxes fusion (``detection_boxes.fuse``): overlapping boxes of one
  category from several models become one, its score lowered when some models do not see it;
  ``WEIGHTED_MEAN`` weighs models by validation score, ``VOTE`` keeps only boxes that models with
  more than half the weight see.
- **SDK**: ``load_detection_dataset(path)`` -> ``DetectionDataset`` (images, boxes, labels,
  categories, and ``average_precision`` to score detections); ``image_queries_to_rgb(queries)``.
"""
import dataclasses
import json
import math
import posixpath
import re
import zipfile
from collections import Counter
from typing import List, Sequence

import numpy as np

from singa.archives import is_ignorable, open_zip, read_member, safe_members
from singa.constants import EnsembleMethod, Task
from singa.errors import InvalidDatasetError, InvalidModelError
from singa.tasks import combine
from singa.tasks.base import BaseTask
from singa.tasks.detection_boxes import average_precision, detection_problem, fuse
from singa.tasks.images import FIELD, SIZE_SAMPLE, check_image_queries, decode_image, open_archive, sample_sizes

ANNOTATIONS = re.compile(r'^annotations/instances_([^/]+)\.json$')
MAX_ANNOTATIONS_BYTES = 256 << 20
LAYOUT = 'images in a folder <split>/ and their boxes in annotations/instances_<split>.json (COCO\'s layout)'


class ImageDetection(BaseTask):
    name = Task.IMAGE_DETECTION
    dataset_extension = 'zip'
    dataset_format = f'a zip with {LAYOUT}'

    def check_dataset(self, path: str) -> dict:
        if not zipfile.is_zipfile(path):
            raise InvalidDatasetError(f'an IMAGE_DETECTION dataset must be a zip archive with {LAYOUT}', field=FIELD)
        with open_zip(path, InvalidDatasetError, FIELD) as zf:
            coco = read_coco(zf)
            counts = Counter(c for boxes in coco.boxes for c, _ in boxes)
            names = {c['id']: c['name'] for c in coco.categories}
            stat = {'format': 'coco', 'split': coco.split, 'images': len(coco.members),
                    'boxes': sum(counts.values()), 'category_count': len(coco.categories),
                    'categories': {names[c['id']]: counts[c['id']] for c in coco.categories},
                    'images_without_boxes': sum(1 for boxes in coco.boxes if not boxes),
                    'max_boxes_per_image': max(len(boxes) for boxes in coco.boxes),
                    'image_sizes': sample_sizes(zf, [zf.getinfo(m) for m in coco.members[:SIZE_SAMPLE]])}
        return stat

    def check_queries(self, queries: list) -> None:
        check_image_queries(queries, self.name.value)

    def ensemble(self, values: list, weights: list[float], method: EnsembleMethod):
        lists = [(v, w) for v, w in zip(values, weights) if isinstance(v, list)]
        if not lists:
            return combine.vote(values, weights)
        return fuse([v for v, _ in lists], [w for _, w in lists], majority=method == EnsembleMethod.VOTE)

    def load_dataset(self, path: str, **options):
        return load_detection_dataset(path, **options)

    def check_predictions(self, predictions: Sequence, queries: Sequence = ()) -> None:
        for i, p in enumerate(predictions):
            problem = 'is not a list' if not isinstance(p, list) else next(
                (f'detection {j} {detection_problem(d)}' for j, d in enumerate(p) if detection_problem(d)), None)
            if problem:
                raise InvalidModelError(f'prediction {i} {problem}: an IMAGE_DETECTION prediction is a list of '
                                        f'{{"bbox": [x, y, width, height], "category_id": id, "score": s}}')

    def sample_queries(self, path: str, train_args: dict, count: int) -> list:
        return [image.tolist() for image in load_detection_dataset(path).images[:count]]


@dataclasses.dataclass(frozen=True)
class CocoSplit:
    """One split of a COCO zip, checked: ``members[i]`` is image i's zip member and ``boxes[i]``
    its ``(category_id, [x, y, width, height])`` boxes; ``categories`` in id order."""
    split: str
    categories: list
    members: list
    boxes: list


@dataclasses.dataclass
class DetectionDataset:
    """``images[i]``: a uint8 array H x W x 3; ``boxes[i]``: a float array n x 4 of its boxes,
    ``[x, y, width, height]``; ``labels[i]``: their categories' indices in ``categories`` (each a
    dict with ``id`` and ``name``, in id order; a prediction names ``categories[label]['id']``)."""
    images: List[np.ndarray]
    boxes: List[np.ndarray]
    labels: List[np.ndarray]
    categories: List[dict]

    def __len__(self) -> int:
        return len(self.images)

    def truths(self) -> list:
        """Each image's true boxes as ``(category_id, bbox)``, what ``average_precision`` takes."""
        return [[(self.categories[int(k)]['id'], [float(v) for v in box]) for k, box in zip(labels, boxes)]
                for labels, boxes in zip(self.labels, self.boxes)]

    def average_precision(self, predictions: Sequence[list], threshold: float = 0.5) -> float:
        """The mean average precision of ``predictions`` (one list of detections per image)."""
        return average_precision(predictions, self.truths(), threshold)


def load_detection_dataset(path: str, mode: str = 'RGB') -> DetectionDataset:
    """Every image of the dataset, decoded (to the Pillow ``mode``) into memory, with its boxes."""
    with open_archive(path, 'a detection dataset') as archive:
        coco = read_coco(archive)
        images = [np.asarray(decode_image(archive.read(m), m, mode), dtype=np.uint8) for m in coco.members]
    index = {c['id']: k for k, c in enumerate(coco.categories)}
    boxes = [np.array([b for _, b in found], dtype=np.float64).reshape(-1, 4) for found in coco.boxes]
    labels = [np.array([index[c] for c, _ in found], dtype=np.int64) for found in coco.boxes]
    return DetectionDataset(images, boxes, labels, [dict(c) for c in coco.categories])


def read_coco(zf: zipfile.ZipFile) -> CocoSplit:
    """Find the split, read its annotations and check them against the zip; ``InvalidDatasetError``
    (field ``dataset``) says what is wrong and where."""
    files = {i.filename: i for i in safe_members(zf, InvalidDatasetError, FIELD) if not is_ignorable(i.filename)}
    splits = {m.group(1): name for name in files if (m := ANNOTATIONS.match(name))}
    if not splits:
        raise InvalidDatasetError(f'the zip must hold {LAYOUT}; it has no annotations/instances_<split>.json',
                                  field=FIELD)
    folders = {name.split('/', 1)[0] for name in files if '/' in name}
    found = sorted(s for s in splits if s in folders)
    if len(found) != 1:
        raise InvalidDatasetError(
            f'the zip must hold one split: {LAYOUT}; ' + (f'it holds {len(found)} ({", ".join(found)}): upload each '
                                                           f'as a dataset' if found else
                                                           f'no folder of images matches {", ".join(sorted(splits))}'),
            field=FIELD)
    split, name = found[0], splits[found[0]]
    raw = read_member(zf, files[name], MAX_ANNOTATIONS_BYTES, InvalidDatasetError, FIELD)
    try:
        coco = json.loads(raw.decode('utf-8-sig'))
    except (UnicodeDecodeError, ValueError) as e:
        raise InvalidDatasetError(f'{name} is not UTF-8 JSON: {e}', field=FIELD) from None
    except RecursionError:
        raise InvalidDatasetError(f'{name} nests too deeply to be COCO annotations', field=FIELD) from None
    if not isinstance(coco, dict) or not all(isinstance(coco.get(k), list) for k in ('images', 'annotations',
                                                                                     'categories')):
        raise InvalidDatasetError(f'{name} must be an object with the lists images, annotations and categories',
                                  field=FIELD)
    return _check_split(coco, split, name, files)


def _check_split(coco: dict, split: str, name: str, files: dict) -> CocoSplit:
    def fail(message: str):
        raise InvalidDatasetError(f'{name}: {message}', field=FIELD)

    categories = {}
    for k, c in enumerate(coco['categories']):
        if not isinstance(c, dict) or not _is_int(c.get('id')) or not isinstance(c.get('name'), str) or not c['name']:
            fail(f'categories[{k}] needs an integer id and a name')
        if c['id'] in categories:
            fail(f'categories[{k}] repeats the id {c["id"]}')
        categories[c['id']] = {'id': c['id'], 'name': c['name']}
    if not categories:
        fail('categories is empty')
    slot, members = {}, []
    for k, image in enumerate(coco['images']):
        if not isinstance(image, dict) or not _is_int(image.get('id')) or not isinstance(image.get('file_name'), str):
            fail(f'images[{k}] needs an integer id and a file_name')
        if image['id'] in slot:
            fail(f'images[{k}] repeats the id {image["id"]}')
        member = posixpath.normpath(posixpath.join(split, image['file_name']))
        if not member.startswith(split + '/') or member not in files:
            fail(f'images[{k}] is {image["file_name"]!r}, but the zip has no {member}')
        slot[image['id']] = len(members)
        members.append(member)
    if not members:
        fail('images is empty')
    boxes = [[] for _ in members]
    for k, a in enumerate(coco['annotations']):
        if not isinstance(a, dict) or not _is_int(a.get('image_id')) or not _is_int(a.get('category_id')) \
                or a['image_id'] not in slot or a['category_id'] not in categories:
            fail(f'annotations[{k}] needs the image_id of an image and the category_id of a category')
        box = a.get('bbox')
        if not (isinstance(box, list) and len(box) == 4 and all(_is_number(v) for v in box)) \
                or box[2] <= 0 or box[3] <= 0:
            fail(f'annotations[{k}] needs a bbox [x, y, width, height] of numbers, width and height above 0; '
                 f'got {str(box)[:60]}')
        boxes[slot[a['image_id']]].append((a['category_id'], [float(v) for v in box]))
    return CocoSplit(split, [categories[i] for i in sorted(categories)], members, boxes)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    try:
        return combine.is_number(value) and math.isfinite(value)
    except OverflowError:          # an integer beyond any double
        return False
