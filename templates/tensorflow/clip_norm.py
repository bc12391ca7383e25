import tensorflow as tf


def clip_global_norm(gradients, max_norm):
    """Scale the gradients by min(1, max_norm/‖g‖), ‖g‖ the norm of all of them together (one
    vector), as the NumPy and PyTorch programs do. With several replicas ‖g‖ is that of the sum
    the optimizer applies, and each replica scales its part by the same factor."""
    context = tf.distribute.get_replica_context()
    total = gradients
    if context.num_replicas_in_sync > 1:
        total = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    scale = tf.minimum(1.0, max_norm / tf.linalg.global_norm(total))
    return [gradient * scale for gradient in gradients]
