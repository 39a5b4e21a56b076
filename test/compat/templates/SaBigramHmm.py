"""A POS_TAGGING template written the way SingaAuto's are (BigramHmm, PyBiLstm): ``PosTagModel``,
the corpus read with ``utils.dataset.load_dataset_of_corpus`` (sentences of ``[token, tag]``,
``tag_num_classes``), parameters dumped as JSON text, and a ``__main__`` block that tunes it on
``data/`` with ``singa_auto.model.dev.test_model_class``. A bigram hidden Markov model: add-k
smoothed transitions and emissions, lower-cased words, Viterbi decoding. A test fixture."""
import json
import math

from singa_auto.model import FloatKnob, PosTagModel, utils
from singa_auto.model.dev import test_model_class


class SaBigramHmm(PosTagModel):
    '''
    Implements a bigram hidden Markov model for POS_TAGGING
    '''

    @staticmethod
    def get_knob_config():
        return {
            'smoothing': FloatKnob(0.01, 1.0, is_exp=True),
        }

    def __init__(self, **knobs):
        super().__init__(**knobs)
        self._smoothing = knobs['smoothing']

    def train(self, dataset_path, **kwargs):
        dataset = utils.dataset.load_dataset_of_corpus(dataset_path)
        self._num_tags = dataset.tag_num_classes[0]
        k, n = self._smoothing, self._num_tags
        trans = [[k] * n for _ in range(n + 1)]         # row n: the start of a sentence
        emiss = [{} for _ in range(n)]
        for sent in dataset:
            previous = n
            for token, tag in sent:
                trans[previous][tag] += 1
                emiss[tag][token.lower()] = emiss[tag].get(token.lower(), 0) + 1
                previous = tag
        self._trans = [[math.log(c / sum(row)) for c in row] for row in trans]
        vocab = len({w for counts in emiss for w in counts}) + 1
        self._emiss = [{w: math.log((c + k) / (sum(counts.values()) + k * vocab)) for w, c in counts.items()}
                       for counts in emiss]
        self._unknown = [math.log(k / (sum(counts.values()) + k * vocab)) for counts in emiss]
        utils.logger.log('No. of tags: {}'.format(self._num_tags))

    def evaluate(self, dataset_path, **kwargs):
        dataset = utils.dataset.load_dataset_of_corpus(dataset_path)
        sents = [sent for sent in dataset]
        predicted = self.predict([[token for token, _ in sent] for sent in sents])
        pairs = [(p, tag) for sent, tags in zip(sents, predicted) for (_, tag), p in zip(sent, tags)]
        return sum(p == t for p, t in pairs) / len(pairs)

    def predict(self, queries):
        return [self._viterbi(tokens) for tokens in queries]

    def _viterbi(self, tokens):
        n = self._num_tags
        emit = [[self._emiss[t].get(w.lower(), self._unknown[t]) for t in range(n)] for w in tokens]
        best = [self._trans[n][t] + emit[0][t] for t in range(n)]
        back = []
        for e in emit[1:]:
            came = [max(range(n), key=lambda s: best[s] + self._trans[s][t]) for t in range(n)]
            best = [best[came[t]] + self._trans[came[t]][t] + e[t] for t in range(n)]
            back.append(came)
        tag = max(range(n), key=lambda t: best[t])
        tags = [tag]
        for came in reversed(back):
            tag = came[tag]
            tags.append(tag)
        return tags[::-1]

    def dump_parameters(self):
        return {'hmm': json.dumps({'trans': self._trans, 'emiss': self._emiss, 'unknown': self._unknown}),
                'num_tags': self._num_tags}

    def load_parameters(self, params):
        hmm = json.loads(params['hmm'])
        self._trans, self._emiss, self._unknown = hmm['trans'], hmm['emiss'], hmm['unknown']
        self._num_tags = params['num_tags']


if __name__ == '__main__':
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument('--train_path', type=str, default='data/pos_corpus_train.zip')
    parser.add_argument('--val_path', type=str, default='data/pos_corpus_val.zip')
    (args, _) = parser.parse_known_args()
    print('Predictions: ' + json.dumps(test_model_class(model_file_path=__file__,
                                                        model_class='SaBigramHmm',
                                                        task='POS_TAGGING',
                                                        dependencies={},
                                                        train_dataset_path=args.train_path,
                                                        val_dataset_path=args.val_path,
                                                        queries=[['The', 'old', 'dog', 'can', 'watch', 'the',
                                                                  'light', '.']])[0]))
