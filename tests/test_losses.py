import math

import pytest
import torch

from finelabel.losses import global_loss, updated_scores


def _batch():
    scores = torch.tensor([0.9, 0.5, 0.1, 0.2], dtype=torch.float64)
    positive = torch.tensor([True, True, False, False])
    hardness = torch.tensor([0.5, 1.0, 0.0, 1.0], dtype=torch.float64)
    return scores, positive, hardness


def test_hand_computed_value_with_labels():
    scores, positive, hardness = _batch()
    # beta = 0.2: positives 0.9 - 0.1 = 0.8, 0.5 - 0.2 = 0.3; negatives 0.1, 0.2 + 0.2 = 0.4.
    # var(S+) = 0.25^2 = 0.0625, var(S-) = 0.15^2 = 0.0225 (population variance),
    # gap = 0.55 - 0.25 = 0.3, margin term = 0.35 * (0.8 - 0.3) = 0.175.
    loss = global_loss(scores, positive, hardness, beta=0.2)
    assert loss.item() == pytest.approx(0.0625 + 0.0225 + 0.175)


def test_hand_computed_value_plain():
    scores, positive, _ = _batch()
    # var(S+) = 0.2^2 = 0.04, var(S-) = 0.05^2 = 0.0025, gap = 0.7 - 0.15 = 0.55,
    # margin term = 0.35 * 0.25 = 0.0875.
    assert global_loss(scores, positive).item() == pytest.approx(0.04 + 0.0025 + 0.0875)


def test_margin_term_vanishes_when_separated():
    scores = torch.tensor([2.0, 2.0, 0.0, 0.0])
    positive = torch.tensor([True, True, False, False])
    assert global_loss(scores, positive).item() == 0.0


def test_beta_zero_and_missing_hardness_give_the_plain_loss():
    scores, positive, hardness = _batch()
    plain = global_loss(scores, positive, lam=0.5, margin=1.0)
    assert global_loss(scores, positive, hardness, beta=0.0, lam=0.5, margin=1.0) == plain
    assert global_loss(scores, positive, None, beta=0.3, lam=0.5, margin=1.0) == plain
    zeros = torch.zeros_like(hardness)
    assert global_loss(scores, positive, zeros, beta=0.3, lam=0.5, margin=1.0) == plain
    # Labels alone shift nothing: the shift is asked for by a beta.
    assert global_loss(scores, positive, hardness, lam=0.5, margin=1.0) == plain


def test_updated_scores_move_against_polarity():
    scores, positive, hardness = _batch()
    shifted = updated_scores(scores, positive, hardness, 0.2)
    assert torch.allclose(shifted, torch.tensor([0.8, 0.3, 0.1, 0.4], dtype=torch.float64))
    sign = torch.where(positive, -1.0, 1.0).double()
    for beta in (1.0, 2.5):  # any beta scales the shift, 1.0 included
        torch.testing.assert_close(updated_scores(scores, positive, hardness, beta),
                                   scores + beta * sign * hardness.double())


def test_beta_raises_the_loss_for_hard_pairs():
    scores = torch.tensor([0.6, 0.4, 0.3, 0.1])
    positive = torch.tensor([True, True, False, False])
    hard = torch.ones(4)  # equal shifts per side: variances unchanged, the gap shrinks by 2 beta
    plain = global_loss(scores, positive)
    harder = global_loss(scores, positive, hard, beta=0.25)
    assert harder.item() == pytest.approx(plain.item() + 0.35 * 2 * 0.25)
    assert global_loss(scores, positive, hard, beta=0.5) > harder


def test_only_positives():
    scores = torch.tensor([1.0, 3.0])
    loss = global_loss(scores, torch.tensor([True, True]))
    assert loss.item() == pytest.approx(1.0)  # var of {1, 3}; no negatives, no margin term


def test_only_negatives_single_element_and_empty():
    assert global_loss(torch.tensor([2.0]), torch.tensor([False])).item() == 0.0
    empty = torch.zeros(0, requires_grad=True)
    loss = global_loss(empty, torch.zeros(0, dtype=torch.bool))
    assert loss.item() == 0.0
    loss.backward()
    assert empty.grad is not None and empty.grad.numel() == 0


def test_one_of_each_is_only_the_margin_term():
    loss = global_loss(torch.tensor([0.5, 0.2]), torch.tensor([True, False]))
    assert loss.item() == pytest.approx(0.35 * (0.8 - 0.3))


@pytest.mark.parametrize("positive", [[True] * 5, [False] * 5, [True] + [False] * 4])
def test_gradients_are_finite(positive):
    scores = torch.randn(5, requires_grad=True, generator=torch.Generator().manual_seed(0))
    hardness = torch.rand(5, generator=torch.Generator().manual_seed(1))
    loss = global_loss(scores, torch.tensor(positive), hardness, beta=0.3)
    loss.backward()
    assert math.isfinite(loss.item())
    assert torch.isfinite(scores.grad).all()


def test_gradient_pushes_positives_up_and_negatives_down():
    scores = torch.tensor([0.2, 0.2, 0.1, 0.1], requires_grad=True)
    global_loss(scores, torch.tensor([True, True, False, False])).backward()
    assert (scores.grad[:2] < 0).all() and (scores.grad[2:] > 0).all()


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="positive"):
        global_loss(torch.zeros(3), torch.zeros(2, dtype=torch.bool))
    with pytest.raises(ValueError, match="hardness"):
        global_loss(torch.zeros(3), torch.zeros(3, dtype=torch.bool), torch.zeros(2))


def test_centred_labels_shift_hard_against_easy_without_moving_the_means():
    from finelabel.losses import centred_by_polarity, updated_scores

    scores = torch.tensor([1.0, 1.0, 0.0, 0.0])
    positive = torch.tensor([True, True, False, False])
    hardness = torch.tensor([0.9, 0.1, 0.8, 0.6])
    centred = centred_by_polarity(hardness, positive)
    torch.testing.assert_close(centred, torch.tensor([0.4, -0.4, 0.1, -0.1]))
    plain = updated_scores(scores, positive, hardness, 0.5)
    shifted = updated_scores(scores, positive, hardness, 0.5, centre=True)
    # plain: the gap of the means shrinks by beta * (mean l+ + mean l-); centred: it stays
    assert (plain[:2].mean() - plain[2:].mean()).item() == pytest.approx(1 - 0.5 * 1.2)
    assert (shifted[:2].mean() - shifted[2:].mean()).item() == pytest.approx(1.0)
    torch.testing.assert_close(shifted, torch.tensor([0.8, 1.2, 0.05, -0.05]))
    loss = global_loss(scores, positive, hardness, beta=0.5, centre=True)
    assert loss.item() == pytest.approx(
        float(shifted[:2].var(unbiased=False) + shifted[2:].var(unbiased=False)))
