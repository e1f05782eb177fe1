r"""A multilayer-perceptron softmax policy whose score is backpropagation written out by hand.

The logits are a small network of the state features ``x(s)``; with ``L`` layers,
``h_0 = x`` and, for ``l = 1..L``::

    z_l = h_{l-1} W_l + b_l          W_l: [n_{l-1}, n_l], b_l: [n_l]
    h_l = act(z_l)                   (hidden layers, l < L)
    logits = z_L                     (no activation on the last layer)

Section 1 of docs/math.md gives ``grad log pi(a|s) = J^T (e_a - pi)``, ``J`` the Jacobian of the
logits; the chain rule through the layers turns that product into the delta recursion of
backpropagation (docs/math.md, section 7)::

    delta_L = e_a - pi                                          [A]
    grad W_l = h_{l-1} delta_l^T,  grad b_l = delta_l
    delta_{l-1} = (delta_l W_l^T) * act'(z_{l-1})

With no hidden layer (``hidden_sizes=()``) it is the linear policy ``softmax(x W + b)``.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from agents.core.policy import SoftmaxPolicy, check_sizes, register_policy
from agents.errors import UserError


def _tanh(z: Tensor) -> Tensor:
    """``tanh(z) = 2 sigmoid(2z) - 1``: the same function, computed through ``sigmoid``, chosen when
    it measured 3x faster than ``torch.tanh`` (180 us against 590 us on a 3500x64 float32 batch,
    best of 5; numpy's ``tanh``: 85 us). On the 2-core Intel Xeon VM of 2026-12 the single op is the
    other way round (221 us against 56 us, one thread), and its float32 error is larger (1.5e-7
    against 3e-8, absolute); it stays because the MLP results of docs/results.md are its bits.
    Autograd differentiates this, the hand-written backward pass uses ``tanh' = 1 - h^2``: the
    checks compare the two."""
    return torch.sigmoid(2 * z).mul(2).sub(1)


def _tanh_derivative(hidden: Tensor) -> Tensor:
    """``tanh'(z) = 1 - tanh(z)^2 = 1 - h^2``, from the layer's output ``h = tanh(z)``."""
    return 1 - hidden * hidden


def _tanh_overwriting(z: Tensor) -> Tensor:
    """:func:`_tanh` in place: the same operations on the same numbers, no new arrays."""
    return torch.sigmoid_(z.mul_(2)).mul_(2).sub_(1)


def _tanh_derivative_overwriting(hidden: Tensor) -> Tensor:
    """:func:`_tanh_derivative` in place (``-h^2 + 1``, the same rounding as ``1 - h^2``)."""
    return hidden.mul_(hidden).neg_().add_(1)


def _relu_derivative(hidden: Tensor) -> Tensor:
    """``relu'(z) = [z > 0] = [h > 0]``, from ``h = max(z, 0)``: the kink ``z = 0`` gets
    derivative 0, the convention of torch's autograd (``relu`` backward), so the two paths agree
    there too."""
    return (hidden > 0).to(hidden.dtype)


def _relu_derivative_overwriting(hidden: Tensor) -> Tensor:
    """:func:`_relu_derivative` in place: ``sign(h)`` is ``[h > 0]`` for ``h = max(z, 0) >= 0``."""
    return hidden.sign_()


def _tanh_inplace(z: np.ndarray) -> np.ndarray:
    return np.tanh(z, out=z)


def _relu_inplace(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0, out=z)


def _overwrite() -> bool:
    """Whether the torch passes may overwrite their intermediate arrays: only when no autograd graph
    is recorded (``torch.no_grad``, as in training; ``torch.func.grad`` records one)."""
    return not torch.is_grad_enabled()


@dataclass(frozen=True)
class Activation:
    """A hidden-layer nonlinearity ``h = act(z)`` in torch and numpy, and its derivative."""

    forward: Callable[[Tensor], Tensor]
    """``h = act(z)``."""
    derivative: Callable[[Tensor], Tensor]
    """``act'(z)`` written in terms of the output ``h = act(z)`` (the forward pass keeps ``h``)."""
    numpy_inplace: Callable[[np.ndarray], np.ndarray]
    """``act`` in numpy, overwriting its argument (the acting hot path)."""
    forward_overwriting: Callable[[Tensor], Tensor]
    """:attr:`forward`, overwriting its argument (the update, when no autograd graph is recorded)."""
    derivative_overwriting: Callable[[Tensor], Tensor]
    """:attr:`derivative`, overwriting its argument ``h`` (likewise)."""


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation(
        _tanh, _tanh_derivative, _tanh_inplace, _tanh_overwriting, _tanh_derivative_overwriting
    ),
    "relu": Activation(
        torch.relu, _relu_derivative, _relu_inplace, torch.relu_, _relu_derivative_overwriting
    ),
}
"""``agent.activation`` name -> :class:`Activation`."""

HIDDEN_GAIN = math.sqrt(2)
"""Orthogonal-init gain of the hidden layers (SB3/CleanRL)."""
LAST_GAIN = 0.01
"""Orthogonal-init gain of the last layer: logits near 0, so the initial policy is near uniform."""


@dataclass(frozen=True)
class _Layer:
    """Where layer ``l``'s ``W_l [n_in, n_out]`` (row-major) and ``b_l [n_out]`` lie in the flat param."""

    weight: slice
    bias: slice
    shape: tuple[int, int]
    hidden: bool
    """A hidden layer (``act`` follows) rather than the last one."""


@register_policy("mlp")
class MLPSoftmaxPolicy(SoftmaxPolicy):
    r"""``pi(.|s) = softmax(MLP(x(s)))`` with every weight and bias in one flat vector ``theta``.

    Layout of ``theta [n_params]``: ``W_1`` (row-major ``[d, n_1]``), ``b_1``, ``W_2``, ``b_2``,
    ..., ``W_L`` (``[n_{L-1}, A]``), ``b_L``; :meth:`weights_and_biases` returns the views. The
    score is ``[B, n_params]`` in the same layout.

    Initialisation (seeded through ``generator``, else the global torch RNG): orthogonal weights
    with gain ``sqrt(2)`` for the hidden layers and ``0.01`` for the last one, zero biases (as
    SB3 and CleanRL do), so the logits start near 0 and the policy near uniform.

    :param state_dim: length ``d`` of the state features ``x(s)``.
    :param n_actions: number of discrete actions ``A``.
    :param hidden_sizes: widths ``n_1 .. n_{L-1}`` of the hidden layers; ``()`` = the linear policy.
    :param activation: ``tanh`` or ``relu`` (``relu'(0)`` is taken as 0, as torch does).
    :param dtype: parameter dtype (float64 for gradient checks).
    :param generator: seeds the initialisation; None = the global torch RNG.
    """

    option_keys = ("hidden_sizes", "activation")

    input_form = "state"

    def __init__(
        self,
        state_dim: int,
        n_actions: int,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: str = "tanh",
        dtype: torch.dtype = torch.float32,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise UserError(f"agent.activation={activation!r} is not one of {', '.join(ACTIVATIONS)}")
        if isinstance(hidden_sizes, str) or not all(
            isinstance(width, numbers.Integral) and not isinstance(width, bool) and width > 0
            for width in hidden_sizes
        ):  # a string would read as its characters' widths, -1 as torch's RuntimeError
            raise UserError(
                f"agent.hidden_sizes={hidden_sizes!r} must be a list of positive ints, e.g. [64, 64]"
            )
        check_sizes(state_dim, n_actions)
        self.state_dim, self.n_actions = int(state_dim), int(n_actions)
        self.hidden_sizes = tuple(int(width) for width in hidden_sizes)
        self.activation_name = activation
        self.activation = ACTIVATIONS[activation]
        widths = (state_dim, *self.hidden_sizes, n_actions)
        self.layers: list[_Layer] = []
        offset = 0
        for index, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
            bias_start, end = offset + n_in * n_out, offset + n_in * n_out + n_out
            hidden = index < len(self.hidden_sizes)
            self.layers.append(
                _Layer(slice(offset, bias_start), slice(bias_start, end), (n_in, n_out), hidden)
            )
            offset = end
        self.n_params = offset
        self.theta = nn.Parameter(self._initial_param(dtype, generator))
        self._acting_cache: tuple[np.ndarray | None, list[tuple[np.ndarray, np.ndarray, bool]]] = (None, [])

    def _initial_param(self, dtype: torch.dtype, generator: torch.Generator | None) -> Tensor:
        """Orthogonal ``W_l`` (gain ``sqrt(2)``, last layer ``0.01``), zero ``b_l``; ``[n_params]``."""
        param = torch.zeros(self.n_params, dtype=dtype)
        for (weight, _), layer in zip(self.weights_and_biases(param), self.layers, strict=True):
            nn.init.orthogonal_(weight, gain=HIDDEN_GAIN if layer.hidden else LAST_GAIN, generator=generator)
        return param

    @classmethod
    def from_options(cls, input_dim: int, n_actions: int, options: Any, dtype: torch.dtype) -> SoftmaxPolicy:
        """Reads ``options.hidden_sizes`` and ``options.activation`` (defaults when absent)."""
        hidden_sizes = getattr(options, "hidden_sizes", (64, 64))
        activation = getattr(options, "activation", "tanh")
        return cls(input_dim, n_actions, tuple(hidden_sizes), activation, dtype=dtype)

    @property
    def input_width(self) -> int:
        return self.state_dim

    @property
    def param(self) -> nn.Parameter:
        return self.theta

    def weights_and_biases(self, param: Tensor | None = None) -> list[tuple[Tensor, Tensor]]:
        """``[(W_1 [d, n_1], b_1 [n_1]), ..., (W_L [n_{L-1}, A], b_L [A])]``: views into ``param``
        (default :attr:`theta`), first layer first."""
        flat = self.theta if param is None else param
        return [(flat[layer.weight].reshape(layer.shape), flat[layer.bias]) for layer in self.layers]

    def _forward(self, param: Tensor, features: Tensor) -> tuple[list[Tensor], Tensor]:
        r"""The layer inputs ``[h_0 = x, h_1, ..., h_{L-1}]`` (each ``[B, n_l]``) and the logits ``[B, A]``.

        ``z_l = h_{l-1} W_l + b_l``, ``h_l = act(z_l)`` for ``l < L``, ``logits = z_L``.
        """
        hiddens = [features]
        *hidden_layers, (last_weight, last_bias) = self.weights_and_biases(param)
        overwrite = _overwrite()  # the same numbers without temporaries, which took half a 3500-step update
        add = Tensor.add_ if overwrite else Tensor.add
        act = self.activation.forward_overwriting if overwrite else self.activation.forward
        for weight, bias in hidden_layers:  # h_l = act(h_{l-1} W_l + b_l)      [B, n_l]
            hiddens.append(act(add(hiddens[-1] @ weight, bias)))
        return hiddens, add(hiddens[-1] @ last_weight, last_bias)  # logits = h_{L-1} W_L + b_L

    def logits_with(self, param: Tensor, features: Tensor) -> Tensor:
        """``MLP(x)``: ``features [B, d]``, ``param [n_params]`` -> ``[B, A]``."""
        return self._forward(param, features)[1]

    def acting_logits(self, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """:meth:`logits_with` in numpy: ``params [*lead, n_params]``, ``inputs [*lead, B, d]`` ->
        ``[*lead, B, A]``, computed in ``params``' dtype (float32 by default, as training computes
        them); each layer is one matrix product on views of ``params``, cut once per array."""
        hidden = inputs.astype(params.dtype, copy=False)
        product = np.dot if params.ndim == 1 else np.matmul  # one run: np.dot, 2x cheaper on tiny arrays
        for weight, bias, is_hidden in self._acting_layers(params):  # W_l: [*lead, n_in, n_out]
            z = product(hidden, weight)  # h_{l-1} W_l
            z += bias  # z_l = h_{l-1} W_l + b_l                                [*lead, B, n_out]
            hidden = self.activation.numpy_inplace(z) if is_hidden else z  # h_l = act(z_l)
        return hidden

    def _acting_layers(self, params: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, bool]]:
        """``(W_l, b_l, hidden)`` per layer as views of ``params`` (they follow in-place updates).
        The last array's views are kept (with the array, so its identity stays its own): the
        acting hot path passes the same array every step, and cutting the views costs ~1 us each."""
        cached_params, layers = self._acting_cache
        if params is not cached_params:
            lead = params.shape[:-1]
            layers = [
                (params[..., cut.weight].reshape(lead + cut.shape), params[..., None, cut.bias], cut.hidden)
                for cut in self.layers
            ]
            self._acting_cache = (params, layers)
        return layers

    def score_with(self, param: Tensor, features: Tensor, actions: Tensor) -> Tensor:
        r"""``grad_theta log pi(a|s)`` per sample by a hand-written backward pass; ``[B, n_params]``.

        ``delta_L = e_a - pi(.|s)`` at the logits, then per sample and layer (:meth:`_backward`)
        ``grad W_l = h_{l-1} delta_l^T``, ``grad b_l = delta_l``,
        ``delta_{l-1} = (delta_l W_l^T) * act'(z_{l-1})``.

        :param param: ``theta``, ``[n_params]``.
        :param features: state features ``x``, ``[B, d]``.
        :param actions: taken actions ``a``, ``[B]``.
        """
        hiddens, logits = self._forward(param, features)
        probs = torch.softmax(logits, dim=-1)  # pi(.|s)                      [B, A]
        delta = self._one_hot(actions, probs) - probs  # delta_L = e_a - pi   [B, A]
        return self._backward(param, hiddens, delta, _per_sample_gradient)

    def expected_score(self, features: Tensor, coef: Tensor) -> Tensor:
        r"""``sum_a c_a score(s, a)`` per sample in one backward pass; ``coef [B, A]`` -> ``[B, n_params]``.

        The score is linear in ``delta_L``, so the sum moves to the top of the network:
        ``sum_a c_a (e_a - pi) = c - (sum_a c_a) pi``, then the same backward pass as
        :meth:`score_with`.
        """
        return self._expected_score_per_state(features, coef, self._batch_expected_score)

    def _batch_expected_score(self, features: Tensor, coef: Tensor) -> Tensor:
        """:meth:`expected_score` of a batch ``[B, d]``."""
        hiddens, logits = self._forward(self.theta, features)
        probs = torch.softmax(logits, dim=-1)  # pi(.|s)                                 [B, A]
        delta = coef - coef.sum(-1, keepdim=True) * probs  # delta_L = c - (sum_a c_a) pi  [B, A]
        return self._backward(self.theta, hiddens, delta, _per_sample_gradient)

    def policy_gradient_with(
        self, param: Tensor, features: Tensor, actions: Tensor, coefficients: Tensor
    ) -> Tensor:
        r"""``sum_t c_t grad log pi(A_t|S_t)`` by one batch backward pass; ``[n_params]``.

        Never forms ``[T, n_params]``: the sum over ``t`` moves into ``delta_L`` and the matmuls,
        ``delta_L = c_t (e_{A_t} - pi(.|S_t))`` per row, ``grad W_l = H_{l-1}^T Delta_l``,
        ``grad b_l = sum_t delta_{l,t}``, ``delta_{l-1} = (delta_l W_l^T) * act'(z_{l-1})``.

        :param features: ``[T, d]``; ``actions``: ``[T]``; ``coefficients``: ``c_t``, ``[T]``.
        """
        if self._redefines(MLPSoftmaxPolicy, "logits_with", "score_with"):  # a subclass's own score
            return super().policy_gradient_with(param, features, actions, coefficients)
        return self._batch_backward(param, *self._forward(param, features), actions, coefficients)

    def policy_gradient_and_log_probs(
        self, features: Tensor, actions: Tensor, coefficients: Tensor
    ) -> tuple[Tensor, Tensor]:
        """:meth:`policy_gradient_with` at :attr:`param` and the log-softmax of the logits its
        forward pass computed (a second pass for the statistics costs 40% of the gradient)."""
        if self._redefines(MLPSoftmaxPolicy, "logits_with", "score_with", "policy_gradient_with"):
            return super().policy_gradient_and_log_probs(features, actions, coefficients)
        self._check_actions(features, actions, coefficients)
        hiddens, logits = self._forward(self.param, features)
        gradient = self._batch_backward(self.param, hiddens, logits, actions, coefficients)
        return gradient, torch.log_softmax(logits, dim=-1)

    def _batch_backward(
        self, param: Tensor, hiddens: list[Tensor], logits: Tensor, actions: Tensor, coefficients: Tensor
    ) -> Tensor:
        """The batch backward pass of :meth:`policy_gradient_with` from its forward pass."""
        probs = torch.softmax(logits, dim=-1)  # pi(.|S_t)                                   [T, A]
        delta = coefficients[:, None] * (self._one_hot(actions, probs) - probs)  # c_t (e_a - pi)  [T, A]
        return self._backward(param, hiddens, delta, _batch_gradient)

    def _backward(
        self,
        param: Tensor,
        hiddens: list[Tensor],
        delta: Tensor,
        layer_gradient: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]],
    ) -> Tensor:
        r"""Backpropagate ``delta_L = d(objective)/d logits`` ``[B, A]`` down the layers.

        For ``l = L .. 1``: ``layer_gradient(h_{l-1}, delta_l)`` gives ``(grad W_l, grad b_l)``
        flattened to ``[..., n_in n_out]`` and ``[..., n_out]``, then
        ``delta_{l-1} = (delta_l W_l^T) * act'(z_{l-1})``. Returns the pieces concatenated along
        the last axis in :attr:`theta`'s layout.
        """
        weights = [weight for weight, _ in self.weights_and_biases(param)]
        pieces: list[Tensor] = []
        overwrite = _overwrite()  # h_{l-1} is not needed after act'(z_{l-1}): overwrite it with that
        multiply = Tensor.mul_ if overwrite else Tensor.mul
        derivative = self.activation.derivative_overwriting if overwrite else self.activation.derivative
        for index in reversed(range(len(weights))):
            grad_weight, grad_bias = layer_gradient(hiddens[index], delta)
            pieces += [grad_bias, grad_weight]  # reversed below: W_l before b_l, layer 1 first
            if index > 0:
                # delta_{l-1} = (delta_l W_l^T) * act'(z_{l-1}), act' from h_{l-1} = act(z_{l-1})  [B, n_in]
                delta = multiply(delta @ weights[index].mT, derivative(hiddens[index]))
        return torch.cat(pieces[::-1], dim=-1)

    def _one_hot(self, actions: Tensor, like: Tensor) -> Tensor:
        """``e_a`` rows ``[B, A]`` in ``like``'s dtype (a comparison, so ``torch.func.vmap`` maps it)."""
        return (actions.long()[:, None] == torch.arange(self.n_actions, device=like.device)).to(like.dtype)


def _per_sample_gradient(hidden: Tensor, delta: Tensor) -> tuple[Tensor, Tensor]:
    """``grad W_l = h_{l-1} delta_l^T`` per sample ``[B, n_in n_out]`` (flat outer products) and
    ``grad b_l = delta_l`` ``[B, n_out]``."""
    return (hidden[:, :, None] * delta[:, None, :]).flatten(1), delta


def _batch_gradient(hidden: Tensor, delta: Tensor) -> tuple[Tensor, Tensor]:
    """``grad W_l = sum_t h_{l-1,t} delta_{l,t}^T = H_{l-1}^T Delta_l`` (``[n_in, T] @ [T, n_out]``,
    flat ``[n_in n_out]``) and ``grad b_l = sum_t delta_{l,t}`` ``[n_out]``."""
    return (hidden.mT @ delta).flatten(), delta.sum(0)
