"""Dataset helpers for model templates: each task's SDK loader (its module in ``singa.tasks``).

* ``load_image_dataset(path)``: an ``IMAGE_CLASSIFICATION`` zip, either with ``images.csv``
  (columns ``path,class``) or with one folder per class, decoded to arrays.
* ``load_tabular_dataset(path, features=None, target=None)``: a CSV with a header (or a zip
  holding one), split into numeric features and a target (default: the last column).
* ``load_corpus_dataset(path)``: a ``POS_TAGGING`` zip holding ``corpus.tsv``, as sentences of
  tokens and their tags.
* ``load_detection_dataset(path)``: an ``IMAGE_DETECTION`` zip in COCO's layout, as images, their
  boxes and categories (with ``average_precision`` to score detections).
* ``tabular_queries_to_array(queries, feature_names)``, ``image_queries_to_array(queries)`` and
  ``image_queries_to_rgb(queries)``: turn predictor queries into model input (a tabular query
  lacking a trained feature is refused).

Zip members are read in memory, never extracted, so paths inside an archive cannot escape.
"""
from singa.tasks.detection_boxes import average_precision
from singa.tasks.image_classification import image_entries, load_image_dataset, sorted_classes
from singa.tasks.image_detection import DetectionDataset, load_detection_dataset
from singa.tasks.images import IMAGE_SUFFIXES, image_queries_to_array, image_queries_to_rgb
from singa.tasks.pos_tagging import load_corpus_dataset, read_corpus
from singa.tasks.tabular import MAX_NAMED_FEATURES, load_tabular_dataset, tabular_queries_to_array

__all__ = ['load_image_dataset', 'load_tabular_dataset', 'load_corpus_dataset', 'load_detection_dataset',
           'DetectionDataset', 'average_precision', 'read_corpus', 'image_entries', 'sorted_classes',
           'tabular_queries_to_array', 'image_queries_to_array', 'image_queries_to_rgb', 'IMAGE_SUFFIXES',
           'MAX_NAMED_FEATURES']
