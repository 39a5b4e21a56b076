"""Runs advisor and train workers as real subprocesses against the test session's servers,
with job rows seeded straight into the metadata store (the admin's part is tested elsewhere)."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid

from singa.constants import ServiceType
from singa.meta_store import services, train_jobs
from singa.model.inspect import check_model_template
from singa.admin.services.deployer import Deployer, ensure_job_redis_user

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, 'examples')


def build_dataset(name: str, out_dir: str) -> dict:
    subprocess.run([sys.executable, '-m', 'examples.datasets.build', '--out', out_dir, name], cwd=REPO,
                   check=True, capture_output=True)
    return {split: os.path.join(out_dir, f'{name}_{split}.csv') for split in ('train', 'val', 'test')}


def seed_user(cur, email='dev@x') -> uuid.UUID:
    user_id = uuid.uuid4()
    cur.execute("INSERT INTO users (id, email, password_hash, user_type) VALUES (%s, %s, 'x', 'ADMIN')",
                (user_id, email))
    return user_id


def seed_dataset(cur, settings, owner_id, path: str, task='TABULAR_CLASSIFICATION') -> uuid.UUID:
    dataset_id = uuid.uuid4()
    rel = f'data/{dataset_id}.csv'
    os.makedirs(os.path.join(settings.storage_dir, 'data'), exist_ok=True)
    shutil.copy(path, os.path.join(settings.storage_dir, rel))
    cur.execute('INSERT INTO datasets (id, owner_id, name, task, store_path, file_name, size_bytes)'
                ' VALUES (%s, %s, %s, %s, %s, %s, %s)',
                (dataset_id, owner_id, os.path.basename(path), task, rel, os.path.basename(path),
                 os.path.getsize(path)))
    return dataset_id


def seed_model(cur, settings, owner_id, source_path: str, class_name: str,
               task='TABULAR_CLASSIFICATION') -> uuid.UUID:
    model_id = uuid.uuid4()
    with open(source_path, 'rb') as f:
        data = f.read()
    knob_config = check_model_template(data, class_name)
    rel = f'models/{model_id}/{os.path.basename(source_path)}'
    os.makedirs(os.path.join(settings.storage_dir, os.path.dirname(rel)), exist_ok=True)
    with open(os.path.join(settings.storage_dir, rel), 'wb') as f:
        f.write(data)
    cur.execute('INSERT INTO models (id, owner_id, name, task, model_class, file_kind, file_name, file_bytes,'
                ' file_sha256, store_path, knob_config) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)',
                (model_id, owner_id, f'{class_name}-{model_id.hex[:6]}', task, class_name, 'py',
                 os.path.basename(source_path), data, hashlib.sha256(data).hexdigest(), rel, json.dumps(knob_config)))
    return model_id


class WorkerProcesses:
    """Starts the services of a seeded job as subprocesses; kills whatever is left at the end."""

    def __init__(self, store, settings, redis_client, log_dir: str):
        self.store, self.settings, self.r = store, settings, redis_client
        self.deployer = Deployer(store, settings, None, redis_client)
        self.log_dir = log_dir
        self.procs: dict[str, list[subprocess.Popen]] = {}

    def seed_job(self, owner_id, train_id, val_id, model_ids, budget, workers=1, advisor_config=None):
        with self.store.transaction() as cur:
            hours = budget.get('TIME_HOURS')
            job = train_jobs.insert_train_job(
                cur, owner_id=owner_id, app='app', task='TABULAR_CLASSIFICATION', budget=budget,
                train_dataset_id=train_id, val_dataset_id=val_id, train_args={},
                advisor_config=advisor_config or {}, time_budget_seconds=None if hours is None else hours * 3600)
            created = []
            for model_id in model_ids:
                sub = train_jobs.insert_sub_train_job(cur, job.id, model_id)
                adv = services.insert_service(cur, service_type=ServiceType.ADVISOR.value, job_id=job.id,
                                              sub_job_id=sub.id, container_manager='process')
                train_jobs.set_sub_train_job_advisor(cur, sub.id, adv.id)
                ws = [services.insert_service(cur, service_type=ServiceType.TRAIN.value, job_id=job.id,
                                              sub_job_id=sub.id, container_manager='process')
                      for _ in range(workers)]
                created.append((sub, adv, ws))
        ensure_job_redis_user(self.settings, self.r, ServiceType.TRAIN.value, job.id)
        return job, created

    def start(self, service, replica: int = 0) -> subprocess.Popen:
        env = {'PATH': os.environ['PATH'], 'HOME': os.environ.get('HOME', '/tmp'),
               'SINGA_REPLICA_INDEX': str(replica)}
        env.update(self.deployer.environment(service))
        env['SINGA_STORAGE_DIR'] = self.settings.storage_dir
        role = 'advisor' if service.service_type == ServiceType.ADVISOR else 'train'
        log = open(os.path.join(self.log_dir, f'{role}-{str(service.id)[:8]}-{replica}.log'), 'ab')
        proc = subprocess.Popen([sys.executable, '-m', 'singa.workers', role], env=env, cwd=self.log_dir,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.setdefault(str(service.id), []).append(proc)
        return proc

    def logs(self) -> str:
        out = []
        for name in sorted(os.listdir(self.log_dir)):
            if name.endswith('.log'):
                with open(os.path.join(self.log_dir, name), errors='replace') as f:
                    out.append(f'--- {name}\n{f.read()[-4000:]}')
        return '\n'.join(out)

    def wait_job(self, job_id, timeout: float, statuses=('STOPPED', 'ERRORED')):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.store.transaction() as cur:
                job = train_jobs.get_train_job(cur, job_id)
            if job.status in statuses:
                return job
            time.sleep(0.1)
        raise AssertionError(f'job still {job.status} after {timeout} s\n{self.logs()}')

    def close(self):
        for procs in self.procs.values():
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.wait()
