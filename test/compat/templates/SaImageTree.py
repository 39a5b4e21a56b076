"""An IMAGE_CLASSIFICATION template written the way SingaAuto's examples are (SkDt, LeNet5): the
``singa_auto`` SDK, ``ImageClfBase``, ``utils.dataset`` to read the image zip and to turn queries
into arrays, ``utils.logger``, knob values wrapped in ``KnobValue``, ``is_exp`` given positionally
as 0.01, parameters pickled into a base64 string, and a ``__main__`` block that runs
``test_model_class`` with SingaAuto's parameters (flags on its command line fix knobs or set the
budget). A test fixture, not an example: SingaAuto users' code looks like this."""
import argparse
import base64
import pickle

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from singa_auto.constants import ModelDependency
from singa_auto.model import CategoricalKnob, FixedKnob, FloatKnob, ImageClfBase, IntegerKnob, KnobValue, utils
from singa_auto.model.dev import test_model_class


class SaImageTree(ImageClfBase):
    '''
    A decision tree or a logistic regression on the pixels of small grayscale images
    '''

    @staticmethod
    def get_knob_config():
        return {
            'classifier': CategoricalKnob([KnobValue('tree'), KnobValue('logistic')]),
            'max_depth': IntegerKnob(2, 16),
            'C': FloatKnob(0.01, 10, 0.01),
            'max_image_size': FixedKnob(8),
        }

    def __init__(self, **knobs):
        super().__init__(**knobs)
        self._knobs = knobs
        self.__dict__.update(knobs)
        if self._knobs.get('classifier') == 'tree':
            self._clf = DecisionTreeClassifier(max_depth=self._knobs.get('max_depth'), random_state=0)
        else:
            self._clf = LogisticRegression(C=self._knobs.get('C'), max_iter=200)

    def train(self, dataset_path, **kwargs):
        dataset = utils.dataset.load_dataset_of_image_files(dataset_path,
                                                            max_image_size=self._knobs.get('max_image_size'),
                                                            mode='L')
        self._image_size = dataset.image_size
        (images, classes) = zip(*[(image, image_class) for (image, image_class) in dataset])
        X = self._prepare_X(images)
        y = np.asarray(classes)
        self._clf.fit(X, y)
        accuracy = float(np.mean(self._clf.predict(X) == y))
        utils.logger.define_plot('Train accuracy', ['accuracy'])
        utils.logger.log('Train accuracy: {}'.format(accuracy), accuracy=accuracy)

    def evaluate(self, dataset_path, **kwargs):
        dataset = utils.dataset.load_dataset_of_image_files(dataset_path,
                                                            max_image_size=self._knobs.get('max_image_size'),
                                                            mode='L')
        (images, classes) = zip(*[(image, image_class) for (image, image_class) in dataset])
        preds = self._clf.predict(self._prepare_X(images))
        return float(np.mean(preds == np.asarray(classes)))

    def predict(self, queries):
        queries = utils.dataset.transform_images(queries, image_size=self._image_size, mode='L')
        probs = self._clf.predict_proba(self._prepare_X(queries))
        return probs.tolist()

    def dump_parameters(self):
        params = {}
        params['clf_base64'] = base64.b64encode(pickle.dumps(self._clf)).decode('utf-8')
        params['image_size'] = self._image_size
        return params

    def load_parameters(self, params):
        self._clf = pickle.loads(base64.b64decode(params['clf_base64'].encode('utf-8')))
        self._image_size = params['image_size']

    def _prepare_X(self, images):
        return [np.asarray(image).flatten() / 255 for image in images]


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--train_path', type=str, default='data/digits_images_train.zip')
    parser.add_argument('--val_path', type=str, default='data/digits_images_val.zip')
    parser.add_argument('--test_path', type=str, default='data/digits_images_test.zip')
    parser.add_argument('--query_path', type=str, default='data/query_1.png')
    (args, _) = parser.parse_known_args()

    queries = utils.dataset.load_images(args.query_path.split(','))
    (predictions, model) = test_model_class(model_file_path=__file__,
                                            model_class='SaImageTree',
                                            task='IMAGE_CLASSIFICATION',
                                            dependencies={ModelDependency.SCIKIT_LEARN: '1.9.1'},
                                            train_dataset_path=args.train_path,
                                            val_dataset_path=args.val_path,
                                            test_dataset_path=args.test_path,
                                            queries=queries)
    print('Predicted classes: {}'.format([int(np.argmax(p)) for p in predictions]))
