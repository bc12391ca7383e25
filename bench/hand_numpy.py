"""Hand-written NumPy reference: an MLP trained by mini-batch SGD, written for speed.

ReLU hidden layers; the output is fused with its loss (sigmoid + binary cross-entropy for one
unit, softmax + categorical cross-entropy for several), computed from the logits. Weights use
nndsl's layout, ``W`` of shape (units, inputs) and ``z = x @ W.T + b``.

What makes it fast (the generated NumPy code is measured against this):

* every activation, gradient and mask buffer is allocated once per batch size and reused;
  every operation writes into one (``np.matmul(..., out=)``, in-place ufuncs), so the hot
  loop allocates nothing bigger than a row of per-sample scalars;
* ReLU runs in place on the pre-activation: h = max(z, 0) overwrites z, and its derivative
  is read back from h (h > 0 exactly where z > 0), so z is never kept;
* the loss gradient comes straight from the logits, (p − y)/N, already multiplied by the
  learning rate: backpropagation is linear, so every ∂L/∂W below it arrives pre-scaled and
  the SGD update is a single ``W -= dW`` pass over each parameter;
* each layer is updated as soon as its input gradient has been computed (which still needs
  the old W), while its dW is fresh in cache; the first layer computes no input gradient;
* the products run in the form whose rows are the larger side of their result: for the large
  net the column form, zᵀ = W·aᵀ and (∂L/∂a)ᵀ = Wᵀ·dzᵀ, into column-major buffers (with the
  large W on the left, OpenBLAS is 8-17 % faster on these shapes than with a·Wᵀ and dz·W);
  for the small net, whose batch is wider than its layers, the row form a·Wᵀ and dz·W into
  row-major ones (found for the generated code; an expert would write it so too);
* the bias gradients are products too, Σ_rows dz = 1ᵀ·dz with a vector of ones: BLAS sums
  the rows 3-4x faster than ``dz.sum(axis=0)`` on a large batch (found for the generated
  code, like the layout above);
* a small training set is gathered once per epoch in shuffled order, so that every batch is a
  slice; a large one (over 4 MiB) batch by batch into preallocated buffers
  (``np.take(..., out=)``), so that the batch is still in cache when the first layer reads it;
* per-batch bookkeeping is a handful of scalar reductions; the matmuls run in the BLAS
  NumPy links (all cores, NumPy's default).

``NumpyCNN`` trains conv (valid, stride 1) → ReLU → max pool layers, a flatten and dense layers
the same way (float32, buffers per batch size, ``out=`` everywhere, the learning rate folded into
∂L/∂logits, each layer updated once its gradients exist, the same gather rule), and:

* a conv is one product of its im2col matrix, patches·Wᵀ, with W.reshape(filters, −1) as nndsl
  lays it out; the patches are copied once per step from an ``as_strided`` view and kept for
  ∂L/∂W = dzᵀ·patches (not taken again). With one input channel they are stored one row per
  weight (kernel² strided copies of whole image rows, 4-7x faster than copying 9-wide rows) and
  handed to BLAS transposed;
* the rows are in **pool-major order**: the conv cells at offset (di, dj) of every pool window
  form one contiguous block, so max pooling is pool² − 1 ``np.maximum`` calls over contiguous
  blocks (the "reshape" pool, with the offsets outermost), and cells no window reads (the last
  row and column of an odd-sized map) are never computed;
* bias and ReLU come **after** the pool: max commutes with adding a per-channel constant and
  with ReLU (float rounding is monotonic, so the numbers are the same), so both run on a quarter
  of the cells, and ∂L/∂b and ReLU′ too; ReLU′ is read off the pooled activation;
* the pool's backward routes each window's gradient to the first offset holding its maximum
  (torch's and TensorFlow's rule), writing every cell of ∂L/∂z once: no zero fill, no scatter;
* ∂L/∂x (col2im): one product dz·W into a preallocated ∂L/∂patches, then kernel² strided adds;
  the first layer computes none.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from numpy.lib.stride_tricks import as_strided

from bench.workloads import conv_shapes, initial_weights, shuffle_stream

GATHER_BY_BATCH_BYTES = 1 << 22  # a training set larger than this is gathered batch by batch


def softmax_loss(z, labels, rows, dz, scale):
    """Softmax + categorical cross-entropy from the logits z (modified in place).

    L = logsumexp(z) − z_label, with the row maximum subtracted first; ∂L/∂z = q − onehot.
    Writes scale·∂L/∂z into dz (when scale is not None); `rows` is arange(n) or longer.
    Returns the summed loss and the number of rows whose label's logit is the row maximum (the
    correct predictions).
    """
    rows = rows[: len(z)]
    out = dz if scale is not None else z
    np.subtract(z, z.max(axis=1, keepdims=True), out=out)
    picked = out[rows, labels]  # z_label − max z: 0 when the label is the prediction
    correct = int(np.count_nonzero(picked == 0))
    np.exp(out, out=out)
    total = out.sum(axis=1)
    loss = float(np.log(total).sum() - picked.sum())
    if scale is not None:
        np.divide(scale, total, out=total)
        out *= total[:, None]
        out[rows, labels] -= scale
    return loss, correct


class EpochLoop:
    """The epoch loop and fit() both hand-written trainers share; each defines train_batch()."""

    def train_epoch(self):
        """One epoch over the reshuffled training set; returns the mean loss and accuracy."""
        n = len(self.x_train)
        order = self.rng.permutation(n)
        if not self.by_batch:
            x_epoch, t_epoch = np.take(self.x_train, order, axis=0), np.take(self.t_train, order, axis=0)
        total_loss, total_correct = 0.0, 0
        for start in range(0, n, self.batch):
            stop = min(start + self.batch, n)
            buf = self._buffers_for(stop - start)
            if self.by_batch:
                x = np.take(self.x_train, order[start:stop], axis=0, out=buf.x)
                t = np.take(self.t_train, order[start:stop], axis=0, out=buf.t)
            else:
                x, t = x_epoch[start:stop], t_epoch[start:stop]
            loss, correct = self.train_batch(x, t, buf, self.lr / (stop - start))
            total_loss += loss
            total_correct += correct
        return total_loss / n, total_correct / n

    def fit(self, epochs):
        """Train `epochs` more epochs; returns the history (Keras's keys, one entry per epoch)."""
        for _ in range(epochs):
            loss, accuracy = self.train_epoch()
            val_loss, val_accuracy = self.evaluate()
            for key, value in zip(self.history, (loss, accuracy, val_loss, val_accuracy), strict=True):
                self.history[key].append(value)
        return self.history


class NumpyMLP(EpochLoop):
    """Trains a ReLU MLP with SGD on (x_train, y_train), validating on (x_val, y_val) after each epoch.

    Args:
        layers: widths from the input to the output, e.g. (784, 1024, 1024, 10).
        weights: [(W, b), …] per layer, W of shape (units, inputs); copied.
        batch: mini-batch size; the last, partial batch is included.
        lr: SGD learning rate.
        seed: the training seed; each epoch's order is drawn from nndsl's shuffle stream for it.
        dtype: float32 for training; float64 for gradient checks.

    Labels: float 0/1 of shape (n, 1) when the output has one unit, integer classes of
    shape (n,) otherwise.
    """

    def __init__(self, x_train, y_train, x_val, y_val, layers, weights, batch, lr, seed=1, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.binary = layers[-1] == 1
        self.layers = tuple(layers)
        self.W = [np.array(W, dtype=self.dtype, order="C") for W, _ in weights]
        self.b = [np.array(b, dtype=self.dtype) for _, b in weights]
        self.dW = [np.empty_like(W) for W in self.W]
        self.db = [np.empty_like(b) for b in self.b]
        self.x_train = np.ascontiguousarray(x_train, dtype=self.dtype)
        self.x_val = np.ascontiguousarray(x_val, dtype=self.dtype)
        self.t_train, self.t_val = self._targets(y_train), self._targets(y_val)
        self.batch, self.lr = int(batch), float(lr)
        self.rng = shuffle_stream(seed)
        self.by_batch = self.x_train.nbytes + self.t_train.nbytes > GATHER_BY_BATCH_BYTES
        # the column form where most multiply-adds are in layers wider than the batch
        sizes = [(n_in * units, units) for n_in, units in zip(self.layers[:-1], self.layers[1:], strict=True)]
        self.columns = 2 * sum(size for size, units in sizes if units > self.batch) > sum(s for s, _ in sizes)
        self.order = "F" if self.columns else "C"
        self._buffers = {}
        self.history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}

    def _targets(self, y):
        """Binary labels become signs t = 1 − 2y (see _binary_loss); class labels stay integers."""
        if self.binary:
            return (1 - 2 * np.asarray(y, dtype=self.dtype)).reshape(-1, 1)
        return np.ascontiguousarray(y, dtype=np.intp)

    def _buffers_for(self, n):
        """Activations h_i (the output's are the logits), gradients d_i and ReLU masks for batches of n rows."""
        if n not in self._buffers:
            widths = self.layers[1:]
            self._buffers[n] = SimpleNamespace(
                h=[np.empty((n, w), self.dtype, order=self.order) for w in widths],
                d=[np.empty((n, w), self.dtype, order=self.order) for w in widths],
                mask=[np.empty((n, w), np.bool_, order=self.order) for w in widths[:-1]],
                # max(z, 0) against a full array of zeros: NumPy's SIMD loop for maximum is
                # not used when one operand is a broadcast scalar (about 2x slower here)
                zeros=[np.zeros((n, w), self.dtype, order=self.order) for w in widths[:-1]],
                rows=np.arange(n),
                ones=np.ones(n, self.dtype),
                # a batch gathered from a large training set
                x=np.empty((n, self.x_train.shape[1]), self.dtype) if self.by_batch else None,
                t=np.empty((n, *self.t_train.shape[1:]), self.t_train.dtype) if self.by_batch else None,
                scratch=np.empty((n, 1), self.dtype),
            )
        return self._buffers[n]

    def _forward(self, x, buf):
        """The logits for the batch x, leaving every hidden activation in buf.h."""
        last = len(self.W) - 1
        a = x
        for i, (W, b, h) in enumerate(zip(self.W, self.b, buf.h, strict=True)):
            if self.columns:
                np.matmul(W, a.T, out=h.T)  # zᵀ = W·aᵀ
            else:
                np.matmul(a, W.T, out=h)  # z = a·Wᵀ
            h += b
            if i < last:
                np.maximum(h, buf.zeros[i], out=h)  # ReLU in place: z is not needed again
            a = h
        return a

    def _backward(self, x, buf, update):
        """From ∂L/∂logits in buf.d[-1]: every dW, db, and with `update` the SGD step, layer by layer."""
        dz = buf.d[-1]
        for i in range(len(self.W) - 1, -1, -1):
            a_prev = x if i == 0 else buf.h[i - 1]
            np.matmul(dz.T, a_prev, out=self.dW[i])
            np.matmul(buf.ones, dz, out=self.db[i])  # Σ_rows dz = 1ᵀ·dz
            if i > 0:
                d_prev = buf.d[i - 1]
                if self.columns:  # with the W of this step, before its update
                    np.matmul(self.W[i].T, dz.T, out=d_prev.T)
                else:
                    np.matmul(dz, self.W[i], out=d_prev)
                np.greater(a_prev, 0, out=buf.mask[i - 1])  # ReLU′: 1 where h > 0
                np.multiply(d_prev, buf.mask[i - 1], out=d_prev)
                dz = d_prev
            if update:
                self.W[i] -= self.dW[i]  # dW already carries the learning rate
                self.b[i] -= self.db[i]

    def _binary_loss(self, z, t, buf, scale):
        """Sigmoid + binary cross-entropy from the logits z, with signs t = 1 − 2y.

        L = softplus(t·z) (= −log p for y = 1, −log(1 − p) for y = 0), computed as
        logaddexp(0, t·z), which never overflows; ∂L/∂z = t·σ(t·z) = p − y, with
        σ(u) = ½·tanh(u/2) + ½. Writes scale·∂L/∂z into buf.d[-1] (when scale is not None);
        returns the summed loss and the number of correct predictions (p > ½ ⇔ t·z < 0).
        """
        u = np.multiply(t, z, out=buf.scratch)
        loss = float(np.logaddexp(0, u).sum())
        correct = int(np.count_nonzero(u < 0))
        if scale is not None:
            dz = buf.d[-1]
            np.multiply(u, 0.5, out=dz)
            np.tanh(dz, out=dz)
            dz += 1
            np.multiply(dz, t, out=dz)
            dz *= 0.5 * scale
        return loss, correct

    def _softmax_loss(self, z, labels, buf, scale):
        return softmax_loss(z, labels, buf.rows, buf.d[-1], scale)

    def _loss(self, z, t, buf, scale):
        if self.binary:
            return self._binary_loss(z, t, buf, scale)
        return self._softmax_loss(z, t, buf, scale)

    def train_batch(self, x, t, buf, scale):
        """Forward, loss, backward and the SGD update of one batch; returns its loss and correct count."""
        loss, correct = self._loss(self._forward(x, buf), t, buf, scale)
        self._backward(x, buf, update=True)
        return loss, correct

    def evaluate(self, x=None, t=None):
        """Mean loss and accuracy in one forward pass over the validation set (or x with targets t)."""
        x = self.x_val if x is None else x
        t = self.t_val if t is None else t
        loss, correct = self._loss(self._forward(x, self._buffers_for(len(x))), t, self._buffers_for(len(x)), None)
        return loss / len(x), correct / len(x)

    def loss_and_gradients(self, x, y):
        """The mean loss on (x, y) and the true gradients [(dW, db), …]; no update."""
        x = np.ascontiguousarray(x, dtype=self.dtype)
        t = self._targets(y)
        buf = self._buffers_for(len(x))
        loss, _ = self._loss(self._forward(x, buf), t, buf, 1.0 / len(x))
        self._backward(x, buf, update=False)
        return loss / len(x), [(dW.copy(), db.copy()) for dW, db in zip(self.dW, self.db, strict=True)]

    def get_weights(self):
        return [(W.copy(), b.copy()) for W, b in zip(self.W, self.b, strict=True)]


def pooled_windows(a, kernel, pool, pooled):
    """The kernel × kernel window of every conv cell that a pool window reads, pool offset first.

    a is (n, h, w, c); the view is (pool, pool, n, ph, pw, kernel, kernel, c): [di, dj, s, i, j]
    is the patch of conv cell (pool·i + di, pool·j + dj) of sample s, in W's (kh, kw, c) order.
    Conv cells that no pool window reads (a last odd row or column) are left out.
    """
    sn, sh, sw, sc = a.strides
    ph, pw = pooled
    return as_strided(a, (pool, pool, a.shape[0], ph, pw, kernel, kernel, a.shape[3]),
                      (sh, sw, sn, pool * sh, pool * sw, sh, sw, sc), writeable=False)


class NumpyCNN(EpochLoop):
    """Trains conv → ReLU → max-pool layers, a flatten and ReLU/output dense layers with SGD,
    validating on (x_val, y_val) after each epoch; softmax + categorical cross-entropy.

    Args:
        convs: the conv layers (bench.workloads.Conv: filters, kernel, pool), valid, stride 1.
        layers: the dense widths after the flatten, from the flattened width to the classes.
        weights: [(W, b), …], the convs' first, W of shape (filters, kh, kw, c_in) and
            (units, inputs) (nndsl's layouts); copied.
        batch, lr, seed, dtype: as NumpyMLP's.

    x is (n, h, w, c) (NHWC); labels are integer classes of shape (n,).
    """

    def __init__(self, x_train, y_train, x_val, y_val, convs, layers, weights, batch, lr, seed=1, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.convs, self.layers = tuple(convs), tuple(layers)
        self.W = [np.array(W, dtype=self.dtype, order="C") for W, _ in weights]
        self.b = [np.array(b, dtype=self.dtype) for _, b in weights]
        self.dW = [np.empty_like(W) for W in self.W]
        self.db = [np.empty_like(b) for b in self.b]
        self.x_train = np.ascontiguousarray(x_train, dtype=self.dtype)
        self.x_val = np.ascontiguousarray(x_val, dtype=self.dtype)
        self.t_train, self.t_val = (np.ascontiguousarray(y, dtype=np.intp) for y in (y_train, y_val))
        self.shapes = conv_shapes(self.x_train.shape[1:], self.convs)
        self.batch, self.lr = int(batch), float(lr)
        self.rng = shuffle_stream(seed)
        self.by_batch = self.x_train.nbytes + self.t_train.nbytes > GATHER_BY_BATCH_BYTES
        self._buffers = {}
        self.history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}

    def _buffers_for(self, n):
        """Per conv layer: its patches, conv output z, pooled max, activation and gradients; then the
        dense layers' activations and gradients, for batches of n samples."""
        if n not in self._buffers:
            convs = []
            for index, (conv, shapes) in enumerate(zip(self.convs, self.shapes, strict=True)):
                k, p, c_in, f = conv.kernel, conv.pool, shapes.inputs[2], conv.filters
                (ph, pw), cells = shapes.pooled[:2], n * shapes.pooled[0] * shapes.pooled[1]
                layer = SimpleNamespace(
                    z=np.empty((p * p, cells, f), self.dtype),  # conv cells, pool offset first
                    dz=np.empty((p * p, cells, f), self.dtype),
                    pooled=np.empty((cells, f), self.dtype),  # max over the window, before the bias
                    a=np.empty((cells, f), self.dtype),  # relu(pooled + b): (n, ph, pw, f) in rows
                    da=np.empty((cells, f), self.dtype),
                    zeros=np.zeros((cells, f), self.dtype),
                    hit=np.empty((cells, f), np.bool_),
                    ones=np.ones(cells, self.dtype),
                )
                # One patch per row (rows·W₂ᵀ); with one input channel, one row per weight instead
                # (kernel² strided copies of whole image rows: 4-7x faster than the 9-wide rows) and
                # its transpose is the same (cells, k·k·c_in) matrix for BLAS.
                if c_in == 1:
                    layer.columns = np.empty((k, k, c_in, p, p, n, ph, pw), self.dtype)
                    layer.patches = layer.columns.reshape(k * k * c_in, -1).T
                else:
                    layer.columns = None
                    layer.patches = np.empty((p * p * cells, k * k * c_in), self.dtype)
                if index > 0:  # ∂L/∂z in image order, then ∂L/∂patch for the col2im adds
                    layer.dz_image = np.empty((n, ph, p, pw, p, f), self.dtype)
                    layer.dpatches = np.empty((n, ph * p, pw * p, k, k, c_in), self.dtype)
                convs.append(layer)
            widths = self.layers[1:]
            self._buffers[n] = SimpleNamespace(
                convs=convs,
                h=[np.empty((n, w), self.dtype) for w in widths],
                d=[np.empty((n, w), self.dtype) for w in widths],
                mask=[np.empty((n, w), np.bool_) for w in widths[:-1]],
                zeros=[np.zeros((n, w), self.dtype) for w in widths[:-1]],
                ones=np.ones(n, self.dtype),
                rows=np.arange(n),
                x=np.empty((n, *self.x_train.shape[1:]), self.dtype) if self.by_batch else None,
                t=np.empty(n, self.t_train.dtype) if self.by_batch else None,
            )
        return self._buffers[n]

    def _im2col(self, a, conv, shapes, layer):
        """The patches of conv layer `layer` on a (n, h, w, c), copied into layer.patches."""
        windows = pooled_windows(a, conv.kernel, conv.pool, shapes.pooled[:2])
        if layer.columns is None:
            np.copyto(layer.patches.reshape(windows.shape), windows)
        else:
            for i in range(conv.kernel):
                for j in range(conv.kernel):
                    np.copyto(layer.columns[i, j], np.moveaxis(windows[..., i, j, :], -1, 0))

    @staticmethod
    def _pool(layer):
        """The max over each window's offsets, contiguous blocks of z (pool offset first)."""
        np.maximum(layer.z[0], layer.z[1], out=layer.pooled)
        for offset in layer.z[2:]:
            np.maximum(layer.pooled, offset, out=layer.pooled)

    @staticmethod
    def _route(layer, dp):
        """∂L/∂z: each window's gradient dp goes to the first offset (row by row) holding its
        maximum, as torch's and TensorFlow's CPU kernels route it; dp keeps what is still unrouted."""
        for offset, dz in zip(layer.z[:-1], layer.dz[:-1], strict=True):
            np.equal(offset, layer.pooled, out=layer.hit)
            np.multiply(dp, layer.hit, out=dz)
            np.subtract(dp, dz, out=dp)
        np.copyto(layer.dz[-1], dp)

    @staticmethod
    def _input_gradient(layer, W, dx, kernel, rows, cols):
        """∂L/∂x into dx (n, h, w, c): ∂L/∂patch = dz·W, one product on dz in image order (permuted
        first, 0.1 ms, so that the col2im adds run along image rows: 0.3 ms faster a step than adding
        from the pool-major rows), then each kernel offset adds its part into the cells it read."""
        n, ph, p, pw, _, f = layer.dz_image.shape
        np.copyto(layer.dz_image, layer.dz.reshape(p, p, n, ph, pw, f).transpose(2, 3, 0, 4, 1, 5))
        np.matmul(layer.dz_image.reshape(-1, f), W, out=layer.dpatches.reshape(-1, W.shape[1]))
        dx.fill(0)
        for r in range(kernel):
            for c in range(kernel):
                cells = dx[:, r : r + rows, c : c + cols]
                np.add(cells, layer.dpatches[:, :, :, r, c], out=cells)

    def _update(self, i):
        self.W[i] -= self.dW[i]  # dW already carries the learning rate
        self.b[i] -= self.db[i]

    def _conv_pool(self, i, a, layer):
        """Conv layer i on a (n, h, w, c): z = patches·Wᵀ (one product), the max of each pool
        window, then bias and ReLU on the pooled cells only (max commutes with both: the same numbers)."""
        conv, shapes = self.convs[i], self.shapes[i]
        self._im2col(a, conv, shapes, layer)
        np.matmul(layer.patches, self.W[i].reshape(conv.filters, -1).T, out=layer.z.reshape(-1, conv.filters))
        self._pool(layer)
        np.add(layer.pooled, self.b[i], out=layer.a)
        np.maximum(layer.a, layer.zeros, out=layer.a)
        return layer.a.reshape(len(a), *shapes.pooled)

    def _forward(self, x, buf):
        """The logits for the batch x, leaving every activation in buf."""
        a = x
        for i, layer in enumerate(buf.convs):
            a = self._conv_pool(i, a, layer)
        a = a.reshape(len(x), -1)  # flatten: (h, w, c) order, a view
        first, last = len(self.convs), len(self.W) - 1
        for i, h in enumerate(buf.h, start=first):
            np.matmul(a, self.W[i].T, out=h)
            h += self.b[i]
            if i < last:
                np.maximum(h, buf.zeros[i - first], out=h)
            a = h
        return a

    def _backward_dense(self, buf, update):
        """From ∂L/∂logits in buf.d[-1] down to ∂L/∂a of the last conv layer (in its da)."""
        first = len(self.convs)
        dz = buf.d[-1]
        for i in range(len(self.W) - 1, first - 1, -1):
            k = i - first
            a_prev = buf.convs[-1].a.reshape(len(dz), -1) if k == 0 else buf.h[k - 1]
            np.matmul(dz.T, a_prev, out=self.dW[i])
            np.matmul(buf.ones, dz, out=self.db[i])
            d_prev = buf.convs[-1].da.reshape(len(dz), -1) if k == 0 else buf.d[k - 1]
            np.matmul(dz, self.W[i], out=d_prev)  # with the W of this step, before its update
            if k > 0:
                np.greater(a_prev, 0, out=buf.mask[k - 1])
                np.multiply(d_prev, buf.mask[k - 1], out=d_prev)
            if update:
                self._update(i)
            dz = d_prev

    def _backward_conv(self, i, buf, update):
        """Conv layer i from ∂L/∂a in its da: ReLU′ and ∂L/∂b on the pooled cells, the route through
        the pool, ∂L/∂W, and (but for the first layer) ∂L/∂x into the previous layer's da."""
        conv, shapes, layer = self.convs[i], self.shapes[i], buf.convs[i]
        n, f, p = len(buf.ones), conv.filters, conv.pool
        np.greater(layer.a, 0, out=layer.hit)  # ReLU′ of the pooled cell: 1 where a > 0
        dp = np.multiply(layer.da, layer.hit, out=layer.da)
        np.matmul(layer.ones, dp, out=self.db[i])  # Σ over the pooled cells: the others have dz = 0
        self._route(layer, dp)
        W = self.W[i].reshape(f, -1)
        np.matmul(layer.dz.reshape(-1, f).T, layer.patches, out=self.dW[i].reshape(f, -1))
        if i > 0:  # with the W of this step, before its update
            dx = buf.convs[i - 1].da.reshape(n, *shapes.inputs)
            self._input_gradient(layer, W, dx, conv.kernel, shapes.pooled[0] * p, shapes.pooled[1] * p)
        if update:
            self._update(i)

    def _backward(self, buf, update):
        self._backward_dense(buf, update)
        for i in range(len(self.convs) - 1, -1, -1):
            self._backward_conv(i, buf, update)

    def train_batch(self, x, t, buf, scale):
        """Forward, loss, backward and the SGD update of one batch; returns its loss and correct count."""
        loss, correct = softmax_loss(self._forward(x, buf), t, buf.rows, buf.d[-1], scale)
        self._backward(buf, update=True)
        return loss, correct

    def evaluate(self):
        """Mean loss and accuracy in one forward pass over the validation set."""
        buf = self._buffers_for(len(self.x_val))
        loss, correct = softmax_loss(self._forward(self.x_val, buf), self.t_val, buf.rows, None, None)
        return loss / len(self.x_val), correct / len(self.x_val)

    def loss_and_gradients(self, x, y):
        """The mean loss on (x, y) and the true gradients [(dW, db), …]; no update."""
        x = np.ascontiguousarray(x, dtype=self.dtype)
        buf = self._buffers_for(len(x))
        loss, _ = softmax_loss(self._forward(x, buf), np.asarray(y, np.intp), buf.rows, buf.d[-1], 1.0 / len(x))
        self._backward(buf, update=False)
        return loss / len(x), [(dW.copy(), db.copy()) for dW, db in zip(self.dW, self.db, strict=True)]

    def get_weights(self):
        return [(W.copy(), b.copy()) for W, b in zip(self.W, self.b, strict=True)]


def train(x_train, y_train, x_val, y_val, layers, epochs, batch, lr, seed=1, weights=None):
    """Train a fresh NumpyMLP for `epochs` epochs (from `initial_weights(layers, seed)` unless
    `weights` are given); returns its history dict."""
    if weights is None:
        weights = initial_weights(tuple(layers), seed)
    return NumpyMLP(x_train, y_train, x_val, y_val, layers, weights, batch, lr, seed).fit(epochs)
