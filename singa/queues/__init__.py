"""The two protocols that run over Redis. This package owns every key and every message:
``base`` the client, the keys and the job users; ``tuning`` the advisors' protocol with their
train workers; ``slots`` the job's cap on trials running at once; ``serving`` the predictors' with their inference workers. Import from here.

Redis is for coordination only: nothing here is the only copy of anything that matters. Every
message is a JSON object; every blocking pop has a timeout > 0 (a pop that would wait forever
is refused); there is no polling with sleeps.

Key families (``J`` a train job, ``S`` one of its sub-jobs, ``I`` an inference job)::

    singa:tj:J:S:inbox          list   messages to the advisor of sub-job S (workers, admin)
    singa:tj:J:S:out:<worker>   list   the advisor's replies to one train worker
    singa:tj:J:S:leases         zset   trial id -> lease expiry (unix seconds)
    singa:tj:J:S:cancelled      set    trials the advisor cancelled (their workers abandon them)
    singa:tj:J:S:done           string set once the sub-job has ended
    singa:tj:J:slot:<N>         string the worker holding trial slot N of the job (expires unless renewed; TrialSlots)
    singa:tj:J:slot_queue       zset   worker id -> ticket time: who awaits a trial slot, in order
    singa:tj:J:slot_alive:<W>   string worker W's ticket is live (expires unless renewed)
    singa:ij:I:config           string the inference job: deployed trials, ensemble, task, public flag
    singa:ij:I:keys             set    sha256 of each live prediction key
    singa:ij:I:trial:<T>        string what the replicas of deployed trial T load (template, knobs, params)
    singa:ij:I:q:<T>            list   query batches for the replicas of trial T (they share the queue)
    singa:ij:I:alive:<T>        zset   replica id -> heartbeat expiry
    singa:ij:I:predictors       zset   predictor id -> heartbeat expiry (renewed while it is healthy)
    singa:ij:I:r:<P>            list   the replies to predictor process P

Everything of a job lives under ``singa:tj:J:`` or ``singa:ij:I:``, so one Redis ACL pattern
scopes a job's workers to their own keys (``job_acl_rules``).

Every message is a class (a frozen dataclass) that owns its JSON form and checks it when it is
read: a malformed one is dropped, never half read.
"""
from singa.queues.base import (MAX_POP_SECONDS, PREFIX, REPLY_TTL_SECONDS, SOCKET_TIMEOUT_SECONDS, decode,
                               delete_job_user, delete_keys, encode, ensure_job_user, inference_job_prefix,
                               job_acl_rules, list_lengths, make_redis, ping, train_job_prefix,
                               translate_redis_errors)
from singa.queues.slots import TrialSlots
from singa.queues.serving import Batch, Reply, ServedTrial, ServingChannel, ServingConfig, TrialSpec
from singa.queues.tuning import (BudgetChanged, Bye, Finished, Hello, JobSpec, Logs, Propose, Report, ReportReply, Stop,
                                 StopSubJob, TrialAssignment, TrialResult, TuningChannel, TuningMessage,
                                 Wait, WorkerLost, new_worker_id, stop_advisors, tell_advisors_budget_changed,
                                 worker_task)

__all__ = ['MAX_POP_SECONDS', 'PREFIX', 'REPLY_TTL_SECONDS', 'SOCKET_TIMEOUT_SECONDS', 'decode', 'delete_job_user',
           'delete_keys', 'encode', 'ensure_job_user', 'inference_job_prefix', 'job_acl_rules', 'list_lengths',
           'make_redis', 'ping', 'train_job_prefix', 'translate_redis_errors',
           'Batch', 'Reply', 'ServedTrial', 'ServingChannel', 'ServingConfig', 'TrialSpec',
           'BudgetChanged', 'Bye', 'Finished', 'Hello', 'JobSpec', 'Logs', 'Propose', 'Report', 'ReportReply', 'Stop', 'StopSubJob',
           'TrialAssignment', 'TrialResult', 'TrialSlots', 'TuningChannel', 'TuningMessage', 'Wait', 'WorkerLost',
           'new_worker_id', 'stop_advisors', 'tell_advisors_budget_changed', 'worker_task']
