"""Turn any ``nn.Module`` into a `Network` by running it once and recording what it computes.

Why run it instead of reading the module tree: a module's attributes do not say what its forward
does (functional convs, ``x @ w``, attention matmuls, modules called twice or never), and sizes
depend on the input. Running the forward under a `torch.overrides.TorchFunctionMode` sees every
conv / linear / matrix product *as executed*, with the real tensors, in execution order. Forward
pre/post hooks on every submodule keep the current module path so layers get readable names.

What is modelled (one `Layer` each):

* ``F.conv1d`` / ``F.conv2d`` (any stride, padding incl. ``"same"``/``"valid"``, dilation, groups);
* ``F.linear`` -> a LINEAR layer: ``batch`` = the input's first dim, ``in_h`` = the product of the
  dims between it and the feature dim (tokens);
* attention: ``F.scaled_dot_product_attention`` -> two MATMUL layers (``.scores`` = Q K^T and
  ``.context`` = weights @ V; masks and ``is_causal`` do not reduce a dense array's work), and
  ``F.multi_head_attention_forward`` (what ``nn.MultiheadAttention`` and the Transformer layers
  run) -> LINEAR ``.q_proj``/``.k_proj``/``.v_proj``, MATMUL ``.scores``/``.context`` (batch =
  batch x heads) and LINEAR ``.out_proj``;
* matrix products: ``torch.matmul`` / ``@`` / ``mm`` / ``bmm`` / ``mv`` / ``addmm`` / ``baddbmm``
  / ``addmv`` / two-operand ``einsum`` -> a MATMUL layer whose ``batch`` is the product of the
  broadcast batch dims (a 2-D @ 2-D product has batch 1). Exception: ``x @ W`` where ``W`` is a 2-D
  parameter of the module is a LINEAR layer (the weight is shared across the batch, exactly as in
  ``F.linear``), so parameters are counted once.

Layer names: the module path (``layer1.0.conv1``) when a Conv1d/Conv2d/Linear module runs its own
op; otherwise the enclosing module path + ``.conv`` / ``.linear`` / ``.matmul`` (+ an index when
one module call runs several ops of that kind; the root module's own ops use the bare kind). A
module called again gets ``#2``, ``#3``... on its layer names.

Ops with real compute that are *not* modelled (conv3d, transposed convs, RNN kernels, the fused
native attention kernels, ...) are never dropped silently: they are counted in
``Network.skipped_ops`` and reported in one `UnmodelledOpWarning`.

Parameters: every parameter consumed as the weight or bias of a modelled layer is counted by that
layer; all other parameters (BatchNorm, LayerNorm, embeddings, weights of RNNs and other ops that were
skipped...) go to ``Network.extra_params``. Hence ``network.params`` equals
``sum(p.numel() for p in module.parameters())`` whenever each parameter feeds at most one modelled
layer. A parameter tied into several modelled layers is counted by each of them (each must fetch
it); the surplus is stated in ``Network.notes``. A weight computed in the forward (weight norm,
parametrizations) counts as that layer's weight *and* its source parameters count as extra.
"""

from __future__ import annotations

import inspect
import math
import string
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from workloads.errors import ArchsimInputError
from workloads.layer import Layer, LayerKind
from workloads.network import Network

__all__ = ["from_torch", "UnmodelledOpWarning", "UNMODELLED_OPS"]


class UnmodelledOpWarning(UserWarning):
    """The forward pass ran compute ops that have no `Layer` model (listed with counts)."""


#: Ops with substantial compute that have no `Layer` model: recorded in ``skipped_ops``.
UNMODELLED_OPS: frozenset[str] = frozenset({
    "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv_tbc", "convolution",
    "_convolution", "_native_multi_head_attention", "_transformer_encoder_layer_fwd", "bilinear", "tensordot", "addbmm",
    "chain_matmul", "multi_dot", "lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell",
    "rnn_tanh_cell", "rnn_relu_cell", "quantized_lstm", "quantized_gru",
})

_CONV_OPS = {"conv1d": 1, "conv2d": 2}
_MATMUL_OPS = frozenset({"matmul", "__matmul__", "__rmatmul__", "__imatmul__", "mm", "bmm", "mv", "addmm",
                         "baddbmm", "addmv", "addmm_", "baddbmm_", "addmv_", "einsum"})
_OWN_OP = {"conv1d": nn.Conv1d, "conv2d": nn.Conv2d, "linear": nn.Linear}


@dataclass
class _Frame:
    """One active module call: where we are in the module tree."""

    path: str
    module: nn.Module
    call_id: int
    own_used: bool = False


@dataclass
class _Record:
    """One modelled op as seen at run time, before final naming."""

    path: str
    call_id: int
    own: bool
    kind: str            # naming suffix of a functional op: "conv", "linear", "matmul", "q_proj", ...
    fields: dict[str, Any]
    consumed: tuple[int, ...] = ()   # ids of model parameters used as this layer's weight / bias
    computed_weight: bool = False    # conv/linear weight that is not a model parameter


class _Tracer(TorchFunctionMode):
    """Records modelled ops; the module stack is maintained by hooks installed in `from_torch`."""

    def __init__(self, params: dict[int, nn.Parameter]) -> None:
        super().__init__()
        self.params = params
        self.stack: list[_Frame] = []
        self.records: list[_Record] = []
        self.skipped: dict[str, int] = {}
        self.skipped_where: dict[str, list[str]] = {}
        #: (op, module path, input shape) of convolutions that ran on an input without a batch dimension
        self.unbatched: list[tuple[str, str, tuple[int, ...]]] = []

    # TorchFunctionMode disables itself while its handler runs, so ops inside F.linear etc. are
    # not seen twice.
    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        if name in _CONV_OPS:
            self._conv(name, out, *args, **kwargs)
        elif name == "linear":
            self._linear(out, *args, **kwargs)
        elif name in _MATMUL_OPS:
            self._matmul(name, out, args, kwargs)
        elif name == "scaled_dot_product_attention":
            self._sdpa(out, *args, **kwargs)
        elif name == "multi_head_attention_forward":
            self._mha(out, inspect.signature(func).bind(*args, **kwargs).arguments)
        elif name in UNMODELLED_OPS:
            self._skip(name)
        return out

    # ---- bookkeeping ---------------------------------------------------------------------------
    def _where(self) -> _Frame | None:
        return self.stack[-1] if self.stack else None

    def _skip(self, op: str) -> None:
        self.skipped[op] = self.skipped.get(op, 0) + 1
        frame = self._where()
        self.skipped_where.setdefault(op, []).append(frame.path if frame and frame.path else "<root>")

    def _add(self, op: str, kind: str, fields: dict[str, Any], consumed: tuple[Any, ...] = (),
             computed_weight: bool = False) -> None:
        frame = self._where()
        own = False
        if frame is not None and not frame.own_used and op in _OWN_OP and isinstance(frame.module, _OWN_OP[op]):
            own = frame.own_used = True
        ids = tuple(id(t) for t in consumed if t is not None and id(t) in self.params)
        self.records.append(_Record(path=frame.path if frame else "", call_id=frame.call_id if frame else 0,
                                    own=own, kind=kind, fields=fields, consumed=ids,
                                    computed_weight=computed_weight))

    def _is_param(self, tensor: Any) -> bool:
        return isinstance(tensor, torch.Tensor) and id(tensor) in self.params

    # ---- conv ----------------------------------------------------------------------------------
    def _conv(self, op: str, out: torch.Tensor, input: torch.Tensor, weight: torch.Tensor,
              bias: torch.Tensor | None = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
              groups: int = 1) -> None:
        dims = _CONV_OPS[op]
        batched = input.dim() == dims + 2
        batch = int(input.shape[0]) if batched else 1
        if not batched:
            frame = self.stack[-1] if self.stack else None
            self.unbatched.append((op, frame.path if frame else "", tuple(int(d) for d in input.shape)))
        channels = int(input.shape[1] if batched else input.shape[0])
        spatial = tuple(int(s) for s in input.shape[-dims:])
        kernel = tuple(int(k) for k in weight.shape[2:])
        stride_t, dilation_t = _ntuple(stride, dims), _ntuple(dilation, dims)
        if isinstance(padding, str):
            if padding == "valid":
                pads = [(0, 0)] * dims
            elif padding == "same":
                # PyTorch puts the odd extra pixel of "same" padding at the end (bottom/right).
                pads = []
                for k, d in zip(kernel, dilation_t):
                    total = d * (k - 1)
                    pads.append((total // 2, total - total // 2))
            else:  # torch itself rejects other strings before we get here
                raise AssertionError(f"from_torch: unexpected padding string {padding!r} in {op}")
        else:
            pads = [(p, p) for p in _ntuple(padding, dims)]
        if dims == 1:
            spatial, kernel, stride_t, dilation_t, pads = ((1, *spatial), (1, *kernel), (1, *stride_t),
                                                           (1, *dilation_t), [(0, 0), *pads])
        fields = dict(kind=LayerKind.CONV, in_channels=channels, out_channels=int(weight.shape[0]),
                      in_h=spatial[0], in_w=spatial[1], kernel_h=kernel[0], kernel_w=kernel[1],
                      stride_h=stride_t[0], stride_w=stride_t[1], pad_top=pads[0][0], pad_bottom=pads[0][1],
                      pad_left=pads[1][0], pad_right=pads[1][1], dilation_h=dilation_t[0],
                      dilation_w=dilation_t[1], groups=int(groups), batch=batch, bias=bias is not None)
        layer = Layer(name="probe", **fields)
        expected = list(layer.output_shape)
        if dims == 1:
            del expected[2]
        if not batched:
            del expected[0]
        _check_shape(op, tuple(expected), out, fields)
        self._add(op, "conv", fields, (weight, bias), computed_weight=not self._is_param(weight))

    # ---- linear --------------------------------------------------------------------------------
    def _linear(self, out: torch.Tensor, input: torch.Tensor, weight: torch.Tensor,
                bias: torch.Tensor | None = None) -> None:
        batch, rows = _rows(input.shape)
        fields = dict(kind=LayerKind.LINEAR, in_channels=int(weight.shape[-1]), out_channels=int(weight.shape[0]),
                      in_h=rows, batch=batch, bias=bias is not None)
        if batch * rows == 0:
            self._skip("linear on an empty tensor")
            return
        expected = (*input.shape[:-1], int(weight.shape[0])) if weight.dim() == 2 else (*input.shape[:-1],)
        _check_shape("linear", tuple(expected), out, fields)
        self._add("linear", "linear", fields, (weight, bias), computed_weight=not self._is_param(weight))

    # ---- matrix products -------------------------------------------------------------------------
    def _matmul(self, op: str, out: Any, args: tuple, kwargs: dict) -> None:
        bias = None
        if op == "einsum":
            self._einsum(out, args, kwargs)
            return
        if op == "__rmatmul__":
            a, b = args[1], args[0]
        elif op.rstrip("_") in ("addmm", "baddbmm", "addmv"):
            bias = _arg(args, kwargs, 0, "input")
            a = _arg(args, kwargs, 1, "mat1", "batch1", "mat")
            b = _arg(args, kwargs, 2, "mat2", "batch2", "vec")
        else:
            a = _arg(args, kwargs, 0, "input")
            b = _arg(args, kwargs, 1, "other", "mat2", "vec")
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            self._skip(op)
            return
        if a.dim() == 0 or b.dim() == 0:
            return  # a scalar product, not a matrix product
        a_vec, b_vec = a.dim() == 1, b.dim() == 1
        m, k = (1, int(a.shape[0])) if a_vec else (int(a.shape[-2]), int(a.shape[-1]))
        n = 1 if b_vec else int(b.shape[-1])
        batch_shape = tuple(torch.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2])))
        expected = (*batch_shape, *(() if a_vec else (m,)), *(() if b_vec else (n,)))
        if m * n * k == 0:
            self._skip(f"{op} on an empty tensor")
            return
        if self._is_param(b) and b.dim() == 2:
            # x @ W with a parameter W shared by every row: exactly a linear layer (see module doc).
            batch, rows = _rows(a.shape)
            has_bias = self._is_param(bias) and bias.numel() == n
            fields = dict(kind=LayerKind.LINEAR, in_channels=k, out_channels=n, in_h=rows, batch=batch,
                          bias=has_bias)
            _check_shape(op, expected, out, fields)
            self._add(op, "matmul", fields, (b, bias if has_bias else None))
            return
        fields = dict(kind=LayerKind.MATMUL, in_channels=k, out_channels=n, in_h=m, batch=math.prod(batch_shape))
        _check_shape(op, expected, out, fields)
        self._add(op, "matmul", fields)

    # ---- attention -------------------------------------------------------------------------------
    def _sdpa(self, out: torch.Tensor, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
              *_: Any, **__: Any) -> None:
        """softmax(Q K^T) V as its two matrix products (masks and causality do not shrink a dense array's work)."""
        batch = math.prod(int(s) for s in query.shape[:-2])
        lq, e = int(query.shape[-2]), int(query.shape[-1])
        s_len, ev = int(key.shape[-2]), int(value.shape[-1])
        _check_shape("scaled_dot_product_attention", (*query.shape[:-1], ev), out, {"query": tuple(query.shape)})
        self._add("sdpa", "scores", dict(kind=LayerKind.MATMUL, in_channels=e, out_channels=s_len, in_h=lq, batch=batch))
        self._add("sdpa", "context", dict(kind=LayerKind.MATMUL, in_channels=s_len, out_channels=ev, in_h=lq,
                                          batch=batch))

    def _mha(self, out: Any, a: dict[str, Any]) -> None:
        """F.multi_head_attention_forward (what nn.MultiheadAttention runs) as its six products:
        q/k/v projections, scores, context and the output projection. Inputs are (L, N, E) here."""
        query, key, value = a["query"], a["key"], a["value"]
        heads = int(a["num_heads"])
        batched = query.dim() == 3
        n = int(query.shape[1]) if batched else 1
        lq, e = int(query.shape[0]), int(query.shape[-1])
        s_len = int(key.shape[0])
        separate = a.get("use_separate_proj_weight", False)
        packed_w, packed_b = a.get("in_proj_weight"), a.get("in_proj_bias")
        proj_w = [a.get("q_proj_weight"), a.get("k_proj_weight"), a.get("v_proj_weight")] if separate else [packed_w] * 3
        static = [None, a.get("static_k"), a.get("static_v")]
        for i, (tag, x, weight) in enumerate(zip(("q_proj", "k_proj", "v_proj"), (query, key, value), proj_w)):
            if static[i] is not None:
                continue  # precomputed keys/values: no projection runs
            in_features = int(weight.shape[1]) if separate else e
            # the packed in_proj parameters are owned by the q projection alone so they count once
            owned = ((weight,) if separate else ()) + ((packed_w if not separate else None, packed_b) if i == 0 else ())
            self._add("mha", tag, dict(kind=LayerKind.LINEAR, in_channels=in_features, out_channels=e,
                                       in_h=int(x.shape[0]), batch=n, bias=packed_b is not None), owned)
        if a.get("bias_k") is not None:
            s_len += 1
        if a.get("add_zero_attn"):
            s_len += 1
        if a.get("static_k") is not None:
            s_len = int(a["static_k"].shape[1])
        head_dim = e // heads
        self._add("mha", "scores", dict(kind=LayerKind.MATMUL, in_channels=head_dim, out_channels=s_len, in_h=lq,
                                        batch=n * heads))
        self._add("mha", "context", dict(kind=LayerKind.MATMUL, in_channels=s_len, out_channels=head_dim, in_h=lq,
                                         batch=n * heads))
        out_w, out_b = a["out_proj_weight"], a.get("out_proj_bias")
        self._add("mha", "out_proj", dict(kind=LayerKind.LINEAR, in_channels=e, out_channels=int(out_w.shape[0]),
                                          in_h=lq, batch=n, bias=out_b is not None), (out_w, out_b))
        expected = (lq, n, int(out_w.shape[0])) if batched else (lq, int(out_w.shape[0]))
        _check_shape("multi_head_attention_forward", expected, out[0] if isinstance(out, tuple) else out,
                     {"query": tuple(query.shape), "num_heads": heads})

    def _einsum(self, out: Any, args: tuple, kwargs: dict) -> None:
        equation = args[0] if args else kwargs.get("equation")
        operands = list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
        dims = _einsum_gemm(equation, operands) if isinstance(equation, str) else None
        if dims is None or not isinstance(out, torch.Tensor):
            self._skip(f"einsum({equation})" if isinstance(equation, str) else "einsum")
            return
        batch, m, n, k = dims
        if batch * m * n * k == 0:
            self._skip(f"einsum({equation}) on an empty tensor")
            return
        fields = dict(kind=LayerKind.MATMUL, in_channels=k, out_channels=n, in_h=m, batch=batch)
        if out.numel() != batch * m * n:
            raise AssertionError(f"from_torch internal error: einsum {equation!r} gives {tuple(out.shape)} "
                                 f"but the GEMM view {fields} implies {batch * m * n} elements")
        self._add("einsum", "matmul", fields)


# ---- helpers -------------------------------------------------------------------------------------
def _ntuple(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    values = tuple(int(v) for v in value)
    return values * n if len(values) == 1 else values


def _rows(shape: torch.Size) -> tuple[int, int]:
    """(batch, rows) of a (batch, ..., features) activation: see the linear convention in layer.py."""
    if len(shape) <= 1:
        return 1, 1
    return int(shape[0]), math.prod(int(s) for s in shape[1:-1])


def _arg(args: tuple, kwargs: dict, position: int, *names: str) -> Any:
    """An argument given by position or by one of its keyword names."""
    if len(args) > position:
        return args[position]
    for key in names:
        if key in kwargs:
            return kwargs[key]
    return None


def _check_shape(op: str, expected: tuple[int, ...], out: Any, fields: dict[str, Any]) -> None:
    """A mismatch means our Layer model disagrees with PyTorch: a bug in archsim, not user error."""
    observed = tuple(out.shape) if isinstance(out, torch.Tensor) else None
    if observed != tuple(expected):
        raise AssertionError(f"from_torch internal error: {op} produced shape {observed} but the Layer built from "
                             f"its arguments {fields} implies {tuple(expected)}; please report this")


def _einsum_gemm(equation: str, operands: list[Any]) -> tuple[int, int, int, int] | None:
    """(batch, M, N, K) of a two-operand einsum that is a (batched) matrix product, else None.

    Index classes: in both inputs and the output -> batch; only in the first input and the output
    -> M; only in the second and the output -> N; in both inputs but not the output -> K. An index
    summed within one operand or repeated inside one operand (a trace/diagonal) is not a GEMM.
    """
    if len(operands) != 2 or not all(isinstance(t, torch.Tensor) for t in operands):
        return None
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != 2:
        return None
    used = set(eq)
    free = [c for c in string.ascii_letters if c not in used]
    n_ell = 0
    for sub, t in zip(subs, operands):
        if "..." in sub:
            n_ell = max(n_ell, t.dim() - (len(sub) - 3))
    ell = free[:n_ell]
    expanded: list[list[str]] = []
    sizes: dict[str, int] = {}
    for sub, t in zip(subs, operands):
        if "..." in sub:
            before, _, after = sub.partition("...")
            k = t.dim() - len(before) - len(after)
            letters = list(before) + ell[n_ell - k:] + list(after)
        else:
            letters = list(sub)
        if len(letters) != t.dim() or len(set(letters)) != len(letters):
            return None
        for c, s in zip(letters, t.shape):
            sizes[c] = max(sizes.get(c, 1), int(s))
        expanded.append(letters)
    if arrow:
        before, _, after = rhs.partition("...")
        out = list(before) + (ell if "..." in rhs else []) + list(after)
    else:
        counts = {c: sum(c in e for e in expanded) for c in sizes if c not in ell}
        out = ell + sorted(c for c, n in counts.items() if n == 1)
    a, b, o = set(expanded[0]), set(expanded[1]), set(out)
    batch = m = n = k = 1
    for c, s in sizes.items():
        if c in a and c in b:
            if c in o:
                batch *= s
            else:
                k *= s
        elif c in o:
            if c in a:
                m *= s
            else:
                n *= s
        else:
            return None
    return batch, m, n, k


def _check_module(module: Any) -> None:
    """``module`` must be an ``nn.Module`` instance; the usual mistakes (a ``state_dict``, the model class, the
    arguments swapped) each get a message that says what to pass instead."""
    if isinstance(module, nn.Module):
        return
    if isinstance(module, Mapping) and any(isinstance(v, torch.Tensor) for v in module.values()):
        raise ArchsimInputError("from_torch: module is a state_dict (a mapping of tensors), not a model; build the "
                                "model and load it first: model.load_state_dict(state_dict); "
                                "from_torch(model, example_input)")
    if isinstance(module, type) and issubclass(module, nn.Module):
        raise ArchsimInputError(f"from_torch: module is the class {module.__name__}, not a model; pass an instance, "
                                f"e.g. from_torch({module.__name__}(), example_input)")
    if isinstance(module, torch.Tensor):
        raise ArchsimInputError("from_torch: module is a tensor; the arguments are (module, example_input), "
                                "in that order")
    raise ArchsimInputError(f"from_torch: module must be a torch.nn.Module, got {type(module).__name__}")


def _unbatched_error(net_name: str, where: tuple[str, str, tuple[int, ...]]) -> ArchsimInputError:
    op, path, shape = where
    return ArchsimInputError(
        f"from_torch({net_name}): example_input is unbatched: {op} in {path or 'the root module'!r} got an input "
        f"of shape {shape} with no batch dimension; add it (example_input.unsqueeze(0)): the batch is read from "
        f"dim 0")


def _split_input(example_input: Any) -> tuple[tuple, dict, torch.Tensor]:
    if isinstance(example_input, torch.Tensor):
        args, kwargs = (example_input,), {}
    elif isinstance(example_input, (tuple, list)):
        args, kwargs = tuple(example_input), {}
    elif isinstance(example_input, dict):
        args, kwargs = (), dict(example_input)
    else:
        raise ArchsimInputError(f"example_input must be a tensor, a tuple of positional arguments or a dict of "
                                f"keyword arguments, got {type(example_input).__name__}")
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            return args, kwargs, value
        if isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, torch.Tensor):
                    return args, kwargs, item
    raise ArchsimInputError("example_input must contain at least one tensor (the batch is read from the first one)")


def _name_layers(records: list[_Record], root_label: str) -> list[str]:
    per_call: dict[tuple[int, str], int] = {}
    for r in records:
        if not r.own:
            per_call[(r.call_id, r.kind)] = per_call.get((r.call_id, r.kind), 0) + 1
    index: dict[tuple[int, str], int] = {}
    seen: dict[str, int] = {}
    names = []
    for r in records:
        if r.own:
            base = r.path or root_label
        else:
            key = (r.call_id, r.kind)
            base = f"{r.path}.{r.kind}" if r.path else r.kind
            if per_call[key] > 1:
                base += str(index.get(key, 0))
                index[key] = index.get(key, 0) + 1
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return names


def from_torch(module: nn.Module, example_input: torch.Tensor | tuple | dict, name: str | None = None) -> Network:
    """Run ``module`` once on ``example_input`` (eval mode, no grad) and return its layer table.

    ``example_input``: a tensor, a tuple/list of positional arguments, or a dict of keyword
    arguments. The batch is the first dim of the first tensor found (inputs must be batched).
    The module's train/eval flags are restored afterwards. Meta-device modules and inputs work
    (shapes only, no arithmetic), which makes tracing large models nearly free.
    """
    _check_module(module)
    args, kwargs, first = _split_input(example_input)
    net_name = name or type(module).__name__
    batch = int(first.shape[0]) if first.dim() >= 2 else 1

    params = {id(p): p for p in module.parameters()}
    tracer = _Tracer(params=params)
    call_ids = iter(range(1, 1 << 62))
    handles = []

    def make_hooks(path: str) -> tuple[Callable, Callable]:
        def pre(mod: nn.Module, _args: Any) -> None:
            tracer.stack.append(_Frame(path=path, module=mod, call_id=next(call_ids)))

        def post(mod: nn.Module, _args: Any, _out: Any) -> None:
            # Pop up to and including this module's frame (robust to a child that raised).
            while tracer.stack:
                if tracer.stack.pop().module is mod:
                    break
        return pre, post

    modes = [(m, m.training) for m in module.modules()]
    try:
        for path, mod in module.named_modules():
            pre, post = make_hooks(path)
            handles.append(mod.register_forward_pre_hook(pre))
            handles.append(mod.register_forward_hook(post, always_call=True))
        module.eval()
        with torch.no_grad(), tracer:
            try:
                module(*args, **kwargs)
            except (AssertionError, ArchsimInputError):
                raise
            except Exception as err:  # the user's model failed on the given input
                if tracer.unbatched:   # most often because the input lacks its batch dimension
                    raise _unbatched_error(net_name, tracer.unbatched[0]) from None
                shapes = [tuple(v.shape) for v in (*args, *kwargs.values()) if isinstance(v, torch.Tensor)]
                raise ArchsimInputError(f"from_torch: running {net_name} on example_input {shapes} failed: "
                                        f"{type(err).__name__}: {err}") from err
    finally:
        for handle in handles:
            handle.remove()
        for mod, training in modes:
            mod.training = training

    if tracer.skipped:
        listing = "; ".join(f"{op} x{n} (in {', '.join(sorted(set(tracer.skipped_where[op]))[:4])}"
                            f"{', ...' if len(set(tracer.skipped_where[op])) > 4 else ''})"
                            for op, n in tracer.skipped.items())
        warnings.warn(f"from_torch({net_name}): ops with no layer model were not counted in MACs: {listing}",
                      UnmodelledOpWarning, stacklevel=2)
    if tracer.unbatched:
        raise _unbatched_error(net_name, tracer.unbatched[0])
    if not tracer.records:
        raise ArchsimInputError(
            f"from_torch({net_name}): no Conv1d/Conv2d/Linear/matmul ran in forward; nothing to simulate. "
            f"Check that the module's forward uses these ops"
            + (f" (it ran only ops that have no layer model: {sorted(tracer.skipped)})" if tracer.skipped else ""))

    root_label = type(module).__name__.lower()
    names = _name_layers(tracer.records, root_label)
    layers = tuple(Layer(name=n, **r.fields) for n, r in zip(names, tracer.records))

    uses: dict[int, int] = {}
    for r in tracer.records:
        for pid in set(r.consumed):
            uses[pid] = uses.get(pid, 0) + 1
    extra = sum(p.numel() for pid, p in params.items() if pid not in uses)
    notes = []
    shared = sum(params[pid].numel() * (n - 1) for pid, n in uses.items() if n > 1)
    if shared:
        notes.append(f"{shared:,} parameter elements feed more than one layer and are counted by each, so "
                     f"params exceeds the module's parameter count by that much")
    computed = [n for n, r in zip(names, tracer.records) if r.computed_weight]
    if computed:
        notes.append(f"weights computed in forward (not parameters) in {len(computed)} layer(s), e.g. {computed[0]}; "
                     f"their source parameters are also counted in extra_params")
    odd = [layer.name for layer in layers if layer.batch % batch]
    if odd:
        notes.append(f"{len(odd)} layer(s) (e.g. {odd[0]}) do not carry the batch {batch} in their leading "
                     f"dimension; Network.with_batch would mis-scale them, so trace at the batch you need")
    return Network(name=net_name, layers=layers, input_shape=tuple(int(s) for s in first.shape), batch=batch,
                   extra_params=extra, notes="; ".join(notes), skipped_ops=dict(tracer.skipped))
