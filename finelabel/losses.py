"""The pairwise "global" loss with fine-grained labels (DESIGN.md section 1).

Over a mini-batch of scored pairs, with S+ the updated scores of the positives and S- those of
the negatives,

    L = var(S+) + var(S-) + lam * max(0, margin - (mean(S+) - mean(S-)))

(Kumar B.G. et al., CVPR 2016). The fine-grained label l in [0, 1] of a pair shifts its score
against its polarity before the loss, s' = s - beta * l for a positive and s' = s + beta * l for
a negative, so hard pairs weigh more. beta = 0 is the predecessor's plain global loss.
"""

from __future__ import annotations

import torch


def centred_by_polarity(hardness: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """(B,) labels minus the mean label of their polarity in the batch.

    With quantile labels mean(l+) + mean(l-) is about 1, so the plain shift lowers
    mean(S+) - mean(S-) by about beta: a larger margin in disguise. Centred labels shift hard
    pairs against easy ones and leave the means, and so the margin, as they were.
    """
    hardness = hardness.clone()
    for side in (positive, ~positive):
        if side.any():
            hardness[side] = hardness[side] - hardness[side].mean()
    return hardness


def updated_scores(
    scores: torch.Tensor, positive: torch.Tensor, hardness: torch.Tensor | None, beta: float,
    *, centre: bool = False,
) -> torch.Tensor:
    """(B,) scores shifted by their hardness: down for positives, up for negatives."""
    if hardness is None or beta == 0.0:
        return scores
    hardness = hardness.to(scores.dtype)
    if centre:
        hardness = centred_by_polarity(hardness, positive)
    sign = torch.where(positive, -1.0, 1.0).to(scores.dtype)  # (B,)
    return scores + beta * sign * hardness


def _population_variance(values: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
    """Variance dividing by n; 0 (still on the autograd graph of ``anchor``) when empty."""
    if values.numel() == 0:
        return anchor.sum() * 0.0
    return (values - values.mean()).pow(2).mean()


def global_loss(
    scores: torch.Tensor,
    positive: torch.Tensor,
    hardness: torch.Tensor | None = None,
    *,
    beta: float = 0.0,
    lam: float = 0.35,
    margin: float = 0.8,
    centre: bool = False,
) -> torch.Tensor:
    """Scalar global loss of a batch of pair scores.

    Args:
        scores: (B,) float scores s of the pairs, higher = more relevant.
        positive: (B,) bool, True where the pair's categories are equal.
        hardness: (B,) fine-grained labels l in [0, 1]; None means all zeros (the plain loss).
        beta: how far a label shifts its score; lam: weight of the margin term;
        margin: the wanted gap between mean positive and mean negative score.
        centre: centre the labels within each polarity first (:func:`centred_by_polarity`).

    A batch with no positive (or no negative) has nothing to separate: the missing side adds no
    variance and the margin term is 0, so the loss is the variance of the present side (0 for an
    empty batch). A side with one pair has variance 0. The result is never NaN.
    """
    if scores.dim() != 1 or positive.shape != scores.shape:
        raise ValueError(f"scores and positive must both be (B,); got {tuple(scores.shape)} "
                         f"and {tuple(positive.shape)}")
    if hardness is not None and hardness.shape != scores.shape:
        raise ValueError(f"hardness must be (B,) like scores; got {tuple(hardness.shape)}")
    positive = positive.to(torch.bool)
    shifted = updated_scores(scores, positive, hardness, beta, centre=centre)
    pos, neg = shifted[positive], shifted[~positive]
    loss = _population_variance(pos, shifted) + _population_variance(neg, shifted)
    if pos.numel() and neg.numel():
        gap = pos.mean() - neg.mean()
        loss = loss + lam * torch.clamp(margin - gap, min=0.0)
    return loss
