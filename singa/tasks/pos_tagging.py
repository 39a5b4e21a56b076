"""POS_TAGGING: a tagged corpus; queries are sentences as lists of tokens; answers are tag lists.

- **Dataset** (SingaAuto's ``CORPUS`` type): a zip with ``corpus.tsv`` at its root, a
  tab-separated file (Excel's tab dialect, as SingaAuto read it) whose header names a ``token``
  column and a ``tag`` column (more tag columns may follow). Each row is a token of the corpus, in
  order, with its tag, an integer ``0..k-1``; a row whose token is ``\\n`` (the two characters
  backslash and n) ends a sentence, and its tag cell is ignored (SingaAuto's converters leave it
  empty). Refused, with the line: a missing ``tag`` column, a tag that is not a non-negative
  integer, an empty token, an empty sentence (which broke SingaAuto's own templates), and tokens
  after the last ``\\n`` (SingaAuto silently dropped them).
- **Query**: a sentence, a non-empty list of token strings: ``["The", "dog", "barks", "."]``.
- **Prediction**: a list of integer tags, one per token.
- **Ensemble**: a vote per token. The answer's length is voted on first (a model answering
  another number of tags than the others is left out), then each position's tag; ``AUTO``,
  ``VOTE`` and ``MEAN`` count every model once, ``WEIGHTED_MEAN`` by its validation score; a tie
  goes to the earliest model (the best, in the deployment's order).
- **SDK**: ``load_corpus_dataset(path)`` -> ``(sentences, tags, tag_count)``; ``read_corpus``
  (every tag column, as SingaAuto's ``CorpusDataset``).
"""
import csv
import io
import zipfile
from collections import Counter
from typing import List, Optional, Sequence, Tuple

from singa.archives import is_ignorable, open_zip, read_member, safe_members
from singa.constants import EnsembleMethod, Task
from singa.errors import InvalidDatasetError, InvalidModelError, InvalidRequestError
from singa.tasks import combine
from singa.tasks.base import BaseTask, describe, which

FIELD = 'dataset'
CORPUS_TSV = 'corpus.tsv'
SENTENCE_END = '\\n'               # the token that ends a sentence: a backslash and an n
TAG = 'tag'
MAX_CORPUS_BYTES = 256 << 20
MAX_REPORTED_TAGS = 1000


class PosTagging(BaseTask):
    name = Task.POS_TAGGING
    dataset_extension = 'zip'
    dataset_format = 'a zip with corpus.tsv (token and tag columns; a \\n token ends each sentence)'
    score_unit = 'tokens'  # accuracy: the share of tokens right

    def check_dataset(self, path: str) -> dict:
        sentences = read_corpus(path)
        tags = Counter(token[1] for sentence in sentences for token in sentence)
        lengths = [len(s) for s in sentences]
        highest = max(tags)
        stat = {'format': 'corpus_tsv', 'sentences': len(sentences), 'tokens': sum(lengths),
                'vocabulary': len({token[0] for sentence in sentences for token in sentence}),
                'max_sentence_length': max(lengths), 'tag_count': highest + 1,
                'tags': {str(t): tags[t] for t in sorted(tags)[:MAX_REPORTED_TAGS]}}
        missing = sorted(set(range(highest + 1)) - set(tags))
        if missing:
            stat['missing_tags'] = missing[:100]
        return stat

    def check_queries(self, queries: list) -> None:
        for i, query in enumerate(queries):
            problem = None
            if not isinstance(query, list) or not query:
                problem = f'it is {describe(query)}'
            else:
                bad = next((j for j, token in enumerate(query) if not isinstance(token, str)), None)
                if bad is not None:
                    problem = f'token {bad} is {describe(query[bad])}'
            if problem:
                raise InvalidRequestError(f'{which(i, len(queries))} is not a sentence: {problem}; POS_TAGGING '
                                          f'queries are non-empty lists of token strings',
                                          field='query' if len(queries) == 1 else 'queries', details={'index': i})

    def ensemble(self, values: list, weights: list[float], method: EnsembleMethod):
        tagged = [(v, w) for v, w in zip(values, weights) if isinstance(v, list)]
        if not tagged:
            return combine.vote(values, weights)
        length = combine.vote([len(v) for v, _ in tagged], [w for _, w in tagged])
        same = [(v, w) for v, w in tagged if len(v) == length]
        return [combine.vote([v[i] for v, _ in same], [w for _, w in same]) for i in range(length)]

    def load_dataset(self, path: str, **options):
        return load_corpus_dataset(path, **options)

    def check_predictions(self, predictions: Sequence, queries: Sequence = ()) -> None:
        for i, (p, q) in enumerate(zip(predictions, queries)):
            ok = isinstance(p, list) and len(p) == len(q) and all(
                isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in p)
            if not ok:
                raise InvalidModelError(f'prediction {i}: a POS_TAGGING prediction must be a list of {len(q)} '
                                        f'integer tags, one per token; got {str(p)[:80]}')

    def sample_queries(self, path: str, train_args: dict, count: int) -> list:
        sentences, _, _ = load_corpus_dataset(path)
        return sentences[:count]


def load_corpus_dataset(path: str, tag: str = TAG) -> Tuple[List[List[str]], List[List[int]], int]:
    """Return ``(sentences, tags, tag_count)``: each sentence a list of tokens, ``tags[i][j]`` the
    tag (column ``tag``) of token j of sentence i, and ``tag_count`` the highest tag + 1."""
    rows = read_corpus(path, (tag,))
    sentences = [[token for token, _ in sentence] for sentence in rows]
    tags = [[t for _, t in sentence] for sentence in rows]
    return sentences, tags, 1 + max(t for sentence in tags for t in sentence)


def read_corpus(path: str, tags: Sequence[str] = (TAG,), split_by: str = SENTENCE_END) -> List[list]:
    """The sentences of a corpus zip, each a list of ``[token, tag_1, ..., tag_n]`` (the ``tags``
    columns, as integers); ``InvalidDatasetError`` (field ``dataset``) says what is wrong, where."""
    text = _corpus_text(path)
    reader = csv.DictReader(io.StringIO(text), dialect='excel-tab')
    sentences, sentence, opened = [], [], None
    try:
        missing = [c for c in ('token', *tags) if c not in (reader.fieldnames or [])]
        if missing:
            raise InvalidDatasetError(f'corpus.tsv must start with a header naming the columns token and '
                                      f'{", ".join(tags)} (tab-separated); it lacks {", ".join(missing)}', field=FIELD)
        for row in reader:
            line = reader.line_num
            token = row['token']
            if token == split_by:
                if not sentence:
                    raise InvalidDatasetError(f'corpus.tsv line {line}: an empty sentence (a {split_by} token '
                                              f'right after another, or first)', field=FIELD)
                sentences.append(sentence)
                sentence, opened = [], None
                continue
            if not token:
                raise InvalidDatasetError(f'corpus.tsv line {line} has no token', field=FIELD)
            sentence.append([token, *(_tag(row.get(c), c, line) for c in tags)])
            opened = opened or line
    except csv.Error as e:
        raise InvalidDatasetError(f'corpus.tsv line {reader.line_num} is not valid TSV: {e}', field=FIELD) from None
    if sentence:
        raise InvalidDatasetError(f'corpus.tsv ends inside the sentence that starts on line {opened}: end it '
                                  f'with a {split_by} token', field=FIELD)
    if not sentences:
        raise InvalidDatasetError('corpus.tsv holds no sentence', field=FIELD)
    return sentences


def _tag(cell: Optional[str], column: str, line: int) -> int:
    value = (cell or '').strip()
    if not value.isdigit():
        raise InvalidDatasetError(f'corpus.tsv line {line}: the {column} must be an integer 0..k-1; got {value!r}',
                                  field=FIELD)
    return int(value)


def _corpus_text(path: str) -> str:
    if not zipfile.is_zipfile(path):
        raise InvalidDatasetError('a POS_TAGGING dataset must be a zip archive holding corpus.tsv', field=FIELD)
    with open_zip(path, InvalidDatasetError, FIELD) as zf:
        files = {i.filename: i for i in safe_members(zf, InvalidDatasetError, FIELD) if not is_ignorable(i.filename)}
        if CORPUS_TSV not in files:
            raise InvalidDatasetError(f'the zip must hold corpus.tsv at its root; it holds '
                                      f'{", ".join(sorted(files)[:5]) or "nothing"}', field=FIELD)
        raw = read_member(zf, files[CORPUS_TSV], MAX_CORPUS_BYTES, InvalidDatasetError, FIELD)
    try:
        return raw.decode('utf-8-sig')
    except UnicodeDecodeError as e:
        raise InvalidDatasetError(f'corpus.tsv is not UTF-8 text (byte {e.start})', field=FIELD) from None
