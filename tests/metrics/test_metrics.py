import numpy as np
import pytest
import torch

from finelabel.metrics import (
    CrossModalScores,
    average_precision_per_query,
    average_precision_per_query_chunked,
    cross_modal_map,
    flat_report,
    mean_average_precision,
    mean_average_precision_chunked,
    per_class_average_precision,
    precision_recall_curve,
    precision_recall_curve_chunked,
    retrieval_report,
)


def naive_ranking(row, query_label, db_labels):
    """Relevance in rank order: Python's sorted is stable, so ties keep database order."""
    order = sorted(range(len(row)), key=lambda j: -row[j])
    return [db_labels[j] == query_label for j in order]


def naive_ap(row, query_label, db_labels, k=None):
    relevant = naive_ranking(row, query_label, db_labels)[:k]
    hits, total = 0, 0.0
    for rank, is_relevant in enumerate(relevant, start=1):
        if is_relevant:
            hits += 1
            total += hits / rank
    return total / hits if hits else 0.0


def naive_pr(row, query_label, db_labels, levels):
    relevant = naive_ranking(row, query_label, db_labels)
    n_relevant = sum(relevant)
    hits, points = 0, []
    for rank, is_relevant in enumerate(relevant, start=1):
        hits += is_relevant
        points.append((hits / n_relevant, hits / rank))
    return [max(p for r, p in points if r >= level - 1e-9) for level in levels]


def random_problem(n_queries, n_db, n_labels, seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=(n_queries, n_db)).astype(np.float32)  # many ties
    return scores, rng.integers(0, n_labels, n_queries), rng.integers(0, n_labels, n_db)


@pytest.mark.parametrize("n_labels", [2, 3, 7])
@pytest.mark.parametrize("k", [None, 1, 5, 52, 53, 100])
@pytest.mark.parametrize("chunk_size", [4, 10, 1024])
def test_average_precision_matches_naive_loop(n_labels, k, chunk_size):
    scores, query_labels, db_labels = random_problem(37, 53, n_labels, seed=n_labels)
    expected = [naive_ap(scores[i].tolist(), query_labels[i], db_labels.tolist(), k)
                for i in range(37)]
    got = average_precision_per_query(scores, query_labels, db_labels, k, chunk_size=chunk_size)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert mean_average_precision(scores, query_labels, db_labels, k,
                                  chunk_size=chunk_size) == pytest.approx(np.mean(expected))


def test_continuous_scores_match_naive_loop():
    rng = np.random.default_rng(5)
    scores = rng.normal(size=(41, 97))
    query_labels, db_labels = rng.integers(0, 4, 41), rng.integers(0, 4, 97)
    for k in (None, 10):
        expected = [naive_ap(scores[i].tolist(), query_labels[i], db_labels.tolist(), k)
                    for i in range(41)]
        got = average_precision_per_query(scores, query_labels, db_labels, k, chunk_size=6)
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_hand_worked_example():
    # Query 0 (label 0), ranking by score: d1(0) d3(1) d0(0) d2(1) d4(0)
    #   -> relevant at ranks 1, 3, 5: AP = (1/1 + 2/3 + 3/5) / 3 = 0.755556; AP@2 = 1.
    # Query 1 (label 1), scores tie everywhere -> database order d0(0) d1(0) d2(1) d3(1) d4(0)
    #   -> relevant at ranks 3, 4: AP = (1/3 + 2/4) / 2 = 0.416667; AP@2 = 0 (none in top 2).
    scores = np.array([[0.5, 0.9, 0.2, 0.7, 0.1], [0.3] * 5])
    query_labels, db_labels = [0, 1], [0, 0, 1, 1, 0]
    full = average_precision_per_query(scores, query_labels, db_labels)
    np.testing.assert_allclose(full, [(1 + 2 / 3 + 3 / 5) / 3, (1 / 3 + 2 / 4) / 2])
    np.testing.assert_allclose(average_precision_per_query(scores, query_labels, db_labels, 2),
                               [1.0, 0.0])
    # AP@3 of query 0: relevant at ranks 1, 3 of the top 3 -> (1 + 2/3) / 2.
    assert average_precision_per_query(scores, query_labels, db_labels, 3)[0] == pytest.approx(
        (1 + 2 / 3) / 2)


def test_query_without_relevant_item_scores_zero():
    scores = np.random.default_rng(0).normal(size=(2, 6))
    ap = average_precision_per_query(scores, [9, 0], [0, 1, 0, 1, 0, 1])
    assert ap[0] == 0.0 and ap[1] > 0.0


def test_perfect_ranking_scores_one():
    labels = np.repeat(np.arange(4), 5)
    scores = (labels[:, None] == labels[None, :]).astype(np.float32)
    assert mean_average_precision(scores, labels, labels) == pytest.approx(1.0)
    assert mean_average_precision(scores, labels, labels, k=3) == pytest.approx(1.0)


def test_random_scores_give_the_class_prior():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 3000)
    scores = rng.random((200, 3000), dtype=np.float32)
    assert mean_average_precision(scores, labels[:200], labels) == pytest.approx(0.25, abs=0.02)


def test_torch_and_streaming_inputs_agree():
    scores, query_labels, db_labels = random_problem(23, 31, 3, seed=1)
    expected = average_precision_per_query(scores, query_labels, db_labels, 7)
    tensor = torch.from_numpy(scores)
    np.testing.assert_array_equal(
        average_precision_per_query(tensor, torch.from_numpy(query_labels), list(db_labels), 7),
        expected)
    calls = []

    def score_rows(rows):
        calls.append(rows)
        return tensor[rows]

    streamed = average_precision_per_query_chunked(score_rows, 23, query_labels, db_labels, 7,
                                                   chunk_size=5)
    np.testing.assert_array_equal(streamed, expected)
    assert [(s.start, s.stop) for s in calls] == [(0, 5), (5, 10), (10, 15), (15, 20), (20, 23)]
    assert mean_average_precision_chunked(score_rows, 23, query_labels, db_labels, 7,
                                          chunk_size=9) == pytest.approx(expected.mean())


def test_per_class_average_precision():
    scores = np.array([[0.5, 0.9, 0.2, 0.7, 0.1], [0.3] * 5, [0.1, 0.2, 0.9, 0.8, 0.0]])
    per_class = per_class_average_precision(scores, [0, 1, 1], [0, 0, 1, 1, 0])
    assert per_class[0] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert per_class[1] == pytest.approx(((1 / 3 + 2 / 4) / 2 + 1.0) / 2)


def test_bad_inputs_are_errors():
    scores = np.zeros((2, 3))
    with pytest.raises(ValueError, match="k must be"):
        mean_average_precision(scores, [0, 1], [0, 1, 0], k=0)
    with pytest.raises(ValueError, match="query labels"):
        mean_average_precision(scores, [0], [0, 1, 0])
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        mean_average_precision(scores, [0, 1], [0, 1, 0, 1])
    with pytest.raises(ValueError, match="NaN"):
        mean_average_precision(np.full((2, 3), np.nan), [0, 1], [0, 1, 0])
    with pytest.raises(ValueError, match="chunk_size"):
        mean_average_precision(scores, [0, 1], [0, 1, 0], chunk_size=0)


@pytest.mark.parametrize("points", [11, [0.0, 0.3, 0.55, 1.0]])
def test_precision_recall_matches_naive_loop(points):
    scores, query_labels, db_labels = random_problem(29, 43, 3, seed=2)
    query_labels[0] = 9  # no relevant item: left out of the mean
    recall, precision = precision_recall_curve(scores, query_labels, db_labels, points=points,
                                               chunk_size=8)
    levels = np.linspace(0, 1, points) if isinstance(points, int) else np.asarray(points)
    np.testing.assert_allclose(recall, levels)
    curves = [naive_pr(scores[i].tolist(), query_labels[i], db_labels.tolist(), levels)
              for i in range(1, 29)]
    np.testing.assert_allclose(precision, np.mean(curves, axis=0), rtol=1e-12)
    assert (np.diff(precision) <= 1e-12).all()  # interpolated precision never rises
    _, _, left_out = precision_recall_curve_chunked(lambda rows: scores[rows], 29, query_labels,
                                                    db_labels)
    assert left_out == 1


def test_precision_recall_of_a_perfect_ranking_is_flat_one():
    labels = np.repeat(np.arange(3), 4)
    scores = (labels[:, None] == labels[None, :]).astype(np.float32)
    recall, precision = precision_recall_curve(scores, labels, labels)
    np.testing.assert_allclose(precision, 1.0)
    np.testing.assert_allclose(recall, np.linspace(0, 1, 11))  # the 11-point curve by default


def test_empty_database():
    scores = np.zeros((3, 0), dtype=np.float32)
    np.testing.assert_array_equal(average_precision_per_query(scores, [0, 1, 2], []), 0.0)
    _, _, left_out = precision_recall_curve_chunked(lambda rows: scores[rows], 3, [0, 1, 2], [])
    assert left_out == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_scores_match_cpu():
    scores, query_labels, db_labels = random_problem(37, 53, 3, seed=6)
    cuda = torch.from_numpy(scores).cuda()
    for k in (None, 5):
        # Same rankings; only the float64 sum order differs (1 ulp on an H200). A changed
        # ranking would move an AP by at least 1/53, far outside this tolerance.
        np.testing.assert_allclose(
            average_precision_per_query(cuda, query_labels, db_labels, k, chunk_size=8),
            average_precision_per_query(scores, query_labels, db_labels, k, chunk_size=8),
            rtol=1e-12, atol=0)
    np.testing.assert_allclose(precision_recall_curve(cuda, query_labels, db_labels)[1],
                               precision_recall_curve(scores, query_labels, db_labels)[1])


def _cross_modal(seed, n_queries, n_db):
    scores, query_labels, db_labels = random_problem(n_queries, n_db, 4, seed)
    # Reversed views (negative strides) on purpose: a caller's numpy slices work as they are.
    return CrossModalScores(scores, scores[:, ::-1], query_labels, db_labels[::-1])


def test_cross_modal_map_and_report():
    test, train = _cross_modal(3, 17, 17), _cross_modal(4, 17, 61)
    result = cross_modal_map(test)
    assert result["i2t"] == pytest.approx(
        mean_average_precision(test.i2t, test.query_labels, test.db_labels))
    assert result["t2i"] == pytest.approx(
        mean_average_precision(test.t2i, test.query_labels, test.db_labels))
    assert result["avg"] == pytest.approx((result["i2t"] + result["t2i"]) / 2)
    report = retrieval_report(test, train, top_k=10, chunk_size=4)
    assert report["all"] == result
    assert report["train_at_10"]["i2t"] == pytest.approx(
        mean_average_precision(train.i2t, train.query_labels, train.db_labels, k=10))
    assert set(retrieval_report(test)) == {"all"}
    flat = flat_report(report)
    assert flat["test_map_train_at_10_t2i"] == report["train_at_10"]["t2i"] and len(flat) == 6
    assert flat["test_map_avg"] == result["avg"]


def test_cross_modal_map_takes_score_row_callables():
    test = _cross_modal(5, 13, 21)
    streamed = CrossModalScores(lambda rows: test.i2t[rows], lambda rows: test.t2i[rows],
                                test.query_labels, test.db_labels)
    assert cross_modal_map(streamed, 5, chunk_size=3) == cross_modal_map(test, 5)


# --- edges that mutation testing found unchecked ---

def test_recall_grids_are_checked():
    from finelabel.metrics import recall_levels

    np.testing.assert_array_equal(recall_levels(2), [0.0, 1.0])  # the smallest grid
    with pytest.raises(ValueError, match="points must be >= 2, got 1"):
        recall_levels(1)
    np.testing.assert_array_equal(recall_levels([0.0, 0.5, 1.0]), [0.0, 0.5, 1.0])
    for bad in ([], [-0.1, 0.5], [0.5, 1.5], [[0.1, 0.2]]):
        with pytest.raises(ValueError, match=r"non-empty list of values in \[0, 1\]"):
            recall_levels(bad)


def test_a_query_with_one_relevant_item_has_a_curve():
    """One relevant item found at rank 2 of 3: precision 1/2 at every recall level; found at
    the last rank: 1/3 at every level."""
    scores = np.array([[0.9, 0.8, 0.1]])
    _, precision = precision_recall_curve(scores, [0], [1, 0, 1], points=3)
    np.testing.assert_allclose(precision, [0.5, 0.5, 0.5])
    _, precision = precision_recall_curve(scores, [2], [1, 1, 2], points=3)
    np.testing.assert_allclose(precision, [1 / 3] * 3)


def test_mean_over_no_queries_is_zero():
    scores = np.zeros((0, 4), dtype=np.float32)
    assert mean_average_precision(scores, [], [0, 1, 0, 1]) == 0.0
    assert mean_average_precision_chunked(lambda rows: scores[rows], 0, [], [0, 1, 0, 1]) == 0.0


def test_per_class_ap_honours_k():
    scores, query_labels, db_labels = random_problem(12, 30, 3, seed=4)
    per_class = per_class_average_precision(scores, query_labels, db_labels, k=5)
    ap = np.array([naive_ap(row.tolist(), q, db_labels.tolist(), 5)
                   for row, q in zip(scores, query_labels)])
    for c, value in per_class.items():
        assert value == pytest.approx(ap[query_labels == c].mean(), abs=1e-9)


def test_integer_scores_rank_like_floats():
    scores, query_labels, db_labels = random_problem(10, 25, 3, seed=5)
    integers = scores.astype(np.int64)  # the same values, ties and all
    for k in (None, 5):
        np.testing.assert_allclose(
            average_precision_per_query(integers, query_labels, db_labels, k),
            average_precision_per_query(scores, query_labels, db_labels, k))


def test_one_query_at_a_time_is_allowed():
    scores, query_labels, db_labels = random_problem(5, 20, 2, seed=6)
    assert mean_average_precision(scores, query_labels, db_labels, chunk_size=1) == \
        pytest.approx(mean_average_precision(scores, query_labels, db_labels))
    with pytest.raises(ValueError, match="chunk_size must be >= 1, got 0"):
        mean_average_precision(scores, query_labels, db_labels, chunk_size=0)


def test_k_must_be_a_positive_integer_not_a_boolean():
    scores, query_labels, db_labels = random_problem(3, 10, 2, seed=7)
    for k in (True, 0, 2.5):
        with pytest.raises(ValueError, match="k must be a positive integer or None"):
            mean_average_precision(scores, query_labels, db_labels, k=k)
