"""Boxes for IMAGE_DETECTION: overlap, fusing several models' detections, average precision.

A detection is ``{"bbox": [x, y, width, height], "category_id": id, "score": s}``, COCO's result
format (pixels, ``x, y`` the top left corner) without the image id; other keys a template adds are
kept. Pure Python: the predictor fuses without numpy.

**Fusing** (weighted boxes fusion, Solovyev et al. 2019): every model's detections, highest score
first, join the first cluster of their category that they overlap with an IoU of at least
``FUSE_IOU`` (else start one). A cluster's box is the mean of its members' boxes weighted by score
times model weight; its score is the weighted mean over all models of each model's best score in
it, a model without a box there counting 0, so a box that only some models see keeps a lower
score. Under ``VOTE`` a cluster is kept only when models with more than half the total weight see
it. The fused detections come highest score first; each keeps the keys of its best member.
"""
import math
from typing import Optional, Sequence

FUSE_IOU = 0.55


def detection_problem(d) -> Optional[str]:
    """What makes ``d`` not a detection, or None."""
    if not isinstance(d, dict):
        return 'is not an object'
    box = d.get('bbox')
    if not (isinstance(box, list) and len(box) == 4 and all(_finite(v) for v in box)) or box[2] < 0 or box[3] < 0:
        return 'has no bbox [x, y, width, height] of finite numbers (width and height >= 0)'
    if not isinstance(d.get('category_id'), int) or isinstance(d.get('category_id'), bool):
        return 'has no integer category_id'
    if not _finite(d.get('score')) or not 0 <= d['score'] <= 1:
        return 'has no score between 0 and 1'
    return None


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``[x, y, width, height]`` boxes."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def fuse(answers: list, weights: list[float], majority: bool = False, threshold: float = FUSE_IOU) -> list:
    """One list of detections from several models' lists (see the module's docstring)."""
    total = sum(weights)
    found = [(d, m) for m, answer in enumerate(answers) for d in answer if detection_problem(d) is None]
    found.sort(key=lambda dm: -dm[0]['score'])
    clusters: list[dict] = []
    for d, m in found:
        cluster = next((c for c in clusters if c['category_id'] == d['category_id']
                        and iou(c['bbox'], d['bbox']) >= threshold), None)
        if cluster is None:
            cluster = {'category_id': d['category_id'], 'members': [], 'best': {}}
            clusters.append(cluster)
        cluster['members'].append((d, weights[m]))
        cluster['best'].setdefault(m, d)
        cluster['bbox'] = _weighted_box(cluster['members'])
    fused = []
    for c in clusters:
        support = sum(weights[m] for m in c['best'])
        if majority and support <= total / 2:
            continue
        score = sum(weights[m] * d['score'] for m, d in c['best'].items()) / total
        top = c['members'][0][0]
        fused.append({**top, 'bbox': [round(v, 4) for v in c['bbox']], 'score': round(score, 6)})
    return sorted(fused, key=lambda d: -d['score'])


def _weighted_box(members: list) -> list[float]:
    mass = sum(d['score'] * w for d, w in members) or 1e-12
    return [sum(d['bbox'][i] * d['score'] * w for d, w in members) / mass for i in range(4)]


def average_precision(predictions: Sequence[list], truths: Sequence[list], threshold: float = 0.5) -> float:
    """Mean over categories of the average precision at IoU ``threshold`` (PASCAL VOC's all-point
    interpolation). ``predictions[i]``: the detections for image i; ``truths[i]``: its true boxes as
    ``(category_id, [x, y, width, height])``. Categories without a true box are left out."""
    categories = {c for boxes in truths for c, _ in boxes}
    if not categories:
        return 0.0
    return sum(_category_ap(predictions, truths, c, threshold) for c in categories) / len(categories)


def _category_ap(predictions, truths, category, threshold) -> float:
    truth = [[box for c, box in boxes if c == category] for boxes in truths]
    used = [[False] * len(boxes) for boxes in truth]
    ranked = sorted(((d['score'], i, d['bbox']) for i, ds in enumerate(predictions) for d in ds
                     if d.get('category_id') == category), key=lambda t: -t[0])
    hits = []
    for _, i, box in ranked:
        overlaps = [iou(box, t) for t in truth[i]]
        best = max(range(len(overlaps)), key=overlaps.__getitem__, default=None)
        hit = best is not None and overlaps[best] >= threshold and not used[i][best]
        if hit:
            used[i][best] = True
        hits.append(hit)
    n_true = sum(len(boxes) for boxes in truth)
    precision, recall, tp = [], [], 0
    for k, hit in enumerate(hits, start=1):
        tp += hit
        precision.append(tp / k)
        recall.append(tp / n_true)
    for k in range(len(precision) - 2, -1, -1):      # the precision envelope: best at this recall or beyond
        precision[k] = max(precision[k], precision[k + 1])
    ap, previous = 0.0, 0.0
    for k in range(len(hits)):
        if hits[k]:
            ap += (recall[k] - previous) * precision[k]
            previous = recall[k]
    return ap


def _finite(value) -> bool:
    try:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    except OverflowError:          # an integer beyond any double
        return False
