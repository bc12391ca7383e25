import json
import os

import keras
import tensorflow as tf


class DeviceError(RuntimeError):
    """The requested target (gpu, tpu) is not available on this machine, or TF_CONFIG is malformed."""


def cluster_tasks():
    """The tasks of the multi-worker cluster that $TF_CONFIG describes, as (type, index) pairs, and
    this process's own; ([], None) without TF_CONFIG. Read as plain JSON: no TensorFlow op runs."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        cluster = config.get("cluster", {})
        tasks = [(kind, i) for kind in ("chief", "worker") for i in range(len(cluster.get(kind, ())))]
        task = config.get("task")
        own = (task["type"], int(task["index"])) if task else None
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise DeviceError(f"TF_CONFIG is not a TensorFlow cluster description ({error!r})") from None
    if tasks and own not in tasks:
        raise DeviceError(f"TF_CONFIG's task {own} is not one of its cluster's: {tasks}")
    return tasks, own


def is_chief():
    """Whether this process writes the run's files: every process, but among several workers only the
    chief (the "chief" task where TF_CONFIG names one, else worker 0)."""
    tasks, own = cluster_tasks()
    return len(tasks) < 2 or own == tasks[0]


def multi_worker_strategy(target, tasks):
    """A MultiWorkerMirroredStrategy over TF_CONFIG's cluster, one replica per worker (its GPU, or its CPU).

    TensorFlow must not have run an op yet (the strategy configures the runtime's collectives), and
    every worker must call this: each waits for the others, and each step adds up all their gradients.
    """
    if target == "tpu":
        raise DeviceError("target tpu: a TF_CONFIG cluster of several workers trains on CPUs or GPUs; "
                          "unset TF_CONFIG to train on one TPU host")
    gpus = tf.config.list_physical_devices("GPU")
    if target == "gpu" and not gpus:
        raise DeviceError("target gpu: TensorFlow sees no GPU on this worker; use target cpu or auto")
    if target == "cpu" and gpus:
        tf.config.set_visible_devices([], "GPU")
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except (ValueError, RuntimeError) as error:  # e.g. TensorFlow had already started in this process
        raise DeviceError(f"cannot join the TF_CONFIG cluster of {len(tasks)} workers: {error}") from None


def distribution_strategy(target, cluster=True):
    """The tf.distribute strategy every target trains in: the same training code runs on each.

    auto: every GPU there is (one: OneDeviceStrategy, several: MirroredStrategy), else the
    default strategy on the CPU; cpu: the CPU even where there are GPUs; gpu: as auto, but
    without a GPU it is an error; tpu: a TPUStrategy on the TPU that TPUClusterResolver finds
    (a TPU VM's own, or the one named by $TPU_NAME). Where $TF_CONFIG names a cluster of several
    workers, a MultiWorkerMirroredStrategy over them (see multi_worker_strategy); with `cluster`
    false, TF_CONFIG is not read (predictions need no other worker).
    """
    if keras.backend.backend() != "tensorflow":  # Keras was imported before this program set KERAS_BACKEND
        raise DeviceError(
            f"Keras runs on {keras.backend.backend()} in this process; this program needs KERAS_BACKEND=tensorflow"
        )
    tasks, _ = cluster_tasks() if cluster else ([], None)
    if len(tasks) > 1:
        return multi_worker_strategy(target, tasks)
    if target == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ.get("TPU_NAME", "local"))
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.OpError) as error:
            reason = str(error).strip().splitlines()[0].split(". ")[0].rstrip(".")
            raise DeviceError(
                f"target tpu: TensorFlow found no TPU on this machine ({reason}); use target cpu or auto "
                "(nndsl's -t, or TARGET in the generated program)"
            ) from None
        return tf.distribute.TPUStrategy(resolver)
    gpus = tf.config.list_physical_devices("GPU")
    if target == "gpu" and not gpus:
        raise DeviceError(
            "target gpu: TensorFlow sees no GPU on this machine (no CUDA GPU or driver, or a CPU-only "
            "TensorFlow build such as tensorflow-cpu); use target cpu or auto (nndsl's -t, or TARGET in "
            "the generated program)"
        )
    if target == "cpu" and gpus:
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    if gpus:
        return tf.distribute.OneDeviceStrategy("/gpu:0")
    return tf.distribute.get_strategy()  # the default strategy: one replica, this machine's CPU


def data_device(strategy):
    """Where the training set lives: beside the model when one device trains it, else on the host."""
    if isinstance(strategy, tf.distribute.OneDeviceStrategy):
        return strategy.extended.worker_devices[0]
    return "/cpu:0"


def replica_share(*tensors):
    """This replica's consecutive share of a batch's rows: all of them when one replica trains.

    Equal shares of a batch of static size keep a static shape, as XLA on a TPU needs.
    """
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync
    if replicas == 1:
        return tensors
    index = context.replica_id_in_sync_group
    n = tensors[0].shape[0]
    if n is not None and n % replicas == 0:
        size = n // replicas
        return tuple(tf.slice(t, [index * size] + [0] * (t.shape.rank - 1), [size] + [-1] * (t.shape.rank - 1))
                     for t in tensors)
    n = tf.shape(tensors[0])[0]
    begin, end = n * index // replicas, n * (index + 1) // replicas
    return tuple(tensor[begin:end] for tensor in tensors)
