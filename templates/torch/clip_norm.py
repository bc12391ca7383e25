import torch


@torch.no_grad()
def clip_global_norm(params, max_norm):
    """Scale the gradients by min(1, max_norm/‖g‖), ‖g‖ the norm of all of them together (one
    vector), on the device without waiting for it. torch's clip_grad_norm_ divides by ‖g‖ + 1e-6;
    this is the definition the NumPy and TensorFlow programs use too."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = torch.clamp(max_norm / norm, max=1.0)
    for g in grads:
        g.mul_(scale)
