"""Hand-written NumPy references for the residual workloads (resmlp, rescnn), written for speed.

The same habits as hand_numpy.py (float32, every buffer allocated once per batch size, ``out=``
everywhere, ReLU in place, the learning rate folded into ∂L/∂logits, each layer updated as soon as
its gradients exist, bias gradients as 1ᵀ·dz, the same epoch loop: ``EpochLoop``), and for the
residual blocks what an expert writes:

* **the add in place**: a block's second layer is linear, and its z is read by nothing but the
  add, so s = z + x overwrites z (``z += x``), and the block's ReLU overwrites s in turn: a block
  costs one pass over its output for the add and one for the ReLU, and no buffer of its own;
* **the gradient sum in place**: ∂L/∂s (the block's output gradient through its ReLU) flows to
  both the second layer and, unchanged, to the block's input (∂s/∂x = 1: no copy); the input's
  gradient from the layers' path is written by the first layer's product, and the identity
  path's part is added onto it, ``dx += ds``: one pass.

``NumpyResidualCNN`` on top: every activation that a 3x3 convolution reads lives in the interior of
a zero-bordered buffer, one cell wider on each side, and the ReLU before it writes straight into
that interior, so padding=same costs no copy; a stride-2 conv whose padding is (0, 1) reads the
same buffer one cell in. Patches are copied once per step from an ``as_strided`` view and kept for
∂L/∂W (with one input channel one row per weight, as in ``NumpyCNN``); ∂L/∂x is one product
dz·W and nine strided adds into a padded gradient buffer, whose interior is ∂L/∂x. Where the
block's input also takes the identity path, that buffer's interior **starts** from ∂L/∂s (a copy
where a zero fill would be needed anyway: the gradient sum costs nothing); with a 1x1 strided
conv shortcut its ∂L/∂x is copied into the cells the shortcut read, after the fill. Global average
pooling sums each channel; its backward is one broadcast multiply with ReLU′.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from numpy.lib.stride_tricks import as_strided

from bench import hand_numpy
from bench.hand_numpy import EpochLoop, softmax_loss
from bench.workloads import same_padding, shuffle_stream


class ResidualTrainer(EpochLoop):
    """What both references share: parameters, data, the update, evaluation and the gradient check."""

    def __init__(self, x_train, y_train, x_val, y_val, width, blocks, classes, weights, batch, lr, seed=1,
                 dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.width, self.blocks, self.classes = int(width), tuple(blocks), int(classes)
        self.W = [np.array(W, dtype=self.dtype, order="C") for W, _ in weights]
        self.b = [np.array(b, dtype=self.dtype) for _, b in weights]
        self.dW = [np.empty_like(W) for W in self.W]
        self.db = [np.empty_like(b) for b in self.b]
        self.x_train = np.ascontiguousarray(x_train, dtype=self.dtype)
        self.x_val = np.ascontiguousarray(x_val, dtype=self.dtype)
        self.t_train, self.t_val = (np.ascontiguousarray(y, dtype=np.intp) for y in (y_train, y_val))
        self.batch, self.lr = int(batch), float(lr)
        self.rng = shuffle_stream(seed)
        self.by_batch = self.x_train.nbytes + self.t_train.nbytes > hand_numpy.GATHER_BY_BATCH_BYTES
        self._buffers = {}
        self.history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}

    def _gather_buffers(self, n):
        """The batch buffers EpochLoop gathers into when the training set is large."""
        return dict(x=np.empty((n, *self.x_train.shape[1:]), self.dtype) if self.by_batch else None,
                    t=np.empty(n, self.t_train.dtype) if self.by_batch else None,
                    ones=np.ones(n, self.dtype), rows=np.arange(n))

    def _update(self, i):
        self.W[i] -= self.dW[i]  # dW already carries the learning rate
        self.b[i] -= self.db[i]

    def train_batch(self, x, t, buf, scale):
        loss, correct = softmax_loss(self._forward(x, buf), t, buf.rows, buf.dz, scale)
        self._backward(x, buf, update=True)
        return loss, correct

    def evaluate(self):
        """Mean loss and accuracy on the validation set, a batch at a time (the training buffers)."""
        total_loss, total_correct, n = 0.0, 0, len(self.x_val)
        for start in range(0, n, self.batch):
            x, t = self.x_val[start : start + self.batch], self.t_val[start : start + self.batch]
            buf = self._buffers_for(len(x))
            loss, correct = softmax_loss(self._forward(x, buf), t, buf.rows, None, None)
            total_loss, total_correct = total_loss + loss, total_correct + correct
        return total_loss / n, total_correct / n

    def loss_and_gradients(self, x, y):
        """The mean loss on (x, y) and the true gradients [(dW, db), …]; no update."""
        x = np.ascontiguousarray(x, dtype=self.dtype)
        buf = self._buffers_for(len(x))
        loss, _ = softmax_loss(self._forward(x, buf), np.asarray(y, np.intp), buf.rows, buf.dz, 1.0 / len(x))
        self._backward(x, buf, update=False)
        return loss / len(x), [(dW.copy(), db.copy()) for dW, db in zip(self.dW, self.db, strict=True)]

    def get_weights(self):
        return [(W.copy(), b.copy()) for W, b in zip(self.W, self.b, strict=True)]


def residual_add(z, x):
    """s = z + x over z: the block's linear layer's z is read by nothing but this add."""
    z += x
    return z


def sum_of_paths(dx, ds):
    """∂L/∂x = the layers' path (dx) + the identity's (∂L/∂s as it is), summed in place in dx."""
    dx += ds
    return dx


def start_from_identity(dx_full, ds):
    """A padded ∂L/∂x buffer whose interior starts as the identity path's ∂L/∂s (border zero): the
    conv's nine strided adds then sum the other path onto it, in place of a zero fill."""
    np.copyto(dx_full[:, 1:-1, 1:-1], ds)
    dx_full[:, 0], dx_full[:, -1], dx_full[:, :, 0], dx_full[:, :, -1] = 0, 0, 0, 0
    return dx_full


def start_from_shortcut(dx_full, rows, stride):
    """The strided 1x1 shortcut's ∂L/∂x rows copied onto the cells it read, in a zeroed padded buffer."""
    n, oh, ow, _ = rows.shape
    np.copyto(dx_full[:, 1 : 1 + stride * oh : stride, 1 : 1 + stride * ow : stride], rows)
    return dx_full


def relu_gradient(d, a, mask):
    """d ← d · relu′, read off the ReLU's output a (positive exactly where its input was), in place."""
    np.greater(a, 0, out=mask)
    return np.multiply(d, mask, out=d)


class NumpyResidualMLP(ResidualTrainer):
    """Trains input → dense relu → blocks relu(x + dense(dense relu(x))) → dense softmax with SGD.

    Args:
        width: the stem's units; every block keeps them (identity shortcuts only).
        blocks: bench.workloads.Block per residual block.
        classes: the output's units.
        weights: [(W, b), …] in the spec's order (stem, each block's two layers, output), W as
            (units, inputs); copied.
        batch, lr, seed, dtype: as NumpyMLP's. Labels are integer classes.

    The products take the form NumpyMLP chooses for the same shapes: the column form where most
    multiply-adds are in layers wider than the batch (resmlp: 256 units, batch 128).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if any(block.units != self.width or block.stride != 1 for block in self.blocks):
            raise ValueError(f"NumpyResidualMLP adds each block's input as it is: every block needs "
                             f"units={self.width}, stride 1. Received: blocks={self.blocks}")
        sizes = [(W.size, W.shape[0]) for W in self.W]
        self.columns = 2 * sum(size for size, units in sizes if units > self.batch) > sum(s for s, _ in sizes)
        self.order = "F" if self.columns else "C"

    def _buffers_for(self, n):
        """a[0] the stem's output, a[k] block k's (its second layer's z, then the sum, then the ReLU,
        in place), h[k] its first layer's; two ∂L/∂a buffers that take turns, and ∂L/∂h."""
        if n not in self._buffers:
            def rows(width, dtype=self.dtype):
                return np.empty((n, width), dtype, order=self.order)

            blocks = len(self.blocks)
            self._buffers[n] = SimpleNamespace(
                a=[rows(self.width) for _ in range(blocks + 1)],
                h=[rows(self.width) for _ in range(blocks)],
                z=rows(self.classes), dz=rows(self.classes),
                da=[rows(self.width), rows(self.width)], dh=rows(self.width),
                mask=rows(self.width, np.bool_),
                zeros=np.zeros((n, self.width), self.dtype, order=self.order),
                **self._gather_buffers(n),
            )
        return self._buffers[n]

    def _dense(self, i, a, out):
        """z = a·Wᵢᵀ + bᵢ into out (in the column form zᵀ = Wᵢ·aᵀ)."""
        if self.columns:
            np.matmul(self.W[i], a.T, out=out.T)
        else:
            np.matmul(a, self.W[i].T, out=out)
        out += self.b[i]
        return out

    def _dense_backward(self, i, dz, a, buf, dx, update):
        """∂L/∂Wᵢ, ∂L/∂bᵢ, ∂L/∂a into dx (unless None, with the W of this step), then the update."""
        np.matmul(dz.T, a, out=self.dW[i])
        np.matmul(buf.ones, dz, out=self.db[i])  # Σ_rows dz = 1ᵀ·dz
        if dx is not None:
            if self.columns:
                np.matmul(self.W[i].T, dz.T, out=dx.T)
            else:
                np.matmul(dz, self.W[i], out=dx)
        if update:
            self._update(i)

    def _forward(self, x, buf):
        a = self._dense(0, x, buf.a[0])
        np.maximum(a, buf.zeros, out=a)
        for k in range(len(self.blocks)):
            h = self._dense(1 + 2 * k, a, buf.h[k])
            np.maximum(h, buf.zeros, out=h)
            s = residual_add(self._dense(2 + 2 * k, h, buf.a[k + 1]), a)
            np.maximum(s, buf.zeros, out=s)
            a = s
        return self._dense(len(self.W) - 1, a, buf.z)

    def _backward(self, x, buf, update):
        da, other = buf.da
        self._dense_backward(len(self.W) - 1, buf.dz, buf.a[-1], buf, da, update)
        for k in range(len(self.blocks) - 1, -1, -1):
            ds = relu_gradient(da, buf.a[k + 1], buf.mask)  # ∂L/∂s: to the second layer, and as it is to x
            self._dense_backward(2 + 2 * k, ds, buf.h[k], buf, buf.dh, update)
            relu_gradient(buf.dh, buf.h[k], buf.mask)
            self._dense_backward(1 + 2 * k, buf.dh, buf.a[k], buf, other, update)
            sum_of_paths(other, ds)
            da, other = other, da
        relu_gradient(da, buf.a[0], buf.mask)
        self._dense_backward(0, da, x, buf, None, update)


def padded(n, h, w, c, dtype):
    """A zero-bordered buffer (n, h + 2, w + 2, c) and its interior view (n, h, w, c)."""
    full = np.zeros((n, h + 2, w + 2, c), dtype)
    return full, full[:, 1:-1, 1:-1]


class NumpyResidualCNN(ResidualTrainer):
    """Trains image → conv 3x3 same relu → residual blocks → global average pool → dense softmax.

    Each block: conv 3x3 same relu (with the block's stride), conv 3x3 same, plus the input (or,
    where the block changes the channels or the size, a 1x1 conv of it with the same stride), ReLU.

    Args:
        width: the stem's filters.
        blocks: bench.workloads.Block per residual block (units = filters).
        classes: the output's units.
        weights: [(W, b), …] in the spec's order: the stem, each block's two convs and its
            shortcut conv if it has one, the output; conv W as (filters, kh, kw, c_in); copied.
        batch, lr, seed, dtype: as NumpyCNN's; x is (n, h, w, c) (NHWC).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.convs = self._plan(self.x_train.shape[1:])
        self.last = max(conv.index for conv in self.convs if conv.role != "shortcut")

    def _plan(self, image):
        """Per conv layer, in parameter order: its index, role (stem, first, second, shortcut), the
        layer whose activation it reads (``source``, −1 for the input), for a second conv the index
        of its block's shortcut conv, the output size, kernel, stride, and where its windows start
        in the padded buffer it reads."""
        convs, block_input, channels = [SimpleNamespace(role="stem", stride=1, source=-1)], 0, self.width
        for block in self.blocks:
            first = len(convs)
            convs.append(SimpleNamespace(role="first", stride=block.stride, source=block_input))
            convs.append(SimpleNamespace(role="second", stride=1, source=first, shortcut=None))
            if block.units != channels or block.stride != 1:
                convs[-1].shortcut = len(convs)
                convs.append(SimpleNamespace(role="shortcut", stride=block.stride, source=block_input))
            block_input, channels = first + 1, block.units
        sizes = {-1: image[:2]}
        for index, conv in enumerate(convs):
            f, kernel, _, c_in = self.W[index].shape
            conv.index, conv.kernel, conv.filters, conv.c_in = index, kernel, f, c_in
            h, w = sizes[conv.source]
            if conv.role == "shortcut":  # 1x1, valid: the block's input at the stride, from its interior
                conv.start, conv.outputs = (1, 1), (-(-h // conv.stride), -(-w // conv.stride))
                continue
            (oh, top, bottom), (ow, left, right) = (same_padding(size, kernel, conv.stride) for size in (h, w))
            if kernel != 3 or max(top, bottom, left, right) > 1:
                raise ValueError(f"NumpyResidualCNN pads by at most one cell: conv {index + 1} needs "
                                 f"{(top, bottom, left, right)} for kernel={kernel}, stride={conv.stride}")
            conv.start, conv.outputs = (1 - top, 1 - left), (oh, ow)
            sizes[index] = conv.outputs
        return convs

    def _buffers_for(self, n):
        """Per conv layer: its z (then ∂L/∂z), its kept patches, and but for a shortcut the padded
        buffers of its activation and of that activation's gradient; one ∂L/∂patches buffer for
        all, as large as the largest layer needs."""
        if n not in self._buffers:
            dtype, largest, layers = self.dtype, 0, []
            x_full, x_inner = padded(n, *self.x_train.shape[1:], dtype)
            for conv in self.convs:
                (oh, ow), f, k = conv.outputs, conv.filters, conv.kernel
                cells = n * oh * ow
                layer = SimpleNamespace(z=np.empty((n, oh, ow, f), dtype), ones=np.ones(cells, dtype),
                                        mask=np.empty((n, oh, ow, f), np.bool_))
                if conv.c_in == 1:  # one row per weight: k² strided copies of whole image rows
                    layer.columns = np.empty((k * k, n, oh, ow), dtype)
                    layer.patches = layer.columns.reshape(k * k, -1).T
                else:
                    layer.columns = None
                    layer.patches = np.empty((cells, k * k * conv.c_in), dtype)
                if conv.role != "shortcut":
                    layer.full, layer.out = padded(n, oh, ow, f, dtype)
                    layer.zeros = np.zeros((n, oh, ow, f), dtype)
                    layer.dfull, layer.dout = padded(n, oh, ow, f, dtype)
                if conv.index > 0:
                    largest = max(largest, cells * k * k * conv.c_in)
                layers.append(layer)
            f = self.W[-1].shape[1]
            self._buffers[n] = SimpleNamespace(
                x_full=x_full, x_inner=x_inner, convs=layers, dpatches=np.empty(largest, dtype),
                g=np.empty((n, f), dtype), dg=np.empty((n, f), dtype),
                z=np.empty((n, self.classes), dtype), dz=np.empty((n, self.classes), dtype),
                **self._gather_buffers(n),
            )
        return self._buffers[n]

    @staticmethod
    def _activation(conv, buf):
        """The padded buffer conv reads, its interior, and the padded buffer of its gradient (None
        for the input)."""
        if conv.source < 0:
            return buf.x_full, buf.x_inner, None
        layer = buf.convs[conv.source]
        return layer.full, layer.out, layer.dfull

    def _conv(self, conv, buf):
        """z = patches·Wᵀ + b of conv, its patches copied once from the padded input (kept for ∂L/∂W)."""
        layer, full = buf.convs[conv.index], self._activation(conv, buf)[0]
        sn, sh, sw, sc = full.strides
        (oh, ow), k, s = conv.outputs, conv.kernel, conv.stride
        windows = as_strided(full[:, conv.start[0] :, conv.start[1] :], (len(full), oh, ow, k, k, full.shape[3]),
                             (sn, s * sh, s * sw, sh, sw, sc), writeable=False)
        if layer.columns is not None:
            for i in range(k):
                for j in range(k):
                    np.copyto(layer.columns[i * k + j], windows[:, :, :, i, j, 0])
        else:
            np.copyto(layer.patches.reshape(windows.shape), windows)
        np.matmul(layer.patches, self.W[conv.index].reshape(conv.filters, -1).T, out=layer.z.reshape(-1, conv.filters))
        layer.z += self.b[conv.index]
        return layer

    def _forward(self, x, buf):
        np.copyto(buf.x_inner, x)  # into the zero-bordered input buffer
        for conv in self.convs:
            if conv.role == "shortcut":  # computed with its block's second conv
                continue
            layer = self._conv(conv, buf)
            if conv.role == "second" and conv.shortcut is not None:
                residual_add(layer.z, self._conv(self.convs[conv.shortcut], buf).z)
            elif conv.role == "second":
                residual_add(layer.z, self._activation(self.convs[conv.source], buf)[1])  # the block's input
            np.maximum(layer.z, layer.zeros, out=layer.out)  # ReLU, into the padded buffer the next conv reads
        last = buf.convs[self.last].out
        np.sum(last, axis=(1, 2), out=buf.g)
        buf.g *= 1.0 / (last.shape[1] * last.shape[2])  # the mean over the cells
        np.matmul(buf.g, self.W[-1].T, out=buf.z)
        buf.z += self.b[-1]
        return buf.z

    def _conv_backward(self, conv, dz, buf, update, dfull=None):
        """∂L/∂W (from the kept patches), ∂L/∂b and, into the padded gradient buffer dfull, the nine
        strided adds of ∂L/∂patches = dz·W; then the update (∂L/∂x used the W of this step)."""
        layer, f = buf.convs[conv.index], conv.filters
        rows = dz.reshape(-1, f)
        np.matmul(rows.T, layer.patches, out=self.dW[conv.index].reshape(f, -1))
        np.matmul(layer.ones, rows, out=self.db[conv.index])
        if dfull is not None:
            (oh, ow), k, s, c = conv.outputs, conv.kernel, conv.stride, conv.c_in
            dpatches = buf.dpatches[: len(rows) * k * k * c].reshape(len(dz), oh, ow, k, k, c)
            np.matmul(rows, self.W[conv.index].reshape(f, -1), out=dpatches.reshape(len(rows), -1))
            r0, c0 = conv.start
            for i in range(k):
                for j in range(k):
                    cells = dfull[:, r0 + i : r0 + i + s * oh : s, c0 + j : c0 + j + s * ow : s]
                    np.add(cells, dpatches[:, :, :, i, j], out=cells)
        if update:
            self._update(conv.index)

    def _backward(self, x, buf, update):
        last = buf.convs[self.last].out
        np.matmul(buf.dz.T, buf.g, out=self.dW[-1])
        np.matmul(buf.ones, buf.dz, out=self.db[-1])
        np.matmul(buf.dz, self.W[-1], out=buf.dg)
        if update:
            self._update(len(self.W) - 1)
        buf.dg *= 1.0 / (last.shape[1] * last.shape[2])  # the mean's ∂: 1/cells at every cell
        da = np.broadcast_to(buf.dg[:, None, None, :], last.shape)
        for conv in reversed(self.convs):
            if conv.role == "second":
                da = self._block_backward(conv, da, buf, update)
            elif conv.role == "stem":
                self._conv_backward(conv, relu_gradient_into(da, buf.convs[0]), buf, update)

    def _block_backward(self, second, da, buf, update):
        """From ∂L/∂(block output) da: the block's convs, and ∂L/∂(block input), summed over both
        paths in its padded gradient buffer; returns that buffer's interior."""
        first = self.convs[second.source]
        ds = relu_gradient_into(da, buf.convs[second.index])  # ∂L/∂s, to both paths as it is
        h = buf.convs[first.index]
        h.dfull.fill(0)
        self._conv_backward(second, ds, buf, update, h.dfull)
        dz_first = relu_gradient_into(h.dout, h)
        dx_full = self._activation(first, buf)[2]
        if second.shortcut is not None:  # the 1x1 conv's ∂L/∂x lands on the cells it read
            shortcut = self.convs[second.shortcut]
            (oh, ow), s = shortcut.outputs, shortcut.stride
            rows = buf.dpatches[: len(ds) * oh * ow * shortcut.c_in].reshape(len(ds), oh, ow, shortcut.c_in)
            self._shortcut_backward(shortcut, ds, buf, update, rows)
            dx_full.fill(0)
            start_from_shortcut(dx_full, rows, s)
        else:  # the identity: ∂L/∂x starts from ∂L/∂s, and the layers' path adds onto it
            start_from_identity(dx_full, ds)
        self._conv_backward(first, dz_first, buf, update, dx_full)
        return dx_full[:, 1:-1, 1:-1]

    def _shortcut_backward(self, conv, ds, buf, update, dx_rows):
        """The 1x1 conv's ∂L/∂W, ∂L/∂b and ∂L/∂x (ds·W into dx_rows), then its update."""
        layer, f = buf.convs[conv.index], conv.filters
        rows = ds.reshape(-1, f)
        np.matmul(rows.T, layer.patches, out=self.dW[conv.index].reshape(f, -1))
        np.matmul(layer.ones, rows, out=self.db[conv.index])
        np.matmul(rows, self.W[conv.index].reshape(f, -1), out=dx_rows.reshape(len(rows), -1))
        if update:
            self._update(conv.index)


def relu_gradient_into(da, layer):
    """∂L/∂z = ∂L/∂a · relu′ into layer.z (z is spent: the ReLU's output a is all its ∂ needs)."""
    np.greater(layer.out, 0, out=layer.mask)
    return np.multiply(da, layer.mask, out=layer.z)
