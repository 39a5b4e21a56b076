"""The inference worker: serves one deployed trial. Runs user code.

Replicas of the same trial share one queue, so adding replicas adds throughput. A worker loads
its trial's template and parameters once, then pops batches, predicts and replies. A batch whose
deadline has passed is dropped unanswered (the predictor has already answered without it). The
batches already waiting when the worker is free are predicted in one call (a model call often
costs about the same for 32 rows as for 1), each batch still answered on its own. When
``predict`` raises for a batch, the worker predicts the queries one by one, so that one bad query
costs only its own answer. Answers must be JSON; numpy scalars and arrays are converted.
"""
import logging
import math
import os
import time
import uuid
from typing import Optional

import numpy as np

from singa.model.loader import load_model_class
from singa.param_store import make_param_store
from singa.queues import ServingChannel
from singa.workers.loop import Ticker

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
HEARTBEAT_TTL = 3.0
POP_TIMEOUT = 1.0
MAX_COALESCED = 16      # batches predicted in one model call
MAX_COALESCED_QUERIES = 1024
SPEC_WAIT_SECONDS = 60.0


class InferenceWorker:
    def __init__(self, settings, redis_client, stop):
        self.settings = settings
        self.stop = stop
        self.trial_id = settings.trial_id
        self.channel = ServingChannel(redis_client, settings.job_id)
        self.replica_id = f'{settings.service_id[:8]}-{settings.replica_index}-{uuid.uuid4().hex[:6]}'
        self.model = None

    def run(self) -> int:
        spec = self._wait_for_spec()
        if spec is None:
            return 0
        self.model = self._load(spec)
        beat = Ticker(HEARTBEAT_SECONDS, self._beat, name='heartbeat')
        self._beat()
        beat.start()
        log.info('serving trial %s as replica %s', self.trial_id, self.replica_id)
        try:
            while not self.stop.is_set():
                batch = self.channel.next_batch(self.trial_id, timeout=POP_TIMEOUT)
                if batch is not None:
                    self.serve([batch] + self.channel.more_batches(self.trial_id, MAX_COALESCED - 1))
        finally:
            beat.stop()
            self.channel.leave(self.trial_id, self.replica_id)
            self._close()
        return 0

    def _wait_for_spec(self) -> Optional[dict]:
        deadline = time.monotonic() + SPEC_WAIT_SECONDS
        while not self.stop.is_set():
            spec = self.channel.trial_spec(self.trial_id)
            if spec is not None:
                return spec
            if time.monotonic() > deadline:
                raise RuntimeError(f'no load spec for trial {self.trial_id} was published')
            self.stop.wait(0.5)
        return None

    def _load(self, spec: dict):
        model = spec['model']
        path = os.path.normpath(os.path.join(self.settings.storage_dir, model['path']))
        cls = load_model_class(path, model['class'], file_kind=model.get('kind', 'py'),
                               module_file=model.get('module_file'))
        instance = cls(**spec['knobs'])
        instance.load_parameters(make_param_store(self.settings).load(spec['params_id']))
        return instance

    def _beat(self) -> None:
        self.channel.heartbeat(self.trial_id, self.replica_id, HEARTBEAT_TTL)

    def serve(self, batches: list[dict]) -> None:
        """Predict the live, well-formed ``batches`` in one model call and answer each of them."""
        now, live, queries = time.time(), [], []
        for batch in batches:
            if not isinstance(batch.get('reply_to'), str) or not isinstance(batch.get('queries'), list):
                log.warning('dropped a malformed batch')
            elif batch.get('deadline') is not None and now > float(batch['deadline']):
                pass   # the predictor has answered without this model already
            elif live and len(queries) + len(batch['queries']) > MAX_COALESCED_QUERIES:
                self.serve([batch])
            else:
                live.append(batch)
                queries.extend(batch['queries'])
        if not live:
            return
        predictions, errors = self.predict(queries)
        offset = 0
        for batch in live:
            n = len(batch['queries'])
            own_errors = {str(int(i) - offset): e for i, e in errors.items() if offset <= int(i) < offset + n}
            self.channel.reply(batch['reply_to'], {'batch_id': batch.get('batch_id'), 'trial_id': self.trial_id,
                                                   'replica_id': self.replica_id,
                                                   'predictions': predictions[offset:offset + n], 'errors': own_errors})
            offset += n

    def predict(self, queries: list) -> tuple[list, dict]:
        """Predictions for ``queries`` (None where a query failed) and ``{index: error message}``."""
        try:
            out = self.model.predict(queries)
            if not isinstance(out, (list, tuple, np.ndarray)) or len(out) != len(queries):
                raise ValueError(f'predict() must return one answer per query; got {type(out).__name__}'
                                 f'{" of length " + str(len(out)) if hasattr(out, "__len__") else ""} '
                                 f'for {len(queries)} queries')
            return [to_json(x) for x in out], {}
        except Exception as e:  # noqa: BLE001 - user code; isolate the bad query below
            if len(queries) == 1:
                return [None], {'0': f'{type(e).__name__}: {e}'[:500]}
        predictions, errors = [], {}
        for i, query in enumerate(queries):
            single, error = self.predict([query])
            predictions.append(single[0])
            if error:
                errors[str(i)] = error['0']
        return predictions, errors

    def _close(self) -> None:
        destroy = getattr(self.model, 'destroy', None)
        if callable(destroy):
            try:
                destroy()
            except Exception:  # noqa: BLE001
                log.exception('destroy() of the template failed')


def to_json(value):
    """``value`` as plain JSON types (numpy converted; NaN and infinities become None)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise TypeError(f'predict() returned a {type(value).__name__}, which is not JSON')

