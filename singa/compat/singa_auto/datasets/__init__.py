"""SingaAuto's dataset helpers: ``from singa_auto.datasets import DatasetUtils, CorpusDataset``."""
from .dataset import (AudioFilesDataset, ClfModelDataset, CorpusDataset, DatasetUtils, DetectionModelDataset,
                      ImageDataset4Clf, ModelDataset)

__all__ = ['DatasetUtils', 'CorpusDataset', 'ImageDataset4Clf', 'AudioFilesDataset', 'ModelDataset',
           'ClfModelDataset', 'DetectionModelDataset']
