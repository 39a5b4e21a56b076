"""A feature-based POS tagger for POS_TAGGING: logistic regression over hashed word features.

Each token is described by itself (lower-cased, its suffixes, its shape) and by its neighbours
within ``window`` tokens; the features are hashed into ``2^hash_bits`` columns (scikit-learn's
``FeatureHasher``, so there is no vocabulary to store) and a multinomial logistic regression picks
the tag. The parameters are the regression's weights, so predicting needs numpy only, and a
reloaded model answers exactly as the trained one. Scored by token accuracy.
"""
import numpy as np

from singa.model import BaseModel, FixedKnob, FloatKnob, IntegerKnob, load_corpus_dataset, logger

DEPENDENCIES = {'scikit-learn': None}


class SkPosTagger(BaseModel):
    @staticmethod
    def get_knob_config():
        return {
            'C': FloatKnob(0.05, 20.0, is_exp=True),
            'window': IntegerKnob(1, 2),
            'hash_bits': FixedKnob(14),
            'max_iter': FixedKnob(300),
        }

    def __init__(self, **knobs):
        super().__init__(**knobs)
        self._weights, self._bias, self._tags = None, None, None

    def _features(self, sentences):
        from sklearn.feature_extraction import FeatureHasher
        rows = [_token_features(tokens, j, self.knobs['window']) for tokens in sentences for j in range(len(tokens))]
        hasher = FeatureHasher(n_features=2 ** self.knobs['hash_bits'], input_type='string', alternate_sign=False)
        return hasher.transform(rows)

    def train(self, dataset_path, shared_params=None, **train_args):
        from sklearn.linear_model import LogisticRegression
        sentences, tags, tag_count = load_corpus_dataset(dataset_path)
        y = np.array([t for sentence in tags for t in sentence])
        model = LogisticRegression(C=self.knobs['C'], max_iter=self.knobs['max_iter'])
        model.fit(self._features(sentences), y)
        self._weights, self._bias = model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
        self._tags = model.classes_.astype(np.int64)
        logger.log(f'Trained on {len(sentences)} sentences, {len(y)} tokens, {tag_count} tags')

    def _tag(self, sentences) -> list:
        scores = self._features(sentences) @ self._weights.T + self._bias
        flat = [int(t) for t in self._tags[np.argmax(scores, axis=1)]]
        out, start = [], 0
        for tokens in sentences:
            out.append(flat[start:start + len(tokens)])
            start += len(tokens)
        return out

    def evaluate(self, dataset_path, **kwargs):
        sentences, tags, _ = load_corpus_dataset(dataset_path)
        predicted = self._tag(sentences)
        right = sum(p == t for ps, ts in zip(predicted, tags) for p, t in zip(ps, ts))
        accuracy = right / sum(len(ts) for ts in tags)
        logger.log(token_accuracy=accuracy)
        return accuracy

    def predict(self, queries):
        return self._tag([[str(token) for token in query] for query in queries])

    def dump_parameters(self):
        return {'weights': self._weights, 'bias': self._bias, 'tags': self._tags}

    def load_parameters(self, params):
        self._weights = np.asarray(params['weights'], dtype=np.float32)
        self._bias = np.asarray(params['bias'], dtype=np.float32)
        self._tags = np.asarray(params['tags'], dtype=np.int64)


def _token_features(tokens, j: int, window: int) -> list:
    word = tokens[j]
    low = word.lower()
    features = ['bias', f'w={low}', f's2={low[-2:]}', f's3={low[-3:]}', f'p1={low[:1]}',
                f'title={word[:1].isupper()}', f'digit={word.isdigit()}', f'first={j == 0}']
    for k in range(1, window + 1):
        before = tokens[j - k].lower() if j - k >= 0 else '<s>'
        after = tokens[j + k].lower() if j + k < len(tokens) else '</s>'
        features += [f'w-{k}={before}', f'w+{k}={after}', f's-{k}={before[-2:]}', f's+{k}={after[-2:]}']
    return features
