"""The untrusted side: ``python -m singa.sandbox.child CONFIG_JSON``, started by a ``ModelRunner``
inside a sandbox. It is the only process that imports a model template.

It reads operations from one pipe and answers on another (``singa.sandbox.protocol``; their file
descriptors are in ``CONFIG_JSON``); whatever the template prints goes to stdout/stderr, which the
runner reads as log output. Before it reads the first operation it lowers its own resource limits
(``CONFIG_JSON``: ``{"rlimits": {name: value}, "in_fd", "out_fd", "workdir", "sites"}``), which no
code it runs later can raise again, and appends the template's environment (``sites``: its
site-packages directories, read-only) to its path, after the platform's packages, which win. It holds no credential and reaches nothing but what
the sandbox shows it: the template arrives as bytes and is written to a private directory; a
trial's datasets are read-only files; parameters travel over the pipe.

Operations (one answer each, ``{"done": true, "ok": bool, ...}``):

- ``ping``: nothing (the runner's way to know the child is up).
- ``load`` {kind, class_name, module_file}, payload = the template file: import it.
- ``inspect``: the knob config of the loaded class, serialised, and its declarations (for the upload check).
- ``train`` {knobs, train_path, val_path, train_args, save_params}, payload = shared parameters or
  none: one trial; while it runs, ``log`` and ``report`` events go out, and a ``report`` waits for
  ``report_reply`` {prune}. Answer: {status, score, error}, payload = the encoded parameters.
- ``serve`` {knobs}, payload = encoded parameters: build the instance that ``predict`` uses.
- ``predict`` {queries}: {predictions, errors} (errors: query index -> message).
- ``teardown``: the class's ``teardown()``; the child then exits.
"""
import json
import math
import os
import resource
import sys
import time
import traceback

TEMPLATE_DIR = 'template'
RLIMITS = {'as': resource.RLIMIT_AS, 'nproc': resource.RLIMIT_NPROC, 'fsize': resource.RLIMIT_FSIZE,
           'cpu': resource.RLIMIT_CPU, 'nofile': resource.RLIMIT_NOFILE, 'core': resource.RLIMIT_CORE}
MAX_ERROR_CHARS = 20_000


def lower_limits(limits: dict) -> None:
    for name, value in limits.items():
        kind = RLIMITS[name]
        soft, hard = resource.getrlimit(kind)
        value = int(value)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))


class Child:
    def __init__(self, workdir: str, in_fd: int, out_fd: int):
        self.workdir, self.in_fd, self.out_fd = workdir, in_fd, out_fd
        self.model_class = None
        self.model = None

    # -- the loop ----------------------------------------------------------------------------
    def serve_forever(self) -> int:
        from singa.sandbox.protocol import ProtocolError, read_frame
        while True:
            try:
                header, payload = read_frame(self.in_fd)
            except ProtocolError:
                return 0                       # the runner went away
            reap_children()
            op = header.get('op')
            handler = getattr(self, f'op_{op}', None) if isinstance(op, str) else None
            if handler is None:
                self.answer(ok=False, error=f'unknown operation {op!r}')
                continue
            handler(header, payload)
            if op == 'teardown':
                return 0

    def answer(self, payload=None, **fields) -> None:
        from singa.sandbox.protocol import write_frame
        write_frame(self.out_fd, dict(fields, done=True), payload)

    def event(self, **fields) -> None:
        from singa.sandbox.protocol import write_frame
        write_frame(self.out_fd, fields)

    def failed(self, error: BaseException) -> None:
        self.answer(ok=False, error=_describe(error))

    # -- operations --------------------------------------------------------------------------
    def op_ping(self, header: dict, payload) -> None:
        self.answer(ok=True)

    def op_load(self, header: dict, payload) -> None:
        from singa.errors import InvalidModelError
        from singa.model.loader import load_model_class
        try:
            kind = header.get('kind', 'py')
            if kind not in ('py', 'zip') or payload is None:
                raise InvalidModelError('the runner sent no template')
            root = os.path.join(self.workdir, TEMPLATE_DIR)
            os.makedirs(root, exist_ok=True)
            path = os.path.join(root, 'template.' + kind)
            with open(path, 'wb') as f:
                f.write(payload)
            self.model_class = load_model_class(path, str(header.get('class_name')), kind,
                                                header.get('module_file'),
                                                extract_to=os.path.join(root, 'files'))
        except BaseException as e:  # noqa: BLE001 - the template's failure, whatever it is
            self.failed(e)
            return
        self.answer(ok=True)

    def op_inspect(self, header: dict, payload) -> None:
        from singa.model.inspect import declarations, validate_model_class
        try:
            cls = self._loaded()
            self.answer(ok=True, knob_config=validate_model_class(cls), **declarations(cls))
        except BaseException as e:  # noqa: BLE001
            self.failed(e)

    def op_train(self, header: dict, payload) -> None:
        from singa.constants import TrialStatus
        from singa.errors import TrialPruned
        from singa.model import logger
        from singa.objectives import evaluation_metrics
        from singa.param_store.codec import decode_params, encode_params

        pruned = []

        def on_report(step: int, score: float) -> bool:
            from singa.sandbox.protocol import read_frame
            self.event(event='report', step=int(step), score=float(score))
            reply, _ = read_frame(self.in_fd)
            prune = bool(reply.get('prune'))
            if prune:
                pruned.append(step)
            return prune

        logger.attach(on_line=lambda line: self.event(event='log', line=line), on_report=on_report)
        model, status, score, params, error, metrics = None, TrialStatus.ERRORED.value, None, None, None, {}
        try:
            shared = decode_params(payload) if payload is not None else None
            model = self._loaded()(**header.get('knobs', {}))
            began = time.monotonic()
            model.train(header['train_path'], shared_params=shared, **(header.get('train_args') or {}))
            score, metrics = evaluation_metrics(model.evaluate(header['val_path']))
            if header.get('save_params', True):
                params = encode_params(model.dump_parameters())
            status = TrialStatus.PRUNED.value if pruned else TrialStatus.COMPLETED.value
            if status == TrialStatus.COMPLETED.value and header.get('task'):
                latency = measure_latency(model, header['task'], header['val_path'], header.get('train_args') or {},
                                          trial_seconds=time.monotonic() - began)
                if latency is not None:
                    metrics['predict_latency_ms'] = latency
        except TrialPruned:
            status, score = TrialStatus.PRUNED.value, None
        except BaseException as e:  # noqa: BLE001 - user code may raise anything: it costs its trial
            status, score, params = (TrialStatus.PRUNED.value if pruned else TrialStatus.ERRORED.value), None, None
            error = _describe(e)
        finally:
            logger.detach()
            if model is not None:
                try:
                    model.destroy()
                except BaseException:  # noqa: BLE001
                    print('destroy() of the template failed:\n' + traceback.format_exc(), file=sys.stderr)
        self.answer(params, ok=True, status=status, score=score, metrics=metrics, error=error)

    def op_serve(self, header: dict, payload) -> None:
        from singa.param_store.codec import decode_params
        try:
            model = self._loaded()(**header.get('knobs', {}))
            model.load_parameters(decode_params(payload or b''))
            self.model = model
        except BaseException as e:  # noqa: BLE001
            self.failed(e)
            return
        self.answer(ok=True)

    def op_predict(self, header: dict, payload) -> None:
        queries = header.get('queries')
        if self.model is None or not isinstance(queries, list):
            self.answer(ok=False, error='no model is loaded' if self.model is None else 'queries must be a list')
            return
        predictions, errors = predict_each(self.model, queries)
        try:
            self.answer(ok=True, predictions=predictions, errors=errors)
        except ValueError as e:          # not JSON after all (to_json should have caught it)
            self.answer(ok=False, error=f'predict() returned something that is not JSON: {e}')

    def op_teardown(self, header: dict, payload) -> None:
        for obj, name in ((self.model, 'destroy'), (self.model_class, 'teardown')):
            method = getattr(obj, name, None)
            if callable(method):
                try:
                    method()
                except BaseException:  # noqa: BLE001
                    print(f'{name}() of the template failed:\n' + traceback.format_exc(), file=sys.stderr)
        self.answer(ok=True)

    def _loaded(self):
        if self.model_class is None:
            from singa.errors import InvalidModelError
            raise InvalidModelError('no template is loaded')
        return self.model_class


def add_sites(paths: list) -> None:
    """Put a template's environment on the path, after the platform's packages (``.pth`` files
    in it are processed, as for any site directory)."""
    import site
    for path in paths:
        site.addsitedir(str(path))


def reap_children() -> None:
    """Collect children that have exited (what the runner killed after the last operation)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


LATENCY_QUERIES = 20           # queries of the validation set timed, one at a time, after one warm-up
LATENCY_SECONDS = 5.0          # and no more time than this in all
LATENCY_MIN_QUERIES = 5        # timed however short the trial (unless LATENCY_SECONDS runs out first)
LATENCY_SHARE = 0.1            # beyond those, at most this share of the trial's training and evaluation time


def measure_latency(model, task: str, val_path: str, train_args: dict, trial_seconds: float = math.inf):
    """The median time in milliseconds that ``model.predict`` takes for one query of the validation
    set (the first ``LATENCY_QUERIES``), after a warm-up query; None when it cannot be measured
    (no queries, a failing predict). Stops timing after ``LATENCY_SECONDS``, and after
    ``LATENCY_MIN_QUERIES`` once it has taken ``LATENCY_SHARE`` of ``trial_seconds`` (the time the
    trial took to train and evaluate): the figure must not cost a short trial more than a tenth of
    its time (a forest's queries alone took half as long as its training)."""
    import statistics
    from singa.tasks import get_task
    try:
        queries = get_task(task).sample_queries(val_path, train_args, LATENCY_QUERIES + 1)
        if not queries:
            return None
        model.predict(queries[:1])
        now = time.monotonic()
        times, give_up, enough = [], now + LATENCY_SECONDS, now + min(LATENCY_SECONDS, LATENCY_SHARE * trial_seconds)
        for query in queries[1:] or queries:
            started = time.perf_counter()
            model.predict([query])
            times.append((time.perf_counter() - started) * 1000)
            now = time.monotonic()
            if now > give_up or (len(times) >= LATENCY_MIN_QUERIES and now > enough):
                break
        return statistics.median(times)
    except Exception:  # noqa: BLE001 - user code; the trial stands without the figure
        print('predict() failed while its latency was measured:\n' + traceback.format_exc(), file=sys.stderr)
        return None


def predict_each(model, queries: list) -> tuple[list, dict]:
    """Predictions for ``queries`` (None where one failed) and ``{index: message}``: the whole
    batch in one call, then one by one if that raises, so one bad query costs only its answer."""
    try:
        out = model.predict(queries)
        if not hasattr(out, '__len__') or len(out) != len(queries):
            raise ValueError(f'predict() must return one answer per query; got {type(out).__name__}'
                             f'{" of length " + str(len(out)) if hasattr(out, "__len__") else ""} '
                             f'for {len(queries)} queries')
        return [to_json(x) for x in out], {}
    except Exception as e:  # noqa: BLE001 - user code; isolate the bad query below
        if len(queries) == 1:
            return [None], {'0': f'{type(e).__name__}: {e}'[:500]}
    predictions, errors = [], {}
    for i, query in enumerate(queries):
        single, error = predict_each(model, [query])
        predictions.append(single[0])
        if error:
            errors[str(i)] = error['0']
    return predictions, errors


def to_json(value):
    """``value`` as plain JSON types (numpy converted; NaN and infinities become None)."""
    import math
    import numpy as np
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


def _describe(error: BaseException) -> str:
    """What the runner is told about a failure: the loader's own message for a template that
    does not load, otherwise the traceback (its end, when it is long)."""
    from singa.errors import InvalidModelError
    if isinstance(error, InvalidModelError):
        return error.message[-MAX_ERROR_CHARS:]
    if isinstance(error, MemoryError):
        return 'MemoryError: the template ran out of the memory it may use'
    text = ''.join(traceback.format_exception(type(error), error, error.__traceback__, limit=30))
    return text[-MAX_ERROR_CHARS:]


def main(argv: list) -> int:
    config = json.loads(argv[0]) if argv else {}
    lower_limits(config.get('rlimits', {}))
    add_sites(config.get('sites') or [])
    import logging
    # The template's own logging goes to stderr, which the runner turns into log lines.
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    workdir = config.get('workdir') or os.getcwd()
    os.makedirs(workdir, mode=0o700, exist_ok=True)
    os.chdir(workdir)
    return Child(workdir, int(config['in_fd']), int(config['out_fd'])).serve_forever()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
