import os

import keras
import tensorflow as tf


class DeviceError(RuntimeError):
    """The requested target (gpu, tpu) is not available on this machine."""


def distribution_strategy(target):
    """The tf.distribute strategy every target trains in: the same training code runs on each.

    auto: every GPU there is (one: OneDeviceStrategy, several: MirroredStrategy), else the
    default strategy on the CPU; cpu: the CPU even where there are GPUs; gpu: as auto, but
    without a GPU it is an error; tpu: a TPUStrategy on the TPU that TPUClusterResolver finds
    (a TPU VM's own, or the one named by $TPU_NAME).
    """
    if keras.backend.backend() != "tensorflow":  # Keras was imported before this program set KERAS_BACKEND
        raise DeviceError(
            f"Keras runs on {keras.backend.backend()} in this process; this program needs KERAS_BACKEND=tensorflow"
        )
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
