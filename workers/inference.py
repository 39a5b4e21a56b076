"""The inference worker: serves one deployed trial. It never imports the template: a
``ModelRunner`` drives it in a sandboxed child (``singa.sandbox``) that gets the template's bytes
(checked against the SHA-256 recorded at upload) and the trial's parameters over a pipe, and its
dependencies' environment (``singa.envs``), read-only, when it has one.

Replicas of the same trial share one queue, so adding replicas adds throughput. A worker loads
its trial's template and parameters once, then pops batches, predicts and replies. A batch whose
deadline has passed is dropped unanswered (the predictor has already answered without it), and
so is a batch this replica has taken already (the predictor sends a batch again when the
replica that took it does not answer in time, so a slow replica may pop its own). The batches
already waiting when the worker is free are predicted in one call (a model call often
costs about the same for 32 rows as for 1), each batch still answered on its own. When
``predict`` raises for a batch, the child predicts the queries one by one, so that one bad query
costs only its own answer. Answers must be JSON; numpy scalars and arrays are converted. A child
that hangs past the batch's deadline or dies is replaced (and the model loaded again); the
batches it held are answered with an error. An outage of Redis does not end the worker: it waits
until Redis answers again (and lets it in: a restarted Redis knows the job's user only once the
admin has made it again), with its model loaded.
"""
import collections
import logging
import os
import time
import uuid
from typing import Optional

from singa.envs import template_env
from singa.errors import ServiceUnavailableError
from singa.param_store import make_param_store
from singa.queues import Batch, Reply, ServingChannel
from singa.sandbox import ModelRunner, SandboxFailed, TemplateSource, make_sandbox, worker_limits
from singa.workers.loop import Outage, Ticker

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
HEARTBEAT_TTL = 3.0
# The longest a stop waits for the pop under way: a signal does not interrupt it (Python resumes
# the read after the handler has set the stop flag), and breaking the read off could drop a batch
# Redis has already handed over. An idle replica thus pops 5 times a second; it stops within 0.2 s.
POP_TIMEOUT = 0.2
MAX_COALESCED = 16      # batches predicted in one model call
MAX_COALESCED_QUERIES = 1024
TAKEN_MEMORY = 1024     # ids of the batches taken, remembered to skip copies sent again
SPEC_WAIT_SECONDS = 60.0


class InferenceWorker:
    def __init__(self, settings, redis_client, stop, sandbox=None):
        self.settings = settings
        self.stop = stop
        self.trial_id = settings.trial_id
        self.channel = ServingChannel(redis_client, settings.job_id)
        self.replica_id = f'{settings.service_id[:8]}-{settings.replica_index}-{uuid.uuid4().hex[:6]}'
        self.sandbox = sandbox
        self.runner: Optional[ModelRunner] = None
        self.outage = Outage(stop)
        self._taken: collections.OrderedDict = collections.OrderedDict()

    def run(self) -> int:
        spec = self._wait_for_spec()
        if spec is None:
            return 0
        self.runner = self._load(spec)
        beat = Ticker(HEARTBEAT_SECONDS, self._beat, name='heartbeat')
        self._beat()
        beat.start()
        log.info('serving trial %s as replica %s', self.trial_id, self.replica_id)
        try:
            while not self.stop.is_set():
                try:
                    batch = self.channel.next_batch(self.trial_id, timeout=POP_TIMEOUT)
                    if batch is not None:
                        self.serve([batch] + self.channel.more_batches(self.trial_id, MAX_COALESCED - 1))
                    self.outage.over()
                except ServiceUnavailableError as e:
                    self.outage.wait(e)
        finally:
            beat.stop()
            self.channel.leave(self.trial_id, self.replica_id)
            self._close()
        return 0

    def _wait_for_spec(self) -> Optional[dict]:
        deadline = time.monotonic() + SPEC_WAIT_SECONDS
        while not self.stop.is_set():
            try:
                spec = self.channel.trial_spec(self.trial_id)
            except ServiceUnavailableError as e:
                self.outage.wait(e)
                deadline = time.monotonic() + SPEC_WAIT_SECONDS      # it may be published once Redis is back
                continue
            if spec is not None:
                return spec.to_dict()
            if time.monotonic() > deadline:
                raise RuntimeError(f'no load spec for trial {self.trial_id} was published')
            self.stop.wait(0.5)
        return None

    def _load(self, spec: dict) -> ModelRunner:
        """A runner with the trial's model loaded in its child (the knobs and parameters are
        replayed into a new child whenever one has to replace it)."""
        model = spec['model']
        path = os.path.normpath(os.path.join(self.settings.storage_dir, model['path']))
        runner = ModelRunner(self.sandbox or make_sandbox(self.settings), worker_limits(self.settings, threads=1),
                             on_output=lambda line: log.info('template: %s', line),
                             env=template_env(self.settings.storage_dir, model.get('env')))
        runner.load_template(TemplateSource(path, model['class'], model.get('kind', 'py'), model.get('module_file'),
                                            model.get('sha256')), self.settings.max_model_bytes)
        runner.serve(spec['knobs'], make_param_store(self.settings).load_encoded(spec['params_id']),
                     timeout=SPEC_WAIT_SECONDS)
        return runner

    def _beat(self) -> None:
        try:
            self.channel.heartbeat(self.trial_id, self.replica_id, HEARTBEAT_TTL)
        except ServiceUnavailableError:
            pass            # Redis is down: the serving loop says so, and waits for it

    def serve(self, batches: list[Batch]) -> None:
        """Predict the live ``batches`` in one model call and answer each of them."""
        now, live, queries = time.time(), [], []
        for batch in batches:
            if now > batch.deadline or batch.batch_id in self._taken:
                pass   # the predictor has answered without this model, or this replica has taken it
            elif live and len(queries) + len(batch.queries) > MAX_COALESCED_QUERIES:
                self.serve([batch])
            else:
                live.append(batch)
                queries.extend(batch.queries)
                self._taken[batch.batch_id] = None
        while len(self._taken) > TAKEN_MEMORY:
            self._taken.popitem(last=False)
        if not live:
            return
        predictions, errors = self.predict(queries)
        offset = 0
        for batch in live:
            n = len(batch.queries)
            own_errors = {str(int(i) - offset): e for i, e in errors.items() if offset <= int(i) < offset + n}
            self.channel.reply(batch.reply_to, Reply(batch.batch_id, self.trial_id, self.replica_id,
                                                     predictions[offset:offset + n], own_errors))
            offset += n

    def predict(self, queries: list) -> tuple[list, dict]:
        """Predictions for ``queries`` (None where a query failed) and ``{index: error message}``.
        A child that dies or runs past the deadline fails every query of the call."""
        try:
            return self.runner.predict(queries, timeout=self.settings.predictor_timeout_seconds)
        except SandboxFailed as e:
            log.warning('the model failed while predicting: %s', e.message)
            return [None] * len(queries), {str(i): e.message for i in range(len(queries))}

    def _close(self) -> None:
        if self.runner is not None:
            self.runner.teardown()
