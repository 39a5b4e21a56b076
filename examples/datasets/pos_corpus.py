"""A POS_TAGGING corpus written from a small English grammar (no download; a fixed seed).

Sentences such as "The old dog can watch the light ." and "They book two rooms near the park ."
are drawn from a grammar whose words are often ambiguous: ``book``, ``watch``, ``light``, ``can``,
``saw``, ``plan`` and ``run`` are nouns in some sentences and verbs (or an adjective) in others,
so a tagger has to read the context, not only the word. Tags are integers (SingaAuto's format);
``TAGS`` names them, and each zip holds ``tags.tsv`` beside ``corpus.tsv`` saying the same.
"""
import io
import random
import zipfile
from typing import List, Tuple

TAGS = ['DET', 'NOUN', 'VERB', 'ADJ', 'ADP', 'PRON', 'ADV', 'CONJ', 'NUM', 'PUNCT', 'AUX']
T = {name: i for i, name in enumerate(TAGS)}
SENTENCE_END = '\\n'

NOUNS = ['dog', 'cat', 'book', 'watch', 'light', 'can', 'saw', 'plan', 'run', 'park', 'man', 'woman', 'child',
         'bird', 'house', 'car', 'letter', 'room', 'river', 'table', 'garden', 'window', 'teacher', 'train']
PLURALS = {n: (n + 'es' if n.endswith(('ch', 'sh')) else 'children' if n == 'child' else
               'men' if n == 'man' else 'women' if n == 'woman' else n + 's') for n in NOUNS}
VERBS = {  # base: (third person singular, past)
    'book': ('books', 'booked'), 'watch': ('watches', 'watched'), 'light': ('lights', 'lit'),
    'run': ('runs', 'ran'), 'plan': ('plans', 'planned'), 'see': ('sees', 'saw'), 'like': ('likes', 'liked'),
    'find': ('finds', 'found'), 'read': ('reads', 'read'), 'open': ('opens', 'opened'), 'paint': ('paints', 'painted'),
    'visit': ('visits', 'visited'), 'clean': ('cleans', 'cleaned'), 'follow': ('follows', 'followed')}
ADJECTIVES = ['old', 'new', 'red', 'light', 'small', 'happy', 'big', 'quiet', 'green', 'busy']
DETERMINERS = ['the', 'a', 'this', 'that', 'every', 'my', 'our']
PLURAL_DETERMINERS = ['the', 'some', 'these', 'those', 'my', 'many']
SUBJECT_PRONOUNS = {'I': False, 'you': False, 'we': False, 'they': False, 'he': True, 'she': True, 'it': True}
OBJECT_PRONOUNS = ['me', 'you', 'him', 'her', 'it', 'us', 'them']
PREPOSITIONS = ['in', 'on', 'near', 'with', 'under', 'after', 'behind']
ADVERBS = ['quickly', 'often', 'never', 'slowly', 'today', 'again', 'always']
MODALS = ['can', 'will', 'must', 'should', 'may']
NUMBERS = ['two', 'three', 'four', 'five', '12', '7']
CONJUNCTIONS = ['and', 'but']

Tagged = List[Tuple[str, int]]


def noun_phrase(rng: random.Random, plural: bool, depth: int = 0) -> Tagged:
    if plural:
        head = rng.choice([(rng.choice(PLURAL_DETERMINERS), T['DET']), (rng.choice(NUMBERS), T['NUM'])])
        words = [head]
    else:
        words = [(rng.choice(DETERMINERS), T['DET'])]
    if rng.random() < 0.4:
        words.append((rng.choice(ADJECTIVES), T['ADJ']))
    noun = rng.choice(NOUNS)
    words.append((PLURALS[noun] if plural else noun, T['NOUN']))
    if depth == 0 and rng.random() < 0.25:
        words += [(rng.choice(PREPOSITIONS), T['ADP'])] + noun_phrase(rng, rng.random() < 0.3, depth + 1)
    return words


def subject(rng: random.Random) -> Tuple[Tagged, bool]:
    """A subject and whether it takes the third person singular."""
    if rng.random() < 0.35:
        pronoun = rng.choice(list(SUBJECT_PRONOUNS))
        return [(pronoun, T['PRON'])], SUBJECT_PRONOUNS[pronoun]
    plural = rng.random() < 0.35
    return noun_phrase(rng, plural), not plural


def verb_phrase(rng: random.Random, singular: bool) -> Tagged:
    verb = rng.choice(list(VERBS))
    form = rng.random()
    if form < 0.3:
        words = [(rng.choice(MODALS), T['AUX']), (verb, T['VERB'])]
    elif form < 0.65:
        words = [(VERBS[verb][1], T['VERB'])]
    else:
        words = [(VERBS[verb][0] if singular else verb, T['VERB'])]
    if rng.random() < 0.25:
        words.append((rng.choice(OBJECT_PRONOUNS), T['PRON']))
    else:
        words += noun_phrase(rng, rng.random() < 0.3)
    if rng.random() < 0.25:
        words.append((rng.choice(ADVERBS), T['ADV']))
    return words


def sentence(rng: random.Random) -> Tagged:
    words, singular = subject(rng)
    words = words + verb_phrase(rng, singular)
    if rng.random() < 0.2:
        more, singular = subject(rng)
        words += [(rng.choice(CONJUNCTIONS), T['CONJ'])] + more + verb_phrase(rng, singular)
    words.append(('!' if rng.random() < 0.1 else '.', T['PUNCT']))
    first, tag = words[0]
    return [(first if first == 'I' else first[0].upper() + first[1:], tag)] + words[1:]


def sentences(count: int, seed: int = 0) -> List[Tagged]:
    rng = random.Random(seed)
    return [sentence(rng) for _ in range(count)]


def write_corpus_zip(path: str, tagged: List[Tagged]) -> None:
    """``corpus.tsv`` (token, tag; a ``\\n`` row ends each sentence) and ``tags.tsv`` in a zip."""
    tsv = io.StringIO()
    tsv.write('token\ttag\n')
    for words in tagged:
        for token, tag in words:
            tsv.write(f'{token}\t{tag}\n')
        tsv.write(f'{SENTENCE_END}\t\n')
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as archive:
        archive.writestr('corpus.tsv', tsv.getvalue())
        archive.writestr('tags.tsv', 'tag\tname\n' + ''.join(f'{i}\t{name}\n' for i, name in enumerate(TAGS)))
