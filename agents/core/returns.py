r"""Monte Carlo returns ``G_t = sum_k gamma^k r_{t+k}`` and the textbook ``gamma^t`` weights.

The returns satisfy the backward recursion ``G_t = r_t + gamma (1 - done_t) G_{t+1}``, an affine
recurrence ``G_t = b_t + a_t G_{t+1}`` with ``a_t = gamma (1 - done_t)``, ``b_t = r_t``.
Composing two steps gives another affine map, ``(a_t, b_t) o (a_{t+1}, b_{t+1}) =
(a_t a_{t+1}, b_t + a_t b_{t+1})``, so a Hillis-Steele scan evaluates all ``G_t`` in
``ceil(log2 T)`` vectorised doubling steps: no Python loop over ``t``. gamma = 0 is exact; otherwise
the scan adds partial sums in tree order, not one reward at a time, so it agrees with the
sequential recursion up to rounding (gamma = 1, 1000 float32 rewards: 1e-5), and nothing overflows
(unlike the ``gamma^-t`` cumulative-sum trick).
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

from agents.core.batch import all_finite, true_indices


def discounted_returns(
    rewards: Tensor, gamma: float, dones: Tensor | None = None, longest_episode: int | None = None
) -> Tensor:
    r"""``G_t = sum_{k>=0} gamma^k r_{t+k}``, cut at episode ends; same shape as ``rewards``.

    :param rewards: ``[..., T]`` rewards ``r_t`` received after action ``A_t`` (time on the last
        axis; leading axes are independent streams, e.g. zero-padded episodes).
    :param gamma: discount ``gamma`` in ``[0, 1]``.
    :param dones: optional ``[..., T]`` bool, True where an episode ends at ``t``: the return
        does not flow back across it. Without it the whole axis is one episode.
    :param longest_episode: the longest episode's length, if known: once the doubling offset
        reaches it every ``a`` product spans an episode end and is 0, so the scan stops there (a
        value below the longest length stops it early: the returns are then wrong).
    :return: ``[..., T]`` returns ``G_t`` in the rewards' floating dtype (integer rewards are
        converted to torch's default dtype first; a numpy array keeps its float dtype).
    :raises ValueError: when ``gamma`` is outside ``[0, 1]`` or the dones are not flags.

    Rewards that require a gradient get returns that carry it (``d G_t / d r_k = gamma^(k-t)``
    within an episode), also under ``torch.func`` (``vmap``, ``grad``, ``jacfwd``): the scan then
    makes new tensors at each doubling step, the same numbers.
    """
    check_gamma(gamma)
    if not (isinstance(rewards, Tensor) and rewards.is_floating_point()):  # an int gamma would be 0
        rewards = torch.as_tensor(rewards)
        rewards = rewards if rewards.is_floating_point() else rewards.to(torch.get_default_dtype())
    if rewards.dim() == 0:
        raise ValueError("rewards must have a time axis, [..., T] (got a scalar)")
    if dones is not None:  # a list or numpy array too, as the rewards ('list' has no attribute 'bool')
        dones = checked_dones(dones, rewards.device)
        if dones.shape != rewards.shape:
            shapes = f"{list(rewards.shape)}; got {list(dones.shape)}"
            raise ValueError(f"dones must have the rewards' shape {shapes}")
    if gamma == 0:  # G_t = r_t, also for an inf reward (the scan's 0 * inf made it nan without dones)
        return rewards.clone()
    span = rewards.shape[-1] if longest_episode is None else min(longest_episode, rewards.shape[-1])
    if torch._C._are_functorch_transforms_active():  # vmap, grad, jacfwd: no out= buffers (no batching
        # rule), and no test of the values (data-dependent control flow): the inf-proof scan at once
        return _scan_differentiable(rewards, gamma, dones, span, apart=dones is not None)
    returns = _scan(rewards, gamma, dones, span)
    if dones is not None and not all_finite(returns):  # an inf return times an episode end's a = 0
        returns = _scan(rewards, gamma, dones, span, apart=True)  # made every earlier episode's nan
    return returns


def _scan(rewards: Tensor, gamma: float, dones: Tensor | None, span: int, apart: bool = False) -> Tensor:
    """:func:`_scan_in_place`, or for rewards that require a gradient (torch's "functions with
    out=... arguments don't support automatic differentiation") the same steps on new tensors."""
    if rewards.requires_grad and torch.is_grad_enabled():
        return _scan_differentiable(rewards, gamma, dones, span, apart)
    return _scan_in_place(rewards, gamma, dones, span, apart)


def _scan_differentiable(
    rewards: Tensor, gamma: float, dones: Tensor | None, span: int, apart: bool = False
) -> Tensor:
    """:func:`_scan_in_place`'s products and sums, each a new tensor, so autograd follows them."""
    decay = torch.full_like(rewards, gamma).detach()
    if dones is not None:
        decay = decay.masked_fill(dones.bool(), 0.0)
    returns, offset = rewards, 1
    while offset < span:
        head, tail, end = (..., slice(None, -offset)), (..., slice(offset, None)), (..., slice(-offset, None))
        step = decay[head] * returns[tail]
        if apart:
            step = step.masked_fill(step.isnan() & (decay[head] == 0.0), 0.0)
        returns = torch.cat([returns[head] + step, returns[end]], dim=-1)
        decay = torch.cat([decay[head] * decay[tail], torch.zeros_like(decay[end])], dim=-1)
        offset *= 2
    return returns


def _scan_in_place(
    rewards: Tensor, gamma: float, dones: Tensor | None, span: int, apart: bool = False
) -> Tensor:
    """The doubling steps of :func:`discounted_returns` up to offset ``span``. ``apart``: a product
    ``a_t b_{t+offset}`` with ``a_t = 0`` (an episode end lies between) is 0 also for an inf or nan
    ``b_{t+offset}``, which made it nan, so no episode's inf or nan reaches an earlier one (finite
    returns do not need the extra passes: their products are never nan)."""
    decay = torch.full_like(rewards, gamma)  # a_t = gamma (1 - done_t)
    if dones is not None:
        decay.masked_fill_(dones.bool(), 0.0)
    returns = rewards.clone()  # b_t
    offset = 1
    next_decay, products = torch.empty_like(decay), torch.empty_like(returns)  # reused each step
    while offset < span:  # ceil(log2 span) doubling steps, each on the preallocated arrays:
        head, tail = (..., slice(None, -offset)), (..., slice(offset, None))
        # b_t += a_t b_{t+offset}   (past the end b_{t+offset} = 0: b_t stays)
        step = torch.mul(decay[head], returns[tail], out=products[head])
        if apart:
            step.masked_fill_(step.isnan() & (decay[head] == 0.0), 0.0)
        returns[head].add_(step)
        # a_t <- a_t a_{t+offset}   (past the end: 0)
        torch.mul(decay[head], decay[tail], out=next_decay[head])
        next_decay[..., -offset:] = 0.0
        decay, next_decay = next_decay, decay
        offset *= 2
    return returns


def checked_dones(dones: Tensor | object, device: torch.device | None = None) -> Tensor:
    """``dones`` as a tensor of flags: bools, or numbers that are all 0 or 1 (``0.5`` or ``2`` read as
    an episode end without a word); otherwise ``ValueError``."""
    dones = torch.as_tensor(dones, device=device)
    if dones.dtype != torch.bool and dones.numel() and not bool(((dones == 0) | (dones == 1)).all()):
        odd = dones[(dones != 0) & (dones != 1)].flatten()[0].item()
        raise ValueError(f"dones must be flags (bools, or 0 and 1), True where an episode ends; got {odd!r}")
    return dones


def longest_episode(dones: Tensor, ends: Tensor | None = None) -> int:
    """Length of the longest episode in a flat ``[T]`` stream whose last step ends one (``ends``:
    the indices of ``dones``' True steps, where already known)."""
    ends = true_indices(dones) if ends is None else ends
    return int(torch.diff(ends, prepend=ends.new_full((1,), -1)).max())


def steps_since_start(dones: Tensor) -> Tensor:
    """Index ``t`` of each step within its episode, for ``[..., T]`` streams of episodes (time on
    the last axis, as :func:`discounted_returns` takes them; a list or numpy array too)."""
    dones = checked_dones(dones).bool()
    if dones.dim() == 0:  # as discounted_returns says of a scalar (an IndexError was raw)
        raise ValueError("dones must have a time axis, [..., T] (got a scalar)")
    position = torch.arange(dones.shape[-1], device=dones.device).expand(dones.shape)
    starts = torch.zeros_like(position)
    starts[..., 1:] = torch.where(dones[..., :-1], position[..., 1:], 0)
    return position - torch.cummax(starts, dim=-1).values


def discount_weights(dones: Tensor, gamma: float, dtype: torch.dtype | None = None) -> Tensor:
    r"""``gamma^t`` with ``t`` counted from each episode's start (S&B p. 328); shaped like ``dones``.

    The episodic objective ``J = v_pi(s_0)`` weights step ``t`` by ``gamma^t``: states reached
    later count less. Most implementations drop it; the textbook rule keeps it.

    :param dones: ``[..., T]`` bool, True where an episode ends, as :func:`discounted_returns` takes them.
    :param dtype: the weights' dtype; None: torch's default (float32, as a policy's and as the
        returns of float rewards), so that ``weights * returns`` stays in the policy's dtype.
    :raises ValueError: when ``gamma`` is outside ``[0, 1]`` (above 1 the weights grow without bound).
    """
    check_gamma(gamma)
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if not dtype.is_floating_point:  # int64 weights rounded gamma^t to 0 and 1
        raise ValueError(f"discount weights are fractions: give a floating dtype, not {dtype}")
    return torch.tensor(gamma, dtype=dtype) ** steps_since_start(dones).to(dtype)


def check_gamma(gamma: float) -> None:
    """``ValueError`` unless ``gamma`` is a number in ``[0, 1]`` (NaN and strings included)."""
    if not isinstance(gamma, numbers.Real) or not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma={gamma!r} must be a number in [0, 1]")
