"""SingaAuto's dataset helpers (``utils.dataset``), reading the same dataset formats.

Image and corpus archives are read in memory, never extracted (the image zip's layout is the one
``singa.model.dataset.image_entries`` reads: ``images.csv`` with ``path,class``, or one folder per
class); an audio archive is extracted, with our loader's checks, into the directory the template
gives, as SingaAuto did. Differences from SingaAuto, all on the safe side:

- ``ImageDataset4Clf.image_size`` is known as soon as the dataset is opened (SingaAuto set it at
  the first image read, so templates reading it right away stored ``None``);
- classes named by folders are numbered in sorted order (SingaAuto's order was a set's);
- ``load_dataset_of_audio_files`` rows are dicts (SingaAuto's were pandas rows; both index by
  column name);
- ``transform_images`` answers SingaAuto's pair or Rafiki's array, whichever its caller expects;
- ``load_img_detection_datasets`` (SingaAuto's COCO and PennFudan readers, torch datasets built
  on torchvision and pycocotools) is not here: an ``IMAGE_DETECTION`` dataset (COCO's layout, in
  one zip) is read with ``singa.model.load_detection_dataset``.
"""
import csv
import dis
import io
import random
import sys
import zipfile
from functools import singledispatch
from typing import Any, Generic, List, Tuple, TypeVar

import numpy as np
from PIL import Image

from singa.errors import InvalidDatasetError
from singa.model.dataset import image_entries, read_corpus, sorted_classes

K = TypeVar('K')
T = TypeVar('T')


class ModelDataset(Generic[K, T]):
    """A dataset of ``size`` samples, read with ``dataset[i]`` (iteration stops at ``size``)."""
    size = 0

    def __getitem__(self, index: int) -> Tuple[K, T]:
        raise NotImplementedError

    def __len__(self) -> int:
        return self.size


class ClfModelDataset(ModelDataset[Image.Image, int]):
    pass


class DetectionModelDataset(ModelDataset[Image.Image, dict]):
    pass


def _read_zip_member(path: str, name: str) -> bytes:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(name)
    except KeyError:
        raise InvalidDatasetError(f'the dataset zip has no {name}') from None
    except (zipfile.BadZipFile, OSError) as e:
        raise InvalidDatasetError(f'the dataset must be a zip file: {e}') from e


class ImageDataset4Clf(ClfModelDataset):
    """An ``IMAGE_CLASSIFICATION`` zip: ``dataset[i]`` is ``(PIL image, class)``, the image
    centre-cropped to a square of ``image_size`` pixels; ``classes`` is the number of classes."""

    def __init__(self, dataset_path: str, min_image_size=None, max_image_size=None, mode='RGB', if_shuffle=False):
        self.path, self.mode = dataset_path, mode
        self.min_image_size, self.max_image_size = min_image_size, max_image_size
        try:
            self._archive = zipfile.ZipFile(dataset_path)
        except (zipfile.BadZipFile, OSError) as e:
            raise InvalidDatasetError(f'an image dataset must be a zip file: {e}') from e
        entries = image_entries(self._archive)
        if not entries:
            raise InvalidDatasetError('the zip has no images (need images.csv or one folder per class)')
        names = sorted_classes({c for _, c in entries})
        numbered = all(c.lstrip('-').isdigit() for c in names)
        index = {c: int(c) if numbered else i for i, c in enumerate(names)}
        if if_shuffle:
            entries = random.sample(entries, len(entries))
        self._image_names = [member for member, _ in entries]
        self._image_classes = [index[c] for _, c in entries]
        self.size, self.classes = len(entries), len(names)
        self.label_mapper = {index[c]: c for c in names}
        self.image_size = self._square_size(self._open(0))

    def __getitem__(self, index: int):
        if index >= self.size:
            raise StopIteration
        image = self._open(index)
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) / 2, (height - side) / 2
        square = image.crop((left, top, left + side, top + side))
        return square.resize([self.image_size, self.image_size]), self._image_classes[index]

    def get_item(self, index: int):
        return self[index]

    def get_stat(self):
        """Per-channel mean and standard deviation of the images, scaled to [0, 1]."""
        means = np.stack([np.mean(np.asarray(self[i][0]), axis=(0, 1)) for i in range(self.size)]) / 255
        return np.mean(means, axis=0), np.std(means, axis=0)

    def _open(self, index: int) -> Image.Image:
        with Image.open(io.BytesIO(self._archive.read(self._image_names[index]))) as image:
            return image.convert(self.mode)

    def _square_size(self, image: Image.Image) -> int:
        width, height = image.size
        return max(min(width, height, self.max_image_size or width), self.min_image_size or 0)


class CorpusDataset(ModelDataset):
    """A ``POS_TAGGING`` zip holding ``corpus.tsv`` (a ``token`` column and one column per tag; a
    token equal to ``split_by`` ends a sentence), read by the task's own reader
    (``singa.tasks.pos_tagging.read_corpus``, which the upload check uses too). ``dataset[i]`` is a
    sentence, a list of ``[token, tag_1, ..., tag_k]``; ``tag_num_classes``, ``max_token_len`` and
    ``max_sent_len`` describe the corpus (``max_sent_len`` over every sentence: SingaAuto's was the
    last sentence's)."""

    def __init__(self, dataset_path: str, tags: List[str], split_by: str):
        self.tags = tags
        self._sents = read_corpus(dataset_path, tags, split_by)
        self.size = len(self._sents)
        self.tag_num_classes = [1 + max(token[1 + k] for sent in self._sents for token in sent)
                                for k in range(len(tags))]
        self.max_token_len = max(len(token[0]) for sent in self._sents for token in sent)
        self.max_sent_len = max(len(sent) for sent in self._sents)

    def __getitem__(self, index: int):
        return self._sents[index]


class AudioFilesDataset(ModelDataset):
    """A speech dataset zip holding ``audios.csv`` (``wav_filename,wav_filesize,transcript``):
    ``dataset[i]`` is the row as a dict; the zip is extracted into ``dataset_dir`` (a
    ``tempfile.TemporaryDirectory``, as SingaAuto's templates pass it)."""

    def __init__(self, dataset_path: str, dataset_dir):
        self._dataset_dir = dataset_dir
        from singa.model.loader import extract_zip
        extract_zip(dataset_path, dataset_dir.name)
        with open(f'{dataset_dir.name}/audios.csv', encoding='utf-8', newline='') as f:
            self.df = list(csv.DictReader(f))
        self.size = len(self.df)

    def __getitem__(self, index: int):
        return self.df[index]


class DatasetUtils:
    """The ``utils.dataset`` object of SingaAuto templates."""

    def load_dataset_of_corpus(self, dataset_path, tags=None, split_by='\\n') -> CorpusDataset:
        return CorpusDataset(dataset_path, tags or ['tag'], split_by)

    def load_dataset_of_image_files(self, dataset_path, min_image_size=None, max_image_size=None, mode='RGB',
                                    if_shuffle=False) -> ImageDataset4Clf:
        return ImageDataset4Clf(dataset_path, min_image_size=min_image_size, max_image_size=max_image_size,
                                mode=mode, if_shuffle=if_shuffle)

    def load_img_detection_datasets(self, dataset_path, dataset_name, filter_classes=None,
                                    annotation_dataset_path=None, is_train=True):
        raise NotImplementedError('SingaAuto\'s object detection readers (COCO, PennFudan) are not here: read an '
                                  'IMAGE_DETECTION dataset (images and annotations/instances_<split>.json in one '
                                  'zip) with singa.model.load_detection_dataset')

    def load_dataset_of_audio_files(self, dataset_path, dataset_dir) -> AudioFilesDataset:
        return AudioFilesDataset(dataset_path, dataset_dir)

    def normalize_images(self, images, mean=None, std=None):
        """``(images scaled to [0, 1] then normalised per channel, mean, std)``; the mean and standard
        deviation are computed on ``images`` when not given."""
        if len(images) == 0:
            return images, mean, std
        images = np.asarray([np.asarray(x) for x in images]) / 255
        if mean is None:
            mean = np.mean(images, axis=(0, 1, 2)).tolist()
        if std is None:
            std = np.std(images, axis=(0, 1, 2)).tolist()
        return (images - mean) / std, mean, std

    def transform_images(self, images, image_size=None, mode=None):
        """Resize (to ``image_size`` square) and/or convert (to a Pillow ``mode``) images given as
        arrays, nested lists (a predictor's query) or Pillow images.

        SingaAuto returns ``(N x H x W [x C] array, Pillow images)``; Rafiki, whose templates
        SingaAuto kept (``SkDt``, ``LeNet5``...), returned the array alone. Both kinds of caller
        get what they expect: the pair when the call is unpacked into two names
        (``images, _ = transform_images(...)``), the array otherwise.
        """
        pil = [x if isinstance(x, Image.Image) else Image.fromarray(np.asarray(x, dtype=np.uint8)) for x in images]
        if image_size is not None:
            pil = [x.resize([image_size, image_size]) for x in pil]
        if mode is not None:
            pil = [x.convert(mode) for x in pil]
        array = np.asarray([np.asarray(x) for x in pil])
        return (array, pil) if _unpacked_in_two(sys._getframe(1)) else array

    def load_images(self, image_paths: List[Any], mode: str = 'RGB') -> List[Image.Image]:
        """Pillow images, in ``mode``, from file paths or encoded image bytes."""
        if not isinstance(image_paths, list):
            raise TypeError('load_images takes a list of paths or bytes')
        return [_load_image(x, mode) for x in image_paths]


def _unpacked_in_two(frame) -> bool:
    """Whether the instruction after the call running in ``frame`` unpacks its result into two names."""
    for instruction in dis.get_instructions(frame.f_code):
        if instruction.offset > frame.f_lasti:
            return instruction.opname == 'UNPACK_SEQUENCE' and instruction.arg == 2
    return False


@singledispatch
def _load_image(image, mode):
    raise TypeError(f'cannot load an image from a {type(image).__name__}')


@_load_image.register(str)
def _(path, mode):
    with Image.open(path) as image:
        return image.convert(mode)


@_load_image.register(bytes)
def _(data, mode):
    with Image.open(io.BytesIO(data)) as image:
        return image.convert(mode)
