"""A hostile model template, written for one platform: it tries every attack it is told about and
reports what worked through the channel each phase offers it (the knob config at upload, a log line
and the trial's score in ``train()``, the answers of ``predict()`` for what it found where it is
served).

``probe_template(targets)`` returns its source; ``targets`` (JSON) names what to try:

- ``read``: files to read (secrets, other users' datasets, parameters, templates, the advisor's
  spec file...); ``list``: directories to list;
- ``write``: files to append to (other users' templates, datasets, parameters);
- ``ports``: ``[host, port]`` pairs to connect to (the admin, PostgreSQL, Redis, predictors);
- ``unix``: Unix sockets to connect to (the Docker socket);
- ``redis``: ``[host, port]`` of Redis servers that must not answer a command without credentials;
- ``secrets``: strings that must appear nowhere the template can read.

It also looks for other processes' environments in ``/proc`` and for root. ``FINDINGS_OK`` is what
a contained template reports: nothing.
"""
import json

PROBE = r'''
import json
import os
import socket

from singa.model import BaseModel, CategoricalKnob, logger

TARGETS = json.loads(%(targets)r)


def attack():
    found = {}

    def note(kind, value):
        found.setdefault(kind, []).append(value)

    for path in TARGETS.get("read", []):
        try:
            with open(path, "rb") as f:
                data = f.read(4096)
            note("read", path)
            for secret in TARGETS.get("secrets", []):
                if secret.encode() in data:
                    note("secret", path)
        except Exception:
            pass
    for path in TARGETS.get("list", []):
        try:
            os.listdir(path)
            note("listed", path)
        except Exception:
            pass
    for path in TARGETS.get("write", []):
        try:
            with open(path, "ab") as f:
                f.write(b"\n# written by a hostile template\n")
            note("wrote", path)
        except Exception:
            pass
    for host, port in TARGETS.get("ports", []):
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            note("connected", "%%s:%%s" %% (host, port))
        except Exception:
            pass
    for host, port in TARGETS.get("redis", []):
        try:
            s = socket.create_connection((host, port), timeout=0.5)
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            if s.recv(64).startswith(b"+PONG"):
                note("redis_open", "%%s:%%s" %% (host, port))
            s.close()
        except Exception:
            pass
    for path in TARGETS.get("unix", []):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(0.5)
            s.connect(path)
            s.close()
            note("connected", path)
        except Exception:
            pass
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%%s/environ" %% pid, "rb") as f:
                environ = f.read()
        except Exception:
            continue
        if b"SINGA_" in environ or b"PASSWORD" in environ:
            note("environ", pid)
    for key, value in os.environ.items():
        if key.startswith("SINGA_") or any(s in value for s in TARGETS.get("secrets", [])):
            note("own_environ", key)
    if os.getuid() == 0 or os.geteuid() == 0:
        note("root", os.getuid())
    return found


class Probe(BaseModel):
    @staticmethod
    def get_knob_config():
        return {"findings": CategoricalKnob([json.dumps(attack(), sort_keys=True)])}

    def train(self, dataset_path, shared_params=None, **train_args):
        self.findings = attack()
        logger.log("FINDINGS " + json.dumps(self.findings, sort_keys=True))

    def evaluate(self, dataset_path):
        return 0.0 if self.findings else 1.0

    def predict(self, queries):
        return [json.dumps(self.served_findings, sort_keys=True) for _ in queries]

    def dump_parameters(self):
        return {"ok": True}

    def load_parameters(self, params):
        # The attack runs once where the model is served (it may take longer than a query may:
        # unreachable hosts take their time); every answer reports it.
        self.served_findings = attack()
'''

FINDINGS_OK = {}


def probe_template(targets: dict) -> str:
    return PROBE % {'targets': json.dumps(targets)}


def findings_of(text: str) -> dict:
    return json.loads(text)
