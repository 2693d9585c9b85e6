"""MOS, fine-grained (DAVIS-2017 unsupervised) and MOS-I protocols on hand-made sequences."""

import numpy as np
import pytest

from movseg.errors import MovsegError
from movseg.eval.protocols import evaluate_fine, evaluate_mos, evaluate_mos_i


def two_objects(T=4, h=40, w=60):
    lab = np.zeros((T, h, w), np.uint8)
    lab[:, 5:15, 5:15] = 1
    lab[:, 20:35, 30:50] = 2
    return lab


def test_mos_merges_ids():
    gt = two_objects()
    pred = gt.copy()
    pred[pred == 2] = 7  # any non-zero id is foreground
    (s,) = evaluate_mos(gt, pred)
    assert s.J.tolist() == [1.0] * 4 and s.F.tolist() == [1.0] * 4


def test_mos_shape_mismatch_is_an_error():
    with pytest.raises(MovsegError, match="resized"):
        evaluate_mos(np.zeros((2, 10, 10), np.uint8), np.zeros((2, 10, 12), np.uint8))


def test_fine_swapped_ids_match_perfectly():
    gt = two_objects()
    pred = np.where(gt == 1, 2, np.where(gt == 2, 1, 0)).astype(np.uint8)
    scores = evaluate_fine(gt, pred)
    assert len(scores) == 2
    for s in scores:
        assert s.J.mean() == 1.0 and s.F.mean() == 1.0


def test_fine_pads_missing_predictions_with_empty_masks():
    gt = two_objects()
    pred = (gt == 2).astype(np.uint8)  # only object 2 found, as id 1
    s1, s2 = evaluate_fine(gt, pred)
    assert s1.J.mean() == 0.0 and s1.F.mean() == 0.0  # GT 1 matched to the padding
    assert s2.J.mean() == 1.0


def test_fine_extra_predictions_do_not_hurt_matched_objects():
    gt = two_objects()
    pred = gt.copy()
    pred[:, 36:40, 0:4] = 3
    scores = evaluate_fine(gt, pred)
    assert [s.J.mean() for s in scores] == [1.0, 1.0]


def test_fine_counts_only_gt_ids_that_occur():
    gt = two_objects() * 3  # ids 3 and 6: ids 1, 2, 4, 5 never occur (static objects left out of masks/)
    pred = (gt == 6).astype(np.uint8)  # only the second object found
    scores = evaluate_fine(gt, pred)
    assert len(scores) == 2  # absent ids would otherwise be "found" perfectly by empty predictions
    assert [s.J.mean() for s in scores] == [0.0, 1.0]
    assert [s.id for s in scores] == [3, 6]


def test_fine_rejects_more_than_20_ids():
    gt = two_objects()
    pred = gt.copy()
    pred[0, 0, 0] = 21
    with pytest.raises(MovsegError, match="at most 20"):
        evaluate_fine(gt, pred)


def test_fine_object_absent_in_some_frames():
    gt = two_objects()
    gt[2:][gt[2:] == 1] = 0  # object 1 leaves after frame 1
    pred = gt.copy()
    s1, _ = evaluate_fine(gt, pred)
    assert s1.J.tolist() == [1.0] * 4  # both empty on frames 2, 3 → 1


def test_mos_i_static_frames_count_as_false_positives():
    T = 4
    gt = np.zeros((T, 20, 20), np.uint8)
    gt[:, 5:10, 5:10] = 1
    gt_moving = np.array([[True, True, False, False]])
    pred = gt.copy()  # predicted present (and moving) on all frames
    r = evaluate_mos_i(gt, gt_moving, pred)
    assert r.j_mov == [1.0]
    assert r.fp_per_frame == 0.5
    assert r.preds == 4 and r.gts == 2
    assert r.mt_iou == pytest.approx(2 / (4 + 2 - 2))
    # the same masks with the right motion states: perfect
    r = evaluate_mos_i(gt, gt_moving, pred, pred_moving=gt_moving)
    assert r.fp_per_frame == 0.0 and r.mt_iou == 1.0 and r.j_mov == [1.0]


def test_mos_i_thresholds_and_unmatched_prediction():
    T = 2
    gt = np.zeros((T, 20, 20), np.uint8)
    gt[:, 0:10, 0:10] = 1  # 100 px
    pred = np.zeros_like(gt)
    pred[:, 0:10, 0:7] = 1  # IoU 0.7
    pred[:, 15:18, 15:18] = 2  # matches nothing: a false positive each frame
    r = evaluate_mos_i(gt, None, pred)
    # thresholds 0.50..0.65 hit (4 of 10), 0.70.. miss (IoU must be > k)
    assert r.hits.tolist() == [2, 2, 2, 2] + [0] * 6
    expected = np.mean([2 / (4 + 2 - 2)] * 4 + [0.0] * 6)
    assert r.mt_iou == pytest.approx(expected)
    assert r.fp_per_frame == 1.0
    assert r.j_mov == [pytest.approx(0.7)]


def test_mos_i_nothing_to_find_and_nothing_predicted():
    z = np.zeros((3, 8, 8), np.uint8)
    r = evaluate_mos_i(z, None, z)
    assert r.mt_iou == 1.0 and r.fp_per_frame == 0.0 and r.j_mov == []


def test_mos_i_missed_object_scores_zero():
    gt = np.zeros((2, 10, 10), np.uint8)
    gt[:, 2:5, 2:5] = 1
    r = evaluate_mos_i(gt, None, np.zeros_like(gt))
    assert r.j_mov == [0.0] and r.mt_iou == 0.0


def test_mos_i_ids_that_never_occur_take_no_match():
    gt = np.zeros((4, 20, 20), np.uint8)
    gt[:, 5:15, 5:15] = 3  # ids 1 and 2 never occur
    pred = np.zeros_like(gt)
    pred[0][gt[0] == 3] = 1  # found on frame 0 only: IoU 0.25 on average, an absent id would score 0.75
    r = evaluate_mos_i(gt, None, pred)
    assert r.j_mov == [0.25]
    assert r.fp_per_frame == 0.0


class _Frames:
    """Frames handed out one at a time, as `movseg eval` reads them from files; counts the reads."""

    def __init__(self, labels):
        self.labels, self.reads = labels, 0

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, t):
        self.reads += 1
        return self.labels[t].copy()


@pytest.mark.parametrize("protocol", ["mos", "fine", "mos-i"])
def test_protocols_read_sequences_of_frames_a_frame_at_a_time(protocol):
    gt = two_objects(T=6)
    pred = np.roll(gt, 3, axis=2)
    pred[:, 30:, :10] = 3
    run = {"mos": evaluate_mos, "fine": evaluate_fine, "mos-i": lambda g, p: evaluate_mos_i(g, None, p)}[protocol]
    g, p = _Frames(gt), _Frames(pred)
    lazy, whole = run(g, p), run(gt, pred)
    assert g.reads <= 2 * len(gt) and p.reads <= 2 * len(gt)  # one pass for the ids, one for the scores
    if protocol == "mos-i":
        assert lazy.hits.tolist() == whole.hits.tolist() and lazy.j_mov == whole.j_mov and lazy.fp_per_frame == whole.fp_per_frame
    else:
        assert [(s.id, s.J.tolist(), s.F.tolist()) for s in lazy] == [(s.id, s.J.tolist(), s.F.tolist()) for s in whole]
        assert 0 < np.mean([s.J.mean() for s in lazy]) < 1
