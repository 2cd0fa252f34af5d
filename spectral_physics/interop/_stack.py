"""The common intermediate of every importer: an ordered stack of dense layers.

Every reader (PyTorch, safetensors, Keras, ONNX) turns its file into a list of *ops*
(dense layer, activation, flatten, dropout) in the order the model applies them, and
:func:`assemble` checks that list against the one network shape a
:class:`~spectral_physics.SpectralMLP` can represent::

    [flatten] dense (act dense)* [softmax | log_softmax]

with one hidden activation among ``relu``, ``tanh``, ``elu`` (alpha = 1) and
``identity``. Anything else is an :class:`InteropError` naming the file and the layer.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..io import ModelFileError

__all__ = ["InteropError", "MissingDependencyError", "DenseStack", "require", "assemble", "canonical_activation",
           "HIDDEN_ACTIVATIONS", "OUTPUT_ACTIVATIONS"]

#: hidden-layer activations a SpectralMLP computes (names as in spectral_physics.ACTIVATIONS)
HIDDEN_ACTIVATIONS = ("relu", "tanh", "elu", "identity")
#: what may follow the last dense layer: nothing (logits), or a softmax the loss applies anyway
OUTPUT_ACTIVATIONS = ("identity", "softmax", "log_softmax")

_ALIASES = {
    "relu": "relu", "tanh": "tanh", "elu": "elu", "identity": "identity", "linear": "identity",
    "none": "identity", "softmax": "softmax", "log_softmax": "log_softmax", "logsoftmax": "log_softmax",
}


class InteropError(ModelFileError):
    """A model file cannot be imported exactly: damaged, or holding something other than dense layers.

    A :class:`~spectral_physics.io.ModelFileError` (so a ``ValueError``): the message names the file
    and, where there is one, the layer.
    """


class MissingDependencyError(RuntimeError, ImportError):
    """An optional package needed for one file format is not installed (names the extra)."""


def require(module: str, what: str):
    """Import ``module`` or raise :class:`MissingDependencyError` naming the ``interop`` extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        hint = ("pip install torch (CPU builds: https://pytorch.org)" if top == "torch"
                else 'pip install "spectral-physics[interop]"')
        raise MissingDependencyError(f"{what} needs the optional package {top!r}, which is not installed; "
                                     f"{hint}") from None


def canonical_activation(name: Any, *, where: str) -> str:
    """``"ReLU"``, ``"linear"``, ... -> a name of :data:`HIDDEN_ACTIVATIONS` or :data:`OUTPUT_ACTIVATIONS`.

    Raises
    ------
    InteropError
        For an activation a SpectralMLP cannot compute, naming ``where`` (file and layer).
    """
    key = str(name).strip().lower().replace("-", "_") if isinstance(name, str) else None
    if key not in _ALIASES:
        raise InteropError(f"{where}: unknown activation {name!r}; a SpectralMLP computes "
                           f"{', '.join(HIDDEN_ACTIVATIONS)} in hidden layers (softmax or log_softmax "
                           "only after the last layer)")
    return _ALIASES[key]


@dataclass
class DenseStack:
    """Dense layers read from a file, in the order they are applied.

    Attributes
    ----------
    weights : list of ndarray
        ``W_k`` of shape ``(N_out, N_in)`` (already transposed from the file's convention).
    biases : list of ndarray or None
        ``b_k`` of shape ``(N_out,)``; ``None`` for a layer without bias.
    names : list of str
        The layers' names in the file (state-dict prefix, Keras layer name, ONNX node name).
    activation : str or None
        Hidden-layer activation, or ``None`` when the file does not say (state dicts).
    output : {"identity", "softmax", "log_softmax"}
        What the file applies after the last layer. A SpectralMLP returns logits: a final
        softmax is the one its loss applies, so predictions and probabilities are unchanged.
    source : str
        The file (or object) read.
    format : str
        ``"pytorch"``, ``"safetensors"``, ``"keras"``, ``"keras-h5"``, ``"onnx"`` or ``"torch-module"``.
    metadata : dict of str to str
        Metadata stored with the file (safetensors header, state-dict ``_metadata``).
    notes : list of str
        What the import did that a user should know (a dropped softmax or dropout).
    """

    weights: list[np.ndarray]
    biases: list[np.ndarray | None]
    names: list[str]
    activation: str | None
    source: str
    format: str
    output: str = "identity"
    metadata: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def sizes(self) -> list[int]:
        """Node counts ``(N_0, ..., N_L)``."""
        return [int(self.weights[0].shape[1])] + [int(w.shape[0]) for w in self.weights]

    def validate(self) -> DenseStack:
        """Check shapes, the chain ``N_in(k) = N_out(k-1)``, dtypes and finiteness; return ``self``."""
        src = self.source
        if not self.weights:
            raise InteropError(f"{src}: no dense layer found")
        for k, (w, b, name) in enumerate(zip(self.weights, self.biases, self.names)):
            where = f"{src}: layer {name!r} (dense layer {k})"
            if w.ndim != 2:
                raise InteropError(f"{where}: weight has shape {tuple(w.shape)}, not a 2-D matrix")
            if w.dtype.kind != "f":
                raise InteropError(f"{where}: weight has dtype {w.dtype}, not a floating type")
            if b is not None and (b.shape != (w.shape[0],) or b.dtype.kind != "f"):
                raise InteropError(f"{where}: bias has shape {tuple(b.shape)} and dtype {b.dtype}; "
                                   f"a layer with {w.shape[0]} outputs needs a float bias of shape ({w.shape[0]},)")
            if k and w.shape[1] != self.weights[k - 1].shape[0]:
                raise InteropError(
                    f"{where}: mismatched shape chain: it takes {w.shape[1]} inputs but layer "
                    f"{self.names[k - 1]!r} before it gives {self.weights[k - 1].shape[0]} outputs")
            for arr, what in ((w, "weight"), (b, "bias")):
                if arr is not None and not np.isfinite(arr).all():
                    raise InteropError(f"{where}: {what} holds NaN or infinite values")
        if self.activation is not None and self.activation not in HIDDEN_ACTIVATIONS:
            raise InteropError(f"{src}: hidden activation {self.activation!r} is not one of {HIDDEN_ACTIVATIONS}")
        return self

    def resolve_activation(self, activation: str | None) -> str:
        """The hidden activation: the file's, the argument's, or an error when neither says or they differ."""
        given = canonical_activation(activation, where=f"{self.source}: activation argument") \
            if activation is not None else None
        if given is not None and given not in HIDDEN_ACTIVATIONS:
            raise InteropError(f"{self.source}: activation argument {activation!r} is not a hidden-layer "
                               f"activation ({', '.join(HIDDEN_ACTIVATIONS)})")
        if self.activation is not None:
            if given is not None and given != self.activation:
                raise InteropError(f"{self.source}: the file says the hidden layers use {self.activation!r}, "
                                   f"but activation {activation!r} was given")
            return self.activation
        if given is not None:
            return given
        if len(self.weights) == 1:
            return "identity"  # no hidden layer: the activation is never applied
        raise InteropError(
            f"{self.source}: a {self.format} file of bare weights does not say which activation the hidden "
            f"layers use; pass activation= (command line: --activation relu|tanh|elu|identity), or store "
            f"it in the file's metadata as 'activation'")

    def to_network(self, activation: str | None = None, *, train: str = "direct", dtype: Any = None,
                   device: str | None = None, seed: int = 0):
        """The :class:`~spectral_physics.SpectralMLP` computing this stack's logits.

        ``dtype`` defaults to float64 when every array in the file is float64, else float32.
        """
        from .convert import from_direct

        act = self.resolve_activation(activation)
        if dtype is None:
            arrays = [a for a in (*self.weights, *self.biases) if a is not None]
            dtype = "float64" if all(a.dtype == np.float64 for a in arrays) else "float32"
        return from_direct(self.weights, self.biases, act, train=train, dtype=dtype, device=device, seed=seed)

    def summary(self) -> str:
        """One line: format, sizes, activation, output, notes."""
        act = self.activation or "unstated"
        out = "" if self.output == "identity" else f", final {self.output} dropped (logits kept)"
        notes = f"; {'; '.join(self.notes)}" if self.notes else ""
        return (f"{self.format} {self.source}: {len(self.weights)} dense layers, sizes "
                f"{','.join(map(str, self.sizes))}, hidden activation {act}{out}{notes}")


def assemble(ops: list[tuple[str, Any, str]], *, source: str, fmt: str,
             metadata: dict[str, str] | None = None) -> DenseStack:
    """Check an op list against ``[flatten] dense (act dense)* [softmax]`` and build the stack.

    Parameters
    ----------
    ops : list of (kind, payload, name)
        ``("dense", (W (N_out, N_in), b or None), name)``, ``("act", canonical name, name)``,
        ``("flatten", None, name)`` (only before the first dense layer) or
        ``("dropout", None, name)`` (identity at inference, dropped).
    source, fmt : str
        The file and format, for messages.

    Raises
    ------
    InteropError
        Naming the first op out of place.
    """
    weights: list[np.ndarray] = []
    biases: list[np.ndarray | None] = []
    names: list[str] = []
    after: list[list[tuple[str, str]]] = []  # activations after each dense layer
    notes: list[str] = []
    for kind, payload, name in ops:
        where = f"{source}: layer {name!r}"
        if kind == "flatten":
            if weights:
                raise InteropError(f"{where}: a flatten after a dense layer cannot be imported")
            notes.append(f"{name!r} (flatten) dropped: the network takes flat inputs")
        elif kind == "dropout":
            notes.append(f"{name!r} (dropout) dropped: identity at inference")
        elif kind == "act":
            if not weights:
                raise InteropError(f"{where}: activation {payload!r} before the first dense layer cannot be "
                                   "imported (a SpectralMLP's first layer acts on its raw inputs)")
            if payload != "identity":
                after[-1].append((payload, name))
        elif kind == "dense":
            w, b = payload
            weights.append(np.asarray(w))
            biases.append(None if b is None else np.asarray(b))
            names.append(name)
            after.append([])
        else:  # pragma: no cover - readers only emit the kinds above
            raise InteropError(f"{where}: {kind} cannot be imported")
    if not weights:
        raise InteropError(f"{source}: no dense layer found")
    for k, acts in enumerate(after):
        if len(acts) > 1:
            raise InteropError(f"{source}: layer {acts[1][1]!r}: two activations ({acts[0][0]}, {acts[1][0]}) "
                               f"follow dense layer {names[k]!r}; a SpectralMLP applies one")
    hidden = [(acts[0] if acts else ("identity", names[k])) for k, acts in enumerate(after[:-1])]
    for act, name in hidden:
        if act not in HIDDEN_ACTIVATIONS:
            raise InteropError(f"{source}: layer {name!r}: {act} between hidden layers cannot be imported; a "
                               f"SpectralMLP's hidden layers use one of {', '.join(HIDDEN_ACTIVATIONS)}")
    kinds = {a for a, _ in hidden}
    if len(kinds) > 1:
        desc = ", ".join(f"{names[k]!r}: {a}" for k, (a, _) in enumerate(hidden))
        raise InteropError(f"{source}: the hidden layers use different activations ({desc}); a SpectralMLP "
                           "applies one activation to every hidden layer")
    output = after[-1][0][0] if after[-1] else "identity"
    if output not in OUTPUT_ACTIVATIONS:
        raise InteropError(f"{source}: layer {after[-1][0][1]!r}: the last dense layer {names[-1]!r} is followed "
                           f"by {output}; a SpectralMLP's last layer is linear (its outputs are logits; only a "
                           "softmax or log_softmax may follow it)")
    activation = kinds.pop() if kinds else None
    stack = DenseStack(weights, biases, names, activation, source, fmt, output=output,
                       metadata=dict(metadata or {}), notes=notes)
    return stack.validate()
