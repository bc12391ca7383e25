"""Hand-written PyTorch reference: the MLP and training loop an experienced PyTorch user writes.

* ``nn.Sequential`` of ``nn.Linear`` / ``nn.ReLU``; the output layer emits logits and the loss
  is ``nn.BCEWithLogitsLoss`` (one unit) or ``nn.CrossEntropyLoss`` (several), which fuse the
  sigmoid / softmax for stability.
* ``torch.optim.SGD`` (no momentum); ``zero_grad(set_to_none=True)``.
* The whole data set is materialised on the device once, as float32 (and int64 / float32
  labels); each epoch gathers the shuffled set once, then the batches are views (``split``) —
  no DataLoader, no per-batch host copies. The epoch's permutation is drawn from nndsl's NumPy
  shuffle stream rather than ``torch.randperm``, so the batches are the generated trainer's and
  the losses can be compared; drawing it costs well under a millisecond per epoch.
* No host synchronisation per batch: loss sums and correct counts accumulate in device
  tensors and are read once per epoch.
* Validation: one forward pass over the validation set under ``torch.inference_mode()``.

nn.Linear stores its weight as (out_features, in_features), nndsl's layout, so weights move
in and out unchanged.

``TorchCNN`` is the same loop around ``nn.Conv2d`` / ``nn.ReLU`` / ``nn.MaxPool2d`` layers, an
``nn.Flatten`` and the Linear layers, computing in NCHW, PyTorch's own layout: the NHWC images are
permuted once when they are materialised, and the weights are translated once on the way in and
out (a conv kernel (filters, kh, kw, c_in) → (filters, c_in, kh, kw); the first Linear's columns
from nndsl's (h, w, c) flatten order to NCHW's (c, h, w)).

``TorchResidualMLP`` / ``TorchResidualCNN`` (the resmlp and rescnn workloads) are the same loop
around an ``nn.Sequential`` of ``ResidualBlock`` modules, ``relu(second(relu(first(x))) + shortcut(x))``,
as torchvision writes its BasicBlock; a stride-2 3x3 conv with padding=same gets Keras' asymmetric
padding from an ``nn.ZeroPad2d`` (``nn.Conv2d`` refuses padding="same" with a stride), global
average pooling is ``nn.AdaptiveAvgPool2d(1)``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bench.workloads import conv_shapes, initial_weights, same_padding, shuffle_stream


def make_model(layers) -> nn.Sequential:
    """Linear/ReLU layers for the widths `layers`; the last Linear outputs logits."""
    modules = []
    pairs = list(zip(layers[:-1], layers[1:], strict=True))
    for index, (n_in, n_out) in enumerate(pairs):
        modules.append(nn.Linear(n_in, n_out))
        if index < len(pairs) - 1:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


class TorchMLP:
    """Trains a ReLU MLP with SGD on (x_train, y_train), validating on (x_val, y_val) after each epoch.

    Args:
        layers: widths from the input to the output.
        weights: [(W, b), …] per layer as NumPy arrays, W of shape (units, inputs).
        batch, lr: mini-batch size and SGD learning rate.
        seed: the training seed; each epoch's order comes from nndsl's shuffle stream for it.
        device: 'cpu' or 'cuda'.
        optimizer_options: extra keyword arguments for torch.optim.SGD (e.g. foreach=True).
    """

    def __init__(self, x_train, y_train, x_val, y_val, layers, weights, batch, lr, seed=1, device="cpu",
                 optimizer_options=None):
        self.device = torch.device(device)
        self.binary = layers[-1] == 1
        self.model = self._make_model(layers).to(self.device)
        self.set_weights(weights)
        self.loss_fn = nn.BCEWithLogitsLoss() if self.binary else nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr, **(optimizer_options or {}))
        self.x_train, self.y_train = self._tensors(x_train, y_train)
        self.x_val, self.y_val = self._tensors(x_val, y_val)
        self.batch = int(batch)
        self.shuffle_rng = shuffle_stream(seed)
        self.history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}

    def _make_model(self, layers):
        return make_model(layers)

    def _tensors(self, x, y):
        x = torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device)
        if self.binary:
            y = torch.as_tensor(np.asarray(y, dtype=np.float32).reshape(-1, 1), device=self.device)
        else:
            y = torch.as_tensor(np.asarray(y, dtype=np.int64), device=self.device)
        return x, y

    def _correct(self, logits, y):
        """The number of correct predictions, as a device tensor."""
        if self.binary:
            return ((logits > 0) == (y > 0.5)).sum()
        return (logits.argmax(dim=1) == y).sum()

    def train_epoch(self):
        """One epoch over the reshuffled training set; returns the mean loss and accuracy (one host sync)."""
        model, loss_fn, optimizer = self.model, self.loss_fn, self.optimizer
        model.train()
        n = len(self.x_train)
        order = torch.from_numpy(self.shuffle_rng.permutation(n)).to(self.device)
        x_epoch, y_epoch = self.x_train[order], self.y_train[order]
        total_loss = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        for x, y in zip(x_epoch.split(self.batch), y_epoch.split(self.batch), strict=True):
            logits = model(x)
            loss = loss_fn(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += loss.detach() * len(x)
            correct += self._correct(logits.detach(), y)
        return total_loss.item() / n, correct.item() / n

    @torch.inference_mode()
    def evaluate(self):
        """Mean loss and accuracy on the validation set, in one forward pass."""
        self.model.eval()
        logits = self.model(self.x_val)
        loss = self.loss_fn(logits, self.y_val)
        return loss.item(), self._correct(logits, self.y_val).item() / len(self.x_val)

    def fit(self, epochs):
        """Train `epochs` more epochs; returns the history (Keras's keys, one entry per epoch)."""
        for _ in range(epochs):
            loss, accuracy = self.train_epoch()
            val_loss, val_accuracy = self.evaluate()
            for key, value in zip(self.history, (loss, accuracy, val_loss, val_accuracy), strict=True):
                self.history[key].append(value)
        return self.history

    def set_weights(self, weights):
        """Load [(W, b), …] (NumPy, W as (units, inputs): nn.Linear's own layout)."""
        linears = [m for m in self.model if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for linear, (W, b) in zip(linears, weights, strict=True):
                linear.weight.copy_(torch.as_tensor(np.asarray(W, dtype=np.float32)))
                linear.bias.copy_(torch.as_tensor(np.asarray(b, dtype=np.float32)))

    def get_weights(self):
        linears = [m for m in self.model if isinstance(m, nn.Linear)]
        return [(m.weight.detach().cpu().numpy().copy(), m.bias.detach().cpu().numpy().copy()) for m in linears]

    def first_step_loss(self, x, y):
        """The loss of one training step on the batch (x, y), before its update (for cross-checks)."""
        x, y = self._tensors(x, y)
        loss = self.loss_fn(self.model(x), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()


def make_cnn(image, convs, layers) -> nn.Sequential:
    """Conv2d/ReLU/MaxPool2d per conv (NCHW), Flatten, then the Linear/ReLU layers of `layers`."""
    modules, channels = [], image[2]
    for conv in convs:
        modules += [nn.Conv2d(channels, conv.filters, conv.kernel), nn.ReLU(), nn.MaxPool2d(conv.pool)]
        channels = conv.filters
    return nn.Sequential(*modules, nn.Flatten(), *make_model(layers))


class TorchCNN(TorchMLP):
    """TorchMLP's training loop around conv → ReLU → max-pool layers, a flatten and the dense layers.

    Args:
        convs: the conv layers (bench.workloads.Conv: filters, kernel, pool), valid, stride 1.
        layers: the dense widths after the flatten, from the flattened width to the classes.
        weights: [(W, b), …] in nndsl's layouts, the convs' first (W as (filters, kh, kw, c_in)).
        The rest as TorchMLP's; x is (n, h, w, c), as the data files hold it.
    """

    def __init__(self, x_train, y_train, x_val, y_val, convs, layers, weights, batch, lr, seed=1, device="cpu",
                 optimizer_options=None):
        self.convs, self.image = tuple(convs), tuple(np.shape(x_train)[1:])
        self.pooled = conv_shapes(self.image, self.convs)[-1].pooled  # (h, w, c) into the flatten
        super().__init__(x_train, y_train, x_val, y_val, layers, weights, batch, lr, seed, device, optimizer_options)

    def _make_model(self, layers):
        return make_cnn(self.image, self.convs, layers)

    def _tensors(self, x, y):
        x, y = super()._tensors(x, y)
        return x.permute(0, 3, 1, 2).contiguous(), y  # NHWC → NCHW, once

    def _parametrised(self):
        return [m for m in self.model if isinstance(m, (nn.Conv2d, nn.Linear))]

    def _flatten_order(self, W, to_torch):
        """The first Linear's columns between nndsl's (h, w, c) order and NCHW's (c, h, w)."""
        h, w, c = self.pooled
        if to_torch:
            return W.reshape(-1, h, w, c).transpose(0, 3, 1, 2).reshape(len(W), -1)
        return W.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(len(W), -1)

    def set_weights(self, weights):
        """Load [(W, b), …] in nndsl's layouts, translated to torch's."""
        modules = self._parametrised()
        with torch.no_grad():
            for index, (module, (W, b)) in enumerate(zip(modules, weights, strict=True)):
                W = np.asarray(W, dtype=np.float32)
                if W.ndim == 4:
                    W = W.transpose(0, 3, 1, 2)  # (filters, kh, kw, c_in) → (filters, c_in, kh, kw)
                elif index == len(self.convs):
                    W = self._flatten_order(W, to_torch=True)
                module.weight.copy_(torch.as_tensor(np.ascontiguousarray(W)))
                module.bias.copy_(torch.as_tensor(np.asarray(b, dtype=np.float32)))

    def get_weights(self):
        weights = []
        for index, module in enumerate(self._parametrised()):
            W = module.weight.detach().cpu().numpy()
            if W.ndim == 4:
                W = W.transpose(0, 2, 3, 1)
            elif index == len(self.convs):
                W = self._flatten_order(W, to_torch=False)
            weights.append((np.ascontiguousarray(W), module.bias.detach().cpu().numpy().copy()))
        return weights


class ResidualBlock(nn.Module):
    """y = relu(f(x) + shortcut(x)) with f = second(relu(first(x))); the shortcut is the identity
    unless a layer is given (where the block changes the width or the image size)."""

    def __init__(self, first: nn.Module, second: nn.Module, shortcut: nn.Module | None = None):
        super().__init__()
        self.first, self.second, self.shortcut = first, second, shortcut

    def forward(self, x):
        identity = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(self.second(torch.relu(self.first(x))) + identity)


def residual_mlp(inputs, width, blocks, classes) -> nn.Sequential:
    """Linear + ReLU, a ResidualBlock of two Linear layers per block, the output Linear (logits)."""
    modules, units_in = [nn.Linear(inputs, width), nn.ReLU()], width
    for block in blocks:
        shortcut = nn.Linear(units_in, block.units) if block.units != units_in else None
        modules.append(ResidualBlock(nn.Linear(units_in, block.units), nn.Linear(block.units, block.units), shortcut))
        units_in = block.units
    return nn.Sequential(*modules, nn.Linear(units_in, classes))


def same_conv(c_in, c_out, size, stride=1) -> nn.Module:
    """A 3x3 conv with padding=same on a size × size image: nn.Conv2d's padding=1 for stride 1, else
    Keras' asymmetric padding (the odd cell after) as an nn.ZeroPad2d in front."""
    if stride == 1:
        return nn.Conv2d(c_in, c_out, 3, padding=1)
    _, before, after = same_padding(size, 3, stride)
    return nn.Sequential(nn.ZeroPad2d((before, after, before, after)), nn.Conv2d(c_in, c_out, 3, stride=stride))


def residual_cnn(image, width, blocks, classes) -> nn.Sequential:
    """NCHW: conv 3x3 same + ReLU, ResidualBlocks of two 3x3 same convs (a 1x1 strided conv as the
    shortcut where a block changes the channels or the size), global average pooling, Linear."""
    size, channels = image[0], width
    modules = [nn.Conv2d(image[2], width, 3, padding=1), nn.ReLU()]
    for block in blocks:
        shortcut = None
        if block.units != channels or block.stride != 1:
            shortcut = nn.Conv2d(channels, block.units, 1, stride=block.stride)
        first = same_conv(channels, block.units, size, block.stride)
        modules.append(ResidualBlock(first, nn.Conv2d(block.units, block.units, 3, padding=1), shortcut))
        size, channels = -(-size // block.stride), block.units
    return nn.Sequential(*modules, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes))


class TorchResidualMLP(TorchMLP):
    """TorchMLP's training loop around residual_mlp().

    Args:
        width, blocks, classes: the stem's units, bench.workloads.Block per block, the classes.
        weights: [(W, b), …] in the spec's order (nndsl's layouts). The rest as TorchMLP's.
    """

    def __init__(self, x_train, y_train, x_val, y_val, width, blocks, classes, weights, batch, lr, seed=1,
                 device="cpu", optimizer_options=None):
        self.width, self.blocks, self.image = width, tuple(blocks), tuple(np.shape(x_train)[1:])
        super().__init__(x_train, y_train, x_val, y_val, (self.image[-1], classes), weights, batch, lr, seed, device,
                         optimizer_options)

    def _make_model(self, layers):
        return residual_mlp(layers[0], self.width, self.blocks, layers[-1])

    def _parametrised(self):
        """The Linear and Conv2d modules in the spec's order (each block's first, second, shortcut)."""
        return [m for m in self.model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]

    def set_weights(self, weights):
        with torch.no_grad():
            for module, (W, b) in zip(self._parametrised(), weights, strict=True):
                W = np.asarray(W, dtype=np.float32)
                if W.ndim == 4:
                    W = W.transpose(0, 3, 1, 2)  # (filters, kh, kw, c_in) → (filters, c_in, kh, kw)
                module.weight.copy_(torch.as_tensor(np.ascontiguousarray(W)))
                module.bias.copy_(torch.as_tensor(np.asarray(b, dtype=np.float32)))

    def get_weights(self):
        weights = []
        for module in self._parametrised():
            W = module.weight.detach().cpu().numpy()
            weights.append((np.ascontiguousarray(W.transpose(0, 2, 3, 1) if W.ndim == 4 else W),
                            module.bias.detach().cpu().numpy().copy()))
        return weights


class TorchResidualCNN(TorchResidualMLP):
    """TorchResidualMLP for residual_cnn(), in NCHW: the NHWC images are permuted once."""

    def _make_model(self, layers):
        return residual_cnn(self.image, self.width, self.blocks, layers[-1])

    def _tensors(self, x, y):
        x, y = super()._tensors(x, y)
        return x.permute(0, 3, 1, 2).contiguous(), y


def train(x_train, y_train, x_val, y_val, layers, epochs, batch, lr, seed=1, weights=None, device="cpu"):
    """Train a fresh TorchMLP for `epochs` epochs (from `initial_weights(layers, seed)` unless
    `weights` are given); returns its history dict."""
    if weights is None:
        weights = initial_weights(tuple(layers), seed)
    return TorchMLP(x_train, y_train, x_val, y_val, layers, weights, batch, lr, seed, device).fit(epochs)
