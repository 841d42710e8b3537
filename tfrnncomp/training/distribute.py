"""tf.distribute strategies for ``tfrnncomp train`` (one code path for 1 or N devices/hosts).

``make_strategy(name)`` returns the strategy; ``train`` builds and compiles the model inside
``strategy.scope()`` and hands ``model.fit`` a dataset batched by the GLOBAL batch size, which
Keras splits over the replicas.  The same path serves a ``tf.distribute.TPUStrategy``.

* ``default``: no distribution (one device).
* ``mirrored``: ``MirroredStrategy`` over the local GPUs, or over the local logical CPU devices
  when there is no GPU (split the CPU with ``configure_cpu_devices`` to try it on one machine).
* ``multi_worker``: ``MultiWorkerMirroredStrategy`` over the hosts named in ``TF_CONFIG``.  Only
  the chief writes into the run directory; the other workers write into a scratch directory
  that is emptied before and after the run, and adopt the chief's restored state on start.

TensorFlow is imported lazily so that the CLI can reject a bad ``--strategy`` at once.
"""

import hashlib
import json
import os
import shutil
import tempfile

from tfrnncomp.errors import ConfigError

STRATEGIES = ("default", "mirrored", "multi_worker")


def _tf():
    import tensorflow as tf

    return tf


def _tensorflow_backend():
    import keras

    return keras.backend.backend() == "tensorflow"


def replicas_in_sync():
    """Replicas of the ``tf.distribute`` replica context (1 outside one, and on other backends)."""
    if not _tensorflow_backend():
        return 1
    context = _tf().distribute.get_replica_context()  # None in a cross-replica context
    return context.num_replicas_in_sync if context is not None else 1


def replica_share(draw, shape):
    """``draw(shape)``, or under ``tf.distribute`` this replica's slice of one draw for the global
    batch: the seed state is copied to every replica, so independent draws would repeat the same
    values on each replica."""
    replicas = replicas_in_sync()
    if replicas <= 1:
        return draw(shape)
    full = draw((shape[0] * replicas,) + tuple(shape[1:]))
    start = _tf().distribute.get_replica_context().replica_id_in_sync_group * shape[0]
    return full[start:start + shape[0]]


def check_strategy(name):
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}; use one of {', '.join(STRATEGIES)}")
    return name


def configure_cpu_devices(count):
    """Split the first CPU into ``count`` logical devices (before TensorFlow initialises them)."""
    import tensorflow as tf

    if int(count) != count or count < 1:
        raise ConfigError(f"--cpu-devices must be a positive integer, got {count!r}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(int(count))])
    except RuntimeError:
        raise ConfigError("--cpu-devices must be set before TensorFlow initialises its "
                          "devices") from None


def _check_tf_config():
    text = os.environ.get("TF_CONFIG", "")
    try:
        spec = json.loads(text) if text else None
    except ValueError:
        spec = None
    cluster = spec.get("cluster") if isinstance(spec, dict) else None
    task = spec.get("task") if isinstance(spec, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict) or "type" not in task:
        raise ConfigError("--strategy multi_worker needs TF_CONFIG, e.g. "
                          '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                          '"task": {"type": "worker", "index": 0}}')


def make_strategy(name="default"):
    """The ``tf.distribute.Strategy`` called ``name`` (one of :data:`STRATEGIES`)."""
    import tensorflow as tf

    check_strategy(name)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    _check_tf_config()
    return tf.distribute.MultiWorkerMirroredStrategy()


def task_of(strategy):
    """``(task_type, task_id)`` of this process, ``(None, None)`` outside a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return None, None
    return resolver.task_type, resolver.task_id


def is_chief(strategy):
    """True on the process that owns the run directory: the chief, or worker 0 if none."""
    task_type, task_id = task_of(strategy)
    if task_type is None or task_type == "chief":
        return True
    cluster = strategy.cluster_resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and "chief" not in cluster


def write_dir(run_dir, strategy):
    """Where this process writes checkpoints and logs: ``run_dir`` on the chief, else scratch.

    The scratch directory has a fixed name per (run directory, task), so a restarted worker
    does not leave a new one behind each time; ``train`` empties it before and after a run.
    """
    if is_chief(strategy):
        return run_dir
    task_type, task_id = task_of(strategy)
    digest = hashlib.sha256(os.path.abspath(run_dir).encode("utf-8")).hexdigest()[:12]
    return os.path.join(tempfile.gettempdir(), f"tfrnncomp-{digest}-{task_type}{task_id}")


def num_workers(strategy):
    """Hosts in the cluster (1 outside a multi-worker cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, _tf().distribute.MultiWorkerMirroredStrategy):
        return 1
    spec = resolver.cluster_spec()
    return sum(len(spec.job_tasks(job)) for job in ("chief", "worker") if job in spec.jobs) or 1


def global_mean_logs(model, strategy):
    """Work around Keras 3 ``fit`` failing under a multi-worker strategy (tensorflow#72388).

    Keras reduces ``train_step``'s outputs with ``strategy.reduce("MEAN", v, axis=0)``, which
    fails on scalars ("Invalid reduction dimension 0 for input with 0 dimensions").  Returned as
    shape ``[1]``, each replica's metric (its running mean over its equal share of the batches)
    is averaged over axis 0 and over the replicas: the global mean, as a scalar again.
    """
    from tfrnncomp.training.fit_hooks import map_step_logs

    if num_workers(strategy) < 2:
        return model
    tf = _tf()
    return map_step_logs(model, lambda logs: {name: tf.reshape(value, [1])
                                              for name, value in logs.items()})


def clear_dir(path):
    shutil.rmtree(path, ignore_errors=True)


def shard_by_data(dataset):
    """Every worker reads the whole stream and keeps its share of each global batch.

    Patches come from a seeded random stream, not from files, so file sharding does not apply;
    with ``--seed`` the workers' streams are identical and the global batch is the one a single
    worker would see.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def broadcast_from_chief(strategy, variables):
    """Give every (Keras) variable, on every worker, the chief's value: one all-reduce.

    Replica 0 is on the chief; the others contribute zeros, so the sum is exact.  Integer
    variables (the optimizer's step, seed states) travel as float64, exact below 2**53.
    """
    import tensorflow as tf

    variables = list(variables)
    if not variables:
        return
    dtypes = [tf.as_dtype(v.dtype) for v in variables]
    wire = [d if d in (tf.float32, tf.float64) else tf.float64 for d in dtypes]
    # the same order on every worker
    groups = [[i for i, x in enumerate(wire) if x == w] for w in (tf.float32, tf.float64)]
    groups = [indices for indices in groups if indices]

    def replica_fn():
        context = tf.distribute.get_replica_context()
        first = tf.equal(context.replica_id_in_sync_group, 0)
        values = [tf.cast(tf.convert_to_tensor(v.value), w) for v, w in zip(variables, wire)]
        values = [tf.where(first, x, tf.zeros_like(x)) for x in values]
        out = [None] * len(values)
        for indices in groups:  # one all-reduce per dtype (collectives pack tensors)
            summed = context.all_reduce(tf.distribute.ReduceOp.SUM, [values[i] for i in indices])
            for i, value in zip(indices, summed):
                out[i] = value
        return out

    reduced = tf.function(lambda: strategy.run(replica_fn))()
    for variable, value, dtype in zip(variables, reduced, dtypes):
        variable.assign(tf.cast(strategy.experimental_local_results(value)[0], dtype))
