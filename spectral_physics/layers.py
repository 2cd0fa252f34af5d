"""Spectral layers: a fully connected layer parametrised in reciprocal space.

A layer from ``N_in`` to ``N_out`` nodes is the off-diagonal block of the
transfer operator ``A = Phi Lambda Phi^-1`` over all ``N_in + N_out`` nodes::

    w_ij = (lam_in_j - lam_out_i) * phi_ij      i: receiving node, j: input node
    z    = x @ W.T + b                          x: (batch, N_in)

Which arrays train is set by a preset (see :data:`PRESETS`, the table in
:mod:`spectral_physics.presets`, re-exported here) or an explicit set
of names among ``phi``, ``lam_in``, ``lam_out``. ``phi`` itself may be
factorised (``svd``: ``phi = U diag(s) V``; ``qr``: ``phi = R Q``, or ``Q R``
when ``N_out > N_in``) with the orthonormal factors frozen. The ``direct``
preset trains ``W`` itself; it is represented with ``lam_in = 1``,
``lam_out = 0`` and ``phi = W`` so every layer has a transfer operator.

Every array may carry leading *ensemble* axes: an ensemble of ``E`` networks
stores ``phi`` as ``(E, N_out, N_in)`` and takes inputs ``(E, batch, N_in)``.
All arithmetic below broadcasts over those axes, so ensembles and single
networks share one code path.

Example
-------
>>> from spectral_physics.layers import SpectralLayer, trainable_count
>>> from spectral_physics.backend import host_rng
>>> layer = SpectralLayer(4, 3, "eigen", rngs=[host_rng(0)])
>>> layer.trainable, layer.n_trainable == trainable_count("eigen", 4, 3)
(('lam_in', 'lam_out', 'bias'), True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import scipy.linalg

from . import kernels
from .backend import array_module, resolve_device, to_device
from .presets import EXPLICIT, PRESETS, Preset, get_preset, trainable_count

__all__ = [
    "PRESETS",
    "INITS",
    "Preset",
    "SpectralLayer",
    "factorise",
    "get_preset",
    "parse_train",
    "trainable_count",
]

#: initialisation schemes (see :class:`SpectralLayer`)
INITS = ("default", "paper")

# kept under its old name: spectral_physics.symbolic and older callers import it from here
_EXPLICIT = EXPLICIT


def parse_train(train: str | Iterable[str] | Preset) -> tuple[str, str, tuple[str, ...]]:
    """Resolve a preset name or an explicit set of trainable names.

    Parameters
    ----------
    train : str, iterable of str or Preset
        A key of :data:`PRESETS`, or names among ``phi``, ``lam_in``, ``lam_out``
        (see :func:`spectral_physics.presets.get_preset`).

    Returns
    -------
    preset : str
        The preset name (explicit sets are named ``"lam_out+phi"`` etc.).
    parametrisation : {"direct", "phi", "svd", "qr"}
    trainable : tuple of str
        Trainable arrays, bias excluded.
    """
    p = get_preset(train)
    return p.name, p.parametrisation, p.trainable


def factorise(parametrisation: str, phi: np.ndarray) -> dict[str, np.ndarray]:
    """The stored factors of a host ``phi`` (N_out, N_in) in the ``svd`` or ``qr`` parametrisation.

    ``svd``: ``U, s, V`` with ``phi = U diag(s) V`` (economic). ``qr``: ``R`` upper
    triangular and ``Q`` with orthonormal rows, ``phi = R Q`` (RQ), or orthonormal
    columns, ``phi = Q R``, when ``N_out > N_in``. Used by the default initialisation and
    by :func:`spectral_physics.pruning.prune_nodes`, which refactorises a cut ``phi``.
    """
    if parametrisation == "svd":
        u, s, vt = np.linalg.svd(phi, full_matrices=False)
        return {"U": u, "s": s, "V": vt}
    if parametrisation != "qr":
        raise ValueError(f"parametrisation must be 'svd' or 'qr' to factorise phi, got {parametrisation!r}")
    n_out, n_in = phi.shape[-2:]
    if n_out <= n_in:
        rr, q = scipy.linalg.rq(phi, mode="economic")
    else:
        q, rr = np.linalg.qr(phi)
    return {"R": np.triu(rr), "Q": q}


def _glorot(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    a = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-a, a, size=(n_out, n_in))


def _init_host(
    rng: np.random.Generator, n_in: int, n_out: int, param: str, init: str
) -> dict[str, np.ndarray]:
    """Draw one member's arrays on the host in float64 (see SpectralLayer for the schemes)."""
    out: dict[str, np.ndarray] = {}
    r = min(n_in, n_out)
    if init == "default":
        # Every preset starts from the same Glorot-uniform W = phi: runs that differ only in
        # what trains share their initial direct-space network.
        phi = _glorot(rng, n_in, n_out)
        out["lam_in"] = np.ones(n_in)
        out["lam_out"] = np.zeros(n_out)
        if param in ("direct", "phi"):
            out["weight" if param == "direct" else "phi"] = phi
        else:  # svd, qr: factorise that phi exactly
            out.update(factorise(param, phi))
    elif init == "paper":
        # Values seen in the authors' code (docs/design.md section 1.7).
        if param == "svd":
            out["lam_in"] = np.zeros(n_in)
            out["lam_out"] = np.ones(n_out)
            out["U"] = rng.normal(0.0, 0.04, size=(n_out, r))
            out["s"] = rng.uniform(0.0, 3.0, size=r)
            out["V"] = rng.normal(0.0, 0.04, size=(r, n_in))
        else:
            phi = _glorot(rng, n_in, n_out)
            out["lam_in"] = rng.uniform(-0.97, 0.97, size=n_in)
            out["lam_out"] = rng.uniform(-0.13, 0.13, size=n_out)
            if param == "direct":
                out["weight"] = phi
                out["lam_in"], out["lam_out"] = np.ones(n_in), np.zeros(n_out)
            elif param == "phi":
                out["phi"] = phi
            else:  # qr
                g = rng.normal(0.0, 0.036, size=(max(n_in, n_out), r))
                q, _ = np.linalg.qr(g)
                out["Q"] = q.T if n_out <= n_in else q
                out["R"] = np.triu(_glorot(rng, r, r))
    else:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    out["bias"] = np.zeros(n_out)
    return out


class SpectralLayer:
    """A dense layer ``N_in -> N_out`` with weights ``w_ij = (lam_in_j - lam_out_i) phi_ij``.

    Parameters
    ----------
    n_in, n_out : int
        Numbers of input and receiving nodes.
    train : str or iterable of str
        Preset (``direct``, ``eigen-out``, ``eigen``, ``spectral``, ``svd``, ``qr``) or an
        explicit set among ``phi``, ``lam_in``, ``lam_out``.
    rngs : sequence of numpy.random.Generator
        One host generator per ensemble member; arrays are drawn from them in order.
    dtype : str or dtype
        Floating dtype of all arrays (``float32`` for training, ``float64`` for checks).
    device : {"cpu", "gpu"}
    init : {"default", "paper"}
        ``default``: ``phi`` Glorot-uniform, ``lam_in = 1``, ``lam_out = 0`` (so ``W = phi``,
        the same initial ``W`` for every preset; ``svd``/``qr`` factorise that ``phi`` exactly).
        ``paper``: the authors' values: ``lam_in ~ U(-0.97, 0.97)``, ``lam_out ~ U(-0.13, 0.13)``
        with Glorot ``phi``; ``svd`` with ``lam_in = 0``, ``lam_out = 1``, ``U, V ~ N(0, 0.04^2)``,
        ``s ~ U(0, 3)``; ``qr`` with ``Q`` from the QR factorisation of an ``N(0, 0.036^2)``
        matrix and Glorot ``R``.
    bias : bool
        Whether the bias (zeros at start) trains.
    ensemble : bool
        Stack members along a leading axis even if there is one ``rng``.

    Attributes
    ----------
    spec : spectral_physics.presets.Preset
        The row of the preset table the layer follows (``preset`` and ``parametrisation``
        are its ``name`` and ``parametrisation``).
    trainable : tuple of str
        Names of trainable arrays, ``bias`` last when it trains.
    mask : None or bool array, shape (..., N_out, N_in)
        Static direct-space mask; the layer uses ``M * W``.
    sparsity : None or float
        Dynamic percentile sparsity ``p``: at every forward pass the entries of ``|W|`` below
        the ``p``-quantile of the layer (per ensemble member) are zeroed.
    last_mask : None or bool array
        The mask used by the last forward pass (static or dynamic).
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        train: str | Iterable[str] = "spectral",
        *,
        rngs: Sequence[np.random.Generator],
        dtype: Any = "float32",
        device: str | None = "cpu",
        init: str = "default",
        bias: bool = True,
        ensemble: bool = False,
    ) -> None:
        for name, n in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"{name} must be a positive integer, got {n!r}")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.spec = get_preset(train)
        self.preset, self.parametrisation, names = self.spec.name, self.spec.parametrisation, self.spec.trainable
        self.use_bias = bool(bias)
        self.trainable = names + (("bias",) if bias else ())
        self.device = resolve_device(device)
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"dtype must be a floating dtype, got {dtype!r}")
        if len(rngs) < 1:
            raise ValueError("rngs must hold at least one generator")
        self.ensemble_size = len(rngs) if (ensemble or len(rngs) > 1) else None
        members = [_init_host(g, self.n_in, self.n_out, self.parametrisation, init) for g in rngs]
        self._arrays: dict[str, Any] = {}
        for key in members[0]:
            host = np.stack([m[key] for m in members]) if self.ensemble_size else members[0][key]
            self._arrays[key] = to_device(host, self.device, self.dtype)
        self.mask = None
        self.sparsity: float | None = None
        self.last_mask = None
        self._cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ arrays
    @property
    def xp(self):
        return array_module(self._arrays["bias"])

    @property
    def params(self) -> dict[str, Any]:
        """Trainable arrays by name (the live arrays, updated in place by optimisers)."""
        return {k: self._arrays[k] for k in self.trainable}

    @property
    def arrays(self) -> dict[str, Any]:
        """Every stored array, trainable or frozen."""
        return dict(self._arrays)

    @property
    def n_trainable(self) -> int:
        """Number of trainable scalars (per ensemble member)."""
        return self.spec.count(self.n_in, self.n_out, self.use_bias)

    def _get(self, name: str):
        return self._arrays[name]

    def _set(self, name: str, value) -> None:
        old = self._arrays[name]
        new = to_device(value, self.device, self.dtype)
        if new.shape != old.shape:
            raise ValueError(f"{name} must have shape {old.shape}, got {new.shape}")
        self._arrays[name] = self.xp.ascontiguousarray(new)

    def __getattr__(self, name: str):
        arrays = self.__dict__.get("_arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(f"{type(self).__name__} ({self.__dict__.get('preset')}) has no {name!r}")

    def __setattr__(self, name: str, value) -> None:
        if name in self.__dict__.get("_arrays", {}):
            self._set(name, value)
        elif name == "mask" and value is not None:
            object.__setattr__(self, name, self._check_mask(value))
        elif name == "sparsity" and value is not None:
            if not 0.0 <= float(value) < 1.0:
                raise ValueError(f"sparsity must lie in [0, 1), got {value!r}")
            object.__setattr__(self, name, float(value))
        else:
            object.__setattr__(self, name, value)

    def _check_mask(self, mask):
        mask = to_device(mask, self.device)
        shape = self._weight_shape
        if mask.shape != shape:
            raise ValueError(f"mask must have shape {shape}, got {mask.shape}")
        mask = mask.astype(bool)  # a copy
        if isinstance(mask, np.ndarray):
            # the forward pass caches the mask's sparse index by identity: no edits in place
            mask.flags.writeable = False
        return mask

    def _sparse_index(self, x, w, mask):
        """The CSR index of the static mask when the kept-weights-only products apply, else ``None``."""
        if mask is None or mask is not self.mask or x.ndim != 2 or w.ndim != 2:
            return None  # no mask, a dynamic one, or an ensemble
        cached = self.__dict__.get("_sparse")
        # a writeable mask (a copied or unpickled layer's, or one unlocked by hand) may have
        # been edited since its index was built: index it again and lock it
        unlocked = isinstance(mask, np.ndarray) and mask.flags.writeable
        if cached is None or cached[0] is not mask or unlocked:
            if unlocked:
                mask.flags.writeable = False
            cached = (mask, kernels.sparse_index(mask))
            object.__setattr__(self, "_sparse", cached)
        return cached[1]

    @property
    def _weight_shape(self) -> tuple[int, ...]:
        lead = (self.ensemble_size,) if self.ensemble_size else ()
        return lead + (self.n_out, self.n_in)

    @property
    def phi(self):
        """Eigenvector block ``phi``, shape (..., N_out, N_in); derived for svd, qr and direct."""
        a = self._arrays
        if self.spec.phi_array is not None:
            return a[self.spec.phi_array]
        if self.parametrisation == "svd":
            return (a["U"] * a["s"][..., None, :]) @ a["V"]
        r = self.xp.triu(a["R"])  # only the upper triangle is a parameter
        return r @ a["Q"] if self.n_out <= self.n_in else a["Q"] @ r

    @phi.setter
    def phi(self, value) -> None:
        if self.spec.phi_array is None:
            raise AttributeError(f"phi of a {self.preset!r} layer is derived; set its factors")
        self._set(self.spec.phi_array, value)

    # ------------------------------------------------------------------ weights
    def dense_weight(self):
        """Direct-space weights before masking, shape (..., N_out, N_in)."""
        return self._weight_parts()[0]

    def _weight_parts(self):
        """``(W, phi)``; ``phi`` is ``None`` for ``direct``."""
        if self.parametrisation == "direct":
            return self._arrays["weight"], None
        a = self._arrays
        phi = self.phi
        return kernels.spectral_weight(phi, a["lam_in"], a["lam_out"]), phi

    def weight_matrix(self):
        """Effective weights ``M * W`` used by the forward pass, shape (..., N_out, N_in)."""
        w = self.dense_weight()
        m = self._current_mask(w)
        return w if m is None else w * m

    def current_mask(self):
        """The mask the next forward pass would use (static and/or dynamic), or ``None``.

        Returns
        -------
        mask : None or bool array, shape (..., N_out, N_in)
        """
        return self._current_mask(self.dense_weight())

    def _current_mask(self, w):
        if self.sparsity is None or self.sparsity == 0.0:
            return self.mask
        xp = array_module(w)
        k = int(round(self.sparsity * w.shape[-1] * w.shape[-2]))
        if k == 0:
            dyn = xp.ones(w.shape, dtype=bool)
        else:
            dyn = xp.abs(w) > kernels.kth_smallest_abs(w, k)[..., None, None]
        return dyn if self.mask is None else dyn & self.mask

    # ------------------------------------------------------------------ passes
    def forward(self, x, shared: bool = False):
        """Pre-activations ``z = x @ (M * W).T + b``.

        Parameters
        ----------
        x : array, shape (..., batch, N_in)
            With ``shared=True`` for an ensemble layer: one batch ``(batch, N_in)`` seen by
            every member.
        shared : bool
            The members share the input ``x``. Their products ``x @ W_e^T`` are then one
            product ``x @ [W_1; ...; W_E]^T`` of shape ``(batch, E * N_out)``, and
            :meth:`backward` forms every ``delta_e^T x`` as one product too
            (docs/design.md section 7.2). No effect on a single layer.

        Returns
        -------
        z : array, shape (..., batch, N_out)
            ``(E, batch, N_out)`` for a shared input too.
        """
        xp = self.xp
        w_dense, phi = self._weight_parts()
        mask = self._current_mask(w_dense)
        self.last_mask = mask
        index = self._sparse_index(x, w_dense, mask)
        sparse = None if index is None else kernels.sparse_forward(x, w_dense, index)
        if sparse is not None:
            # a sparse static mask: products over the kept weights only (kernels.SPARSE_DENSITY)
            z, x_t = sparse
            if self.use_bias:
                z += self._arrays["bias"]
            self._cache = {"x": x, "x_t": x_t, "w": w_dense, "mask": mask, "phi": phi, "index": index}
            return z
        w = w_dense if mask is None else w_dense * mask
        shared = bool(shared) and self.ensemble_size is not None
        if shared:
            if x.ndim != 2:
                raise ValueError(f"a shared input has shape (batch, {self.n_in}), got {tuple(x.shape)}")
            e, n = self.ensemble_size, x.shape[0]
            # rows e * N_out + i of the stacked weights are W_e[i]: one (batch, E * N_out) product
            z = xp.matmul(x, w.reshape(e * self.n_out, self.n_in).T)
            # (batch, E, N_out) -> (E, batch, N_out); contiguous: the later layers and the
            # element-wise passes run faster on it than on the strided view
            z = xp.ascontiguousarray(z.reshape(n, e, self.n_out).swapaxes(0, 1))
        else:
            z = xp.matmul(x, xp.swapaxes(w, -1, -2))
        if self.use_bias:
            z += self._arrays["bias"][..., None, :]
        # phi is reused by backward (for svd/qr it costs a product)
        self._cache = {"x": x, "w": w, "mask": mask, "phi": phi, "shared": shared}
        return z

    def backward(self, delta, input_grad: bool = True):
        """Gradients of the loss from ``delta = dL/dz``.

        Parameters
        ----------
        delta : array, shape (..., batch, N_out)
            Gradient of the loss with respect to this layer's pre-activations.
        input_grad : bool
            Whether to return ``dL/dx`` (not needed for the first layer). After a shared
            forward pass it is per member, ``(E, batch, N_in)``.

        Returns
        -------
        grads : dict of str to array
            One entry per trainable array, same shapes as the arrays.
        dx : array, shape (..., batch, N_in), or None
        """
        xp = self.xp
        x, w, mask = self._cache["x"], self._cache["w"], self._cache["mask"]
        index = self._cache.get("index")
        if index is not None:  # the forward pass took the kept-weights-only products
            grads = self.grads_from_weight_grad(kernels.sparse_weight_grad(delta, self._cache["x_t"], index),
                                                phi=self._cache["phi"])
            if self.use_bias:
                grads["bias"] = delta.sum(axis=-2)
            return grads, (kernels.sparse_input_grad(delta, w, index) if input_grad else None)
        if self._cache.get("shared"):
            # every member's delta_e^T x as one (E * N_out, batch) @ (batch, N_in) product
            e, n = self.ensemble_size, x.shape[0]
            d = xp.ascontiguousarray(xp.swapaxes(delta, 0, 1)).reshape(n, e * self.n_out)
            g = xp.matmul(d.T, x).reshape(e, self.n_out, self.n_in)
        else:
            g = xp.matmul(xp.swapaxes(delta, -1, -2), x)  # dL/d(M*W), (..., N_out, N_in)
        if mask is not None:
            g *= mask
        grads = self.grads_from_weight_grad(g, phi=self._cache["phi"])
        if self.use_bias:
            grads["bias"] = delta.sum(axis=-2)
        dx = xp.matmul(delta, w) if input_grad else None
        return grads, dx

    def grads_from_weight_grad(self, g, phi=None) -> dict[str, Any]:
        """Chain ``G = dL/dW`` (..., N_out, N_in) to the trainable arrays (bias excluded).

        ``G`` may be overwritten; ``phi`` may be passed when already computed. Uses
        docs/design.md section 1.6 (one fused pass, :func:`spectral_physics.kernels.spectral_grads`)::

            dL/dphi_ij = G_ij (lam_in_j - lam_out_i)
            dL/dlam_in_j = sum_i G_ij phi_ij,   dL/dlam_out_i = -sum_j G_ij phi_ij
        """
        names = self.trainable
        a = self._arrays
        out: dict[str, Any] = {}
        if self.parametrisation == "direct":
            if "weight" in names:
                out["weight"] = g
            return out
        phi = self.phi if phi is None else phi
        want_dphi = "phi" in names or "s" in names or "R" in names
        dphi, dlam_in, dlam_out = kernels.spectral_grads(g, phi, a["lam_in"], a["lam_out"], want_dphi)
        if "phi" in names:
            out["phi"] = dphi
        elif "s" in names:
            # dL/ds_k = sum_ij dphi_ij U_ik V_kj
            out["s"] = ((a["U"].swapaxes(-1, -2) @ dphi) * a["V"]).sum(axis=-1)
        elif "R" in names:
            q, xp = a["Q"], self.xp
            dr = dphi @ q.swapaxes(-1, -2) if self.n_out <= self.n_in else q.swapaxes(-1, -2) @ dphi
            out["R"] = xp.triu(dr)
        if "lam_in" in names:
            out["lam_in"] = dlam_in
        if "lam_out" in names:
            out["lam_out"] = dlam_out
        return out

    def transfer_operator(self, member: int | None = None) -> np.ndarray:
        """Full operator ``A = Phi Lambda Phi^-1`` over ``N_in + N_out`` nodes, float64 NumPy.

        Returns
        -------
        A : ndarray, shape (N_in + N_out, N_in + N_out)
            ``[[diag(lam_in), 0], [W, diag(lam_out)]]`` with ``W`` the dense weights.
        """
        from .backend import to_numpy

        def pick(arr):
            arr = to_numpy(arr).astype(np.float64)
            if self.ensemble_size:
                if member is None:
                    raise ValueError("member must be given for an ensemble layer")
                arr = arr[member]
            return arr

        lam_in, lam_out, w = pick(self._arrays["lam_in"]), pick(self._arrays["lam_out"]), pick(self.dense_weight())
        n = self.n_in + self.n_out
        a = np.zeros((n, n))
        a[np.arange(self.n_in), np.arange(self.n_in)] = lam_in
        a[self.n_in :, self.n_in :][np.diag_indices(self.n_out)] = lam_out
        a[self.n_in :, : self.n_in] = w
        return a

    def __repr__(self) -> str:
        ens = f", ensemble={self.ensemble_size}" if self.ensemble_size else ""
        return (
            f"SpectralLayer({self.n_in} -> {self.n_out}, train={self.preset!r}, "
            f"trainable={self.n_trainable}, dtype={self.dtype}, device={self.device!r}{ens})"
        )
