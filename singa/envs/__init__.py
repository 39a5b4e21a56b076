"""Template environments: the packages a template's declared ``dependencies`` add to the platform.

A template that needs packages the platform does not ship (xgboost, lightgbm, ...) declares them
at upload. They are installed into an *environment* of their own, never into the platform's:

- **where**: ``<storage>/envs/<key>/``, a pip prefix on the shared storage, keyed by the
  normalised requirements and the platform they are added to (``singa.envs.store``), built once
  under a lock and shared by every template that declares the same set;
- **how** (``singa.envs.build.prepare_env``, at upload): wheels are resolved and downloaded by
  pip in the admin (binary wheels only: no package code runs while resolving), then installed
  with pip inside the template's sandbox with no network (``singa.envs.sandboxes``); only what
  the platform lacks lands in the environment, and nothing may replace a platform package;
- **use**: the template records the key; its check, train workers and inference workers get the
  environment read-only, on the model code's path after the platform's own packages
  (``BaseSandbox.spawn(..., env=...)``), and a worker refuses an environment that is missing or
  incomplete (``template_env``).
"""
from singa.envs.build import prepare_env
from singa.envs.store import EnvStore, TemplateEnv, template_env

__all__ = ['prepare_env', 'EnvStore', 'TemplateEnv', 'template_env']
