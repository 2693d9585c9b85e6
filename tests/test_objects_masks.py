"""Grouping dynamic tracks into objects, the weight-free promptable segmenter, and the whole method."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import textured
from movseg.errors import MovsegError
from movseg.masks import build_segmenter, grabcut_refine
from movseg.method import motion_states, prompt_objects, sparse_prompt, stray_points
from movseg.motion.cues import POINT_CHANNELS, TrackCues
from movseg.motion import load_model, save_model
from movseg.objects import (FragmentConfig, GroupConfig, group_tracks, merge_fragments, resolve_threshold, video_threshold,
                            video_threshold_span)
from movseg.types import Tracks, Video


def two_squares_clip(T: int = 12, h: int = 120, w: int = 200, size: int = 30):
    """Static textured background; squares A and B move right at the same speed, far apart; a static
    look-alike of A sits below. Returns frames, gt labels (A = 1, B = 2; the look-alike is background)."""
    bg = textured(h, w, 0)
    tex = textured(size, size, 1)
    frames = np.repeat(bg[None], T, axis=0)
    labels = np.zeros((T, h, w), np.uint8)
    frames[:, 80 : 80 + size, 150 : 150 + size] = tex  # static look-alike
    for t in range(T):
        for k, (y0, x0) in enumerate([(10, 10), (10, 110)], start=1):
            x = x0 + 3 * t
            frames[t, y0 : y0 + size, x : x + size] = tex if k == 1 else textured(size, size, 2)
            labels[t, y0 : y0 + size, x : x + size] = k
    return frames, labels


def exact_tracks(labels: np.ndarray, spacing: int = 6):
    """Ground-truth tracks on a grid at frame 0 (objects move 3 px/frame right) and P(dynamic)."""
    T = labels.shape[0]
    ys, xs = np.mgrid[spacing // 2 : labels.shape[1] : spacing, spacing // 2 : labels.shape[2] : spacing]
    ids = labels[0][ys.ravel(), xs.ravel()]
    start = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
    shift = np.where(ids[:, None] > 0, 3.0 * np.arange(T)[None], 0.0)
    xy = np.repeat(start[:, None], T, 1)
    xy[..., 0] += shift
    n = len(ids)
    tracks = Tracks(xy.astype(np.float32), np.ones((n, T), bool), np.ones((n, T), np.float32), np.zeros(n, np.int32))
    return tracks, ids, (ids > 0).astype(np.float32)


def test_grouping_separates_objects_that_move_alike_but_never_touch():
    _, labels = two_squares_clip()
    tracks, ids, prob = exact_tracks(labels)
    obj = group_tracks(tracks, prob, labels.shape[1:])
    assert set(np.unique(obj[ids == 1])) == {obj[ids == 1][0]} and obj[ids == 1][0] > 0
    assert set(np.unique(obj[ids == 2])) == {obj[ids == 2][0]} and obj[ids == 2][0] > 0
    assert obj[ids == 1][0] != obj[ids == 2][0]
    assert (obj[ids == 0] == 0).all()


def test_grouping_splits_touching_objects_that_move_differently_and_drops_tiny_groups():
    T = 8
    xs, ys = np.meshgrid(np.arange(0, 40, 4.0), np.arange(0, 20, 4.0))
    start = np.stack([xs.ravel(), ys.ravel()], 1)
    left = start[:, 0] < 20
    xy = np.repeat(start[:, None], T, 1)
    xy[left, :, 0] += 3.0 * np.arange(T)  # left half moves right
    xy[~left, :, 1] += 3.0 * np.arange(T)  # right half moves down
    n = len(start)
    tracks = Tracks(xy.astype(np.float32), np.ones((n, T), bool), np.ones((n, T), np.float32), np.zeros(n, np.int32))
    obj = group_tracks(tracks, np.ones(n, np.float32), (100, 100))
    assert len(set(obj[left])) == 1 and len(set(obj[~left])) == 1 and obj[left][0] != obj[~left][0]
    assert (group_tracks(tracks, np.ones(n, np.float32), (100, 100), GroupConfig(min_tracks=n + 1)) == 0).all()
    assert (group_tracks(tracks, np.zeros(n, np.float32), (100, 100)) == 0).all()


def test_an_object_needs_a_share_of_its_tracks_over_the_threshold_before_the_lift():
    _, labels = two_squares_clip()
    tracks, ids, prob = exact_tracks(labels)
    core = prob.copy()
    core[ids == 2] = 0.5  # B is over the threshold only after the lift...
    b = np.flatnonzero(ids == 2)
    obj = group_tracks(tracks, prob, labels.shape[1:], GroupConfig(threshold=0.7), core)
    assert (obj[ids == 2] == 0).all() and (obj[ids == 1] > 0).all()
    core[b[: int(0.15 * len(b))]] = 0.9  # ...until 15 % of its tracks are over it without the lift
    obj = group_tracks(tracks, prob, labels.shape[1:], GroupConfig(threshold=0.7), core)
    assert (obj[ids == 2] > 0).all() and obj[ids == 2][0] != obj[ids == 1][0]
    strict = group_tracks(tracks, prob, labels.shape[1:], GroupConfig(threshold=0.7, min_core=0.2), core)
    assert (strict[ids == 2] == 0).all()
    assert (group_tracks(tracks, prob, labels.shape[1:], GroupConfig(threshold=0.7)) == obj).all()  # no core P


def test_a_track_that_jumps_from_one_object_to_another_does_not_merge_them():
    T = 16
    t = np.arange(T, dtype=np.float64)
    xs, ys = np.meshgrid(np.arange(0, 17, 4.0), np.arange(0, 17, 4.0))
    a0 = np.stack([xs.ravel(), ys.ravel()], 1)
    a = np.repeat(a0[:, None], T, 1)
    a[..., 0] += 2 * t  # A moves right
    b = np.repeat((a0 + [70, 0])[:, None], T, 1)
    b[..., 1] += 2 * t  # B, far to its right, moves down
    # X rides on A's edge, is lost for 5 frames and comes back on B's edge (a wrong re-attachment)
    x = np.where(t[:, None] <= 4, np.stack([20 + 2 * t, 8 + 0 * t], 1), np.stack([66 + 0 * t, 8 + 2 * t], 1))
    xy = np.concatenate([a, b, x[None]]).astype(np.float32)
    n, na = len(xy), len(a0)
    vis = np.ones((n, T), bool)
    vis[-1, 5:10] = False
    tracks = Tracks(xy, vis, np.ones((n, T), np.float32), np.zeros(n, np.int32))
    obj = group_tracks(tracks, np.ones(n, np.float32), (100, 100))
    assert len(set(obj[:na])) == 1 and len(set(obj[na : 2 * na])) == 1
    assert obj[0] > 0 and obj[na] > 0 and obj[0] != obj[na]


def test_a_few_tracks_between_two_objects_that_move_alike_do_not_merge_them():
    T = 8
    xs, ys = np.meshgrid(np.arange(0, 29, 4.0), np.arange(0, 29, 4.0))
    a0 = np.stack([xs.ravel(), ys.ravel()], 1)
    start = np.concatenate([a0, a0 + [44, 0], [[36, 12]]])  # A, B to its right, one track between them
    xy = np.repeat(start[:, None], T, 1)
    xy[..., 0] += 2.0 * np.arange(T)  # everything moves right together: motion alone cannot part A and B
    n, na = len(xy), len(a0)
    tracks = Tracks(xy.astype(np.float32), np.ones((n, T), bool), np.ones((n, T), np.float32), np.zeros(n, np.int32))
    prob = np.ones(n, np.float32)
    merged = group_tracks(tracks, prob, (100, 100), GroupConfig(max_ncut=0))  # the bridge links them
    assert (merged == merged[0]).all()
    obj = group_tracks(tracks, prob, (100, 100))  # the cut through the bridge is weak: two objects
    assert len(set(obj[:na])) == 1 and len(set(obj[na : 2 * na])) == 1
    assert obj[0] > 0 and obj[na] > 0 and obj[0] != obj[na]


def fragment_clip(T: int = 10) -> np.ndarray:
    """``uint8 (T, 120, 200)``: a body (1) with an arm (3) attached on every frame; another object (2)
    that passes the body and touches it on two frames; object 4 that never has pixels; object 5 that
    touches the arm only (so it joins the body through it) on every frame."""
    lab = np.zeros((T, 120, 200), np.uint8)
    for t in range(T):
        lab[t, 30:90, 40:80] = 1
        lab[t, 40:50, 80:100] = 3  # the arm, right of the body
        lab[t, 35:55, 100:110] = 5  # a hand at the end of the arm
        x = 170 - 12 * t  # object 2 comes from the right, passes below the arm
        lab[t, 60:80, max(x, 80):x + 20] = 2
    return lab


def test_fragments_that_touch_on_most_frames_merge_and_passing_objects_do_not():
    lab = fragment_clip()
    same = merge_fragments(lab, 5)
    assert list(same) == [0, 1, 2, 1, 4, 1]  # arm and hand join the body; 2 touched it on 2 of 10 frames
    contact = [(np.roll(lab[t] == 2, -1, 1) & (lab[t] == 1)).any() for t in range(len(lab))]
    assert 0 < sum(contact) < 0.7 * len(lab)  # the clip is what the test claims
    assert list(merge_fragments(lab, 5, FragmentConfig(min_touch=0))) == [0, 1, 2, 3, 4, 5]
    assert list(merge_fragments(lab, 5, FragmentConfig(min_touch=0.1, min_seam=0))) == [0, 1, 1, 1, 4, 1]
    far = lab.copy()
    far[:, 40:50, 80:100] = 0  # without the arm the hand is a separate object
    assert list(merge_fragments(far, 5)) == [0, 1, 2, 3, 4, 5]
    assert list(merge_fragments(lab[:, :, :90], 1)) == [0, 1]


@pytest.mark.parametrize("refine, worst, mean", [(False, 0.8, 0.9), (True, 0.7, 0.85)])
def test_tracks_segmenter_follows_image_edges(refine, worst, mean):
    """The smoother stops at the squares' edges. GrabCut may then move a mask's edge within its band, where the
    squares' colours are like the background's; on this 200 px frame the band (25 px at 480) is a third of a
    square, so it is allowed a looser fit. Unrefined, the smoother is tested at full smoothness: the squares are
    small objects, and smoothed less (small_side, the default when sure) their masks follow the points more than
    the edges (worst IoU 0.72); the refinement, on by default, restores the edges."""
    frames, labels = two_squares_clip(T=3)
    tracks, ids, _ = exact_tracks(labels, spacing=10)
    seg = build_segmenter("tracks", refine=refine, **({} if refine else {"small_side": 0}))
    state = seg.init_state(Video(frames, 24.0, ["a", "b", "c"]))
    for f in range(3):
        for k in (1, 2):
            pos, neg = ids == k, ids != k
            seg.add_points(state, f, k, np.concatenate([tracks.xy[pos, f], tracks.xy[neg, f]]),
                           np.r_[np.ones(pos.sum()), np.zeros(neg.sum())])
    iou = []
    for f, obj_ids, masks in seg.propagate(state):
        assert obj_ids == [1, 2]
        for k, m in zip(obj_ids, masks):
            gt = labels[f] == k
            iou.append((m & gt).sum() / (m | gt).sum())
        assert not (masks[0] & masks[1]).any()
    assert min(iou) > worst and np.mean(iou) > mean
    with pytest.raises(MovsegError, match="outside the video"):
        seg.add_points(state, 5, 1, np.zeros((1, 2)), np.ones(1))
    with pytest.raises(MovsegError, match="unknown segmenter"):
        build_segmenter("nope")


def test_small_side_or_the_wider_grabcut_context_keeps_the_mask_of_a_small_object():
    h, w = 240, 400
    img = textured(h, w, 0)
    img[100:124, 200:224] = textured(24, 24, 1)  # a 24 px object
    gt = np.zeros((h, w), bool)
    gt[100:124, 200:224] = True
    ys, xs = np.mgrid[2:h:5, 2:w:5]
    pts = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)  # every point labelled right
    on = gt[ys.ravel(), xs.ravel()]
    prompt = [(np.concatenate([pts[on], pts[~on]]), np.r_[np.ones(on.sum(), int), np.zeros((~on).sum(), int)])]

    def iou(**config):
        m = build_segmenter("tracks", **config).segment_frame(img, prompt)[0]
        return (m & gt).sum() / (m | gt).sum()

    former = dict(refine_outer=15, refine_context=60)  # GrabCut's band and context until 2026-11-23
    assert iou(small_side=0, **former) < 0.5  # at full smoothness the refined mask collapsed...
    assert iou(small_side=100, **former) > 0.8  # ...unless the smoother was scaled down for small objects
    assert iou(small_side=0) > 0.8  # the wider band and context keep it at full smoothness


def test_only_sure_objects_are_smoothed_less_for_being_small():
    """A small object keeps its mask through the smoother only when its score reaches small_min_score; the
    prompting stage gives each object the mean P(dynamic) of its tracks as its score."""
    h, w = 240, 400
    img = textured(h, w, 0)
    img[100:124, 200:224] = textured(24, 24, 1)
    gt = np.zeros((h, w), bool)
    gt[100:124, 200:224] = True
    ys, xs = np.mgrid[2:h:5, 2:w:5]
    xy = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
    on = gt[ys.ravel(), xs.ravel()]
    n = len(xy)
    tracks = Tracks(xy[:, None], np.ones((n, 1), bool), np.ones((n, 1), np.float32), np.zeros(n, np.int32))
    object_id = on.astype(np.int32)
    # GrabCut's band and context before 2026-11-23, under which a small mask that the smoother thins collapses
    seg = build_segmenter("tracks", small_side=100, small_min_score=0.85, refine_outer=15, refine_context=60)

    def iou(p_object: float) -> float:
        state = seg.init_state(Video(img[None], 24.0, ["a"]))
        prob = np.where(on, p_object, 0.1).astype(np.float32)
        prompt_objects(seg, state, tracks, object_id, prob, 0.7)
        assert state.scores == {1: pytest.approx(p_object)}
        (_, ids, masks), = seg.propagate(state)
        return (masks[0] & gt).sum() / (masks[0] | gt).sum()

    assert iou(0.95) > 0.8
    assert iou(0.75) < 0.5  # an unsure small object is smoothed as much as a large one


def test_grabcut_snaps_a_too_small_mask_to_the_object_and_keeps_the_rest():
    rng = np.random.default_rng(0)
    img = np.clip(rng.normal(60, 12, (120, 160, 3)), 0, 255)  # dark noisy background
    img[30:90, 40:110] = np.clip(rng.normal([200, 80, 40], 12, (60, 70, 3)), 0, 255)  # orange object
    img = img.astype(np.uint8)
    truth = np.zeros((120, 160), bool)
    truth[30:90, 40:110] = True
    small = np.zeros((120, 160), np.uint8)
    small[38:82, 48:102] = 1  # 8 px short on every side, inside the band the refinement may claim
    iou = lambda m: (m & truth).sum() / (m | truth).sum()
    for scale in (1.0, 0.75):
        out = grabcut_refine(img, small, inner=3, outer=12, context=20, scale=scale)
        assert iou(out) > 0.95 > iou(small > 0) + 0.2
    # with a narrow band the mask cannot grow past it, and its eroded core is always kept
    out = grabcut_refine(img, small, inner=3, outer=4, context=20)
    band = np.zeros_like(small)
    band[34:86, 44:106] = 1  # the 4-px dilation's bounding box
    assert out[41:79, 51:99].all() and not (out & (band == 0)).any()
    assert not grabcut_refine(img, np.zeros((120, 160), np.uint8), 3, 12, 20).any()


def test_grabcut_gives_the_same_answer_whatever_ran_before_it():
    rng = np.random.default_rng(0)
    img = (rng.random((120, 160, 3)) * 255).astype(np.uint8)  # noise: k-means has many near-equal answers
    img[40:80, 50:110] //= 3
    mask = np.zeros((120, 160), np.uint8)
    mask[35:85, 45:115] = 1
    first = grabcut_refine(img, mask, 4, 10, 30)
    cv2.kmeans(rng.random((50, 3)).astype(np.float32), 3, None, (cv2.TERM_CRITERIA_MAX_ITER, 5, 0), 1,
               cv2.KMEANS_PP_CENTERS)  # other work moves the thread's OpenCV random generator on
    assert np.array_equal(first, grabcut_refine(img, mask, 4, 10, 30))


def test_tracks_segmenter_masks_follow_the_object_with_and_without_refinement():
    frames, labels = two_squares_clip(T=2)
    tracks, ids, _ = exact_tracks(labels, spacing=10)
    out = {}
    for refine in (True, False):
        seg = build_segmenter("tracks", refine=refine, threads=1)
        state = seg.init_state(Video(frames, 24.0, ["a", "b"]))
        pos = ids == 1
        seg.add_points(state, 0, 1, tracks.xy[pos, 0], np.ones(pos.sum()))
        out[refine] = next(iter(seg.propagate(state)))[2][0]
        assert (out[refine] & (labels[0] == 1)).sum() / (out[refine] | (labels[0] == 1)).sum() > 0.8
    assert out[True].any() and out[False].any()


def test_sparse_prompt_is_densest_point_and_two_farthest():
    pts = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [0.5, 0.5], [10, 10], [-8, 0]], np.float32)
    p = sparse_prompt(pts)
    assert len(p) == 3 and {tuple(x) for x in p[1:]} == {(10, 10), (-8, 0)}
    assert len(sparse_prompt(pts[:2])) == 2


def test_motion_states_follow_the_residuals():
    T, n = 10, 6
    points = np.zeros((n, T, 9), np.float32)
    points[:, 5:, 7] = 3.0  # res_hk high from frame 5 on: starts moving
    valid = np.ones((n, T), bool)
    labels = np.ones((T, 4, 4), np.uint8)
    moving = motion_states(points, valid, np.ones(n, np.int32), labels, 1.2)
    assert moving.shape == (1, T) and not moving[0, :5].any() and moving[0, 5:].all()


def test_segment_end_to_end_two_objects_and_a_static_look_alike(tmp_path):
    """The whole command on a clip with a known answer: two squares moving alike, far apart, and a
    static copy of one of them. Checks ids, masks, motion states, tracks.npz and the timing fields."""
    from conftest import write_frames
    from movseg.cli import main
    from movseg.io.masks import read_mask

    frames, labels = two_squares_clip(T=16, h=144, w=240, size=36)
    write_frames(tmp_path / "clip", frames)
    assert main(["segment", str(tmp_path / "clip"), "-o", str(tmp_path / "out"), "--save-tracks", "-q"]) == 0
    res = tmp_path / "out" / "clip"
    result = json.loads((res / "result.json").read_text())
    assert len(result["objects"]) == 2
    pred = np.stack([read_mask(p) for p in sorted((res / "masks").glob("*.png"))])
    for gt_id in (1, 2):
        ids, counts = np.unique(pred[labels == gt_id], return_counts=True)
        k = ids[np.argmax(counts)]
        assert k > 0
        iou = ((pred == k) & (labels == gt_id)).sum() / ((pred == k) | (labels == gt_id)).sum()
        # background uncovered behind a square after the last query frame has no tracks, so labels
        # spread into it: IoU falls from ~0.85 near query frames to ~0.55 at the far end of the clip
        assert iou > 0.6, (gt_id, iou)
    assert (pred[:, 84:112, 154:182] == 0).mean() > 0.9  # the static look-alike stays background
    timings = result["timings"]
    for stage in ("read", "track", "cues", "motion", "objects", "masks", "write", "total"):
        assert timings[stage] >= 0, stage
    assert all(o["moving"] for o in result["objects"])
    z = np.load(res / "tracks.npz")
    assert set(z.files) == {"xy", "visible", "confidence", "query_frame", "dynamic_prob", "object_id"}
    assert z["object_id"].dtype == np.int32 and z["dynamic_prob"].dtype == np.float32
    assert set(np.unique(z["object_id"])) == {0, 1, 2}
    assert result["grouping_threshold"] == resolve_threshold(load_model().threshold)
    assert not result["config"]["movseg"]["merge_fragments"]
    # the squares never touch: merging fragments keeps them apart
    assert main(["segment", str(tmp_path / "clip"), "-o", str(tmp_path / "merged"), "--merge-fragments", "-q"]) == 0
    merged = json.loads((tmp_path / "merged" / "clip" / "result.json").read_text())
    assert merged["config"]["movseg"]["merge_fragments"] and len(merged["objects"]) == 2


def test_the_weights_grouping_threshold_is_used_unless_the_user_sets_one(tmp_path):
    from movseg.method import MethodConfig, segment_moving_objects

    frames, _ = two_squares_clip(T=10)
    video = Video(frames, 24.0, [f"{i:05d}" for i in range(len(frames))], "clip")
    save_model(load_model(), tmp_path / "strict.safetensors", threshold=0.9999)  # above every track's P
    strict = segment_moving_objects(video, MethodConfig(weights=str(tmp_path / "strict.safetensors")))
    assert strict.threshold == 0.9999 and strict.object_id.max() == 0
    assert not strict.segmentation.labels.any()
    user = segment_moving_objects(video, MethodConfig(weights=str(tmp_path / "strict.safetensors"),
                                                      group=GroupConfig(threshold=0.5)))
    assert user.threshold == 0.5 and set(np.unique(user.object_id)) == {0, 1, 2}


def test_the_weights_small_object_gate_reaches_the_masks_stage_unless_the_user_sets_one(tmp_path):
    from movseg.method import MethodConfig, segment_moving_objects

    frames, _ = two_squares_clip(T=10)  # 30 px squares: small objects at the working size
    video = Video(frames, 24.0, [f"{i:05d}" for i in range(len(frames))], "clip")
    runs = {}
    for name, gate in (("sure", 0.001), ("unsure", 0.999)):
        model = load_model()
        model.small_min_score = gate
        save_model(model, tmp_path / f"{name}.safetensors")
        assert load_model(tmp_path / f"{name}.safetensors").small_min_score == gate
        runs[name] = segment_moving_objects(video, MethodConfig(weights=str(tmp_path / f"{name}.safetensors")))
    sure, unsure = (runs[k].segmentation.labels for k in ("sure", "unsure"))
    assert set(np.unique(runs["sure"].object_id)) == {0, 1, 2}
    assert (sure != unsure).any()  # the gate decides how much the two squares are smoothed
    user = segment_moving_objects(video, MethodConfig(weights=str(tmp_path / "unsure.safetensors"),
                                                      segmenter_options={"small_min_score": 0.001}))
    assert np.array_equal(user.segmentation.labels, sure)


def test_the_threshold_per_video_goes_below_a_mode_of_movers_and_only_then():
    rng = np.random.default_rng(0)
    background = 1 / (1 + np.exp(-rng.normal(-5, 1.5, 9000)))  # P mostly near 0, with a tail
    slow = 1 / (1 + np.exp(-rng.normal(0.6, 0.15, 400)))  # an unseen slow mover: P about 0.65, all alike
    t = video_threshold(np.concatenate([background, slow]), default=0.7)
    assert 0.5 <= t < 0.6 and (slow > t).mean() > 0.9  # under the mover, where the default (0.7) loses most of it
    assert video_threshold(background, default=0.7) == 0.7  # no mover: the default stays
    sure = 1 / (1 + np.exp(-rng.normal(5, 0.5, 400)))  # a confident mover, P about 0.99: nothing to rescue
    assert video_threshold(np.concatenate([background, sure]), default=0.7) == 0.7
    # a mode at 0.8 above a sparse valley at 0.55-0.65: the threshold is the valley, not the default
    mid = 1 / (1 + np.exp(-rng.normal(1.4, 0.2, 400)))
    assert 0.5 <= video_threshold(np.concatenate([background, mid]), default=0.85) < 0.75


def test_tracks_outside_the_span_of_the_threshold_per_video_change_neither_its_choice_nor_their_side():
    lo, hi = video_threshold_span()
    assert 0.3 < lo < 0.5 and 0.9 < hi < 0.95
    rng = np.random.default_rng(1)
    for _ in range(50):
        p = 1 / (1 + np.exp(-rng.normal(rng.uniform(-3, 3), rng.uniform(0.2, 3), 500)))
        t = video_threshold(p, default=0.7)
        below = rng.uniform(0, lo - 1e-6, 300)
        above = rng.uniform(hi + 1e-6, 1, 300)
        assert video_threshold(np.concatenate([p, below, above]), default=0.7) == t
        assert (below < t).all() and (above > t).all()


def test_static_video_and_tiny_videos_give_no_objects(tmp_path, capsys):
    from conftest import write_frames
    from movseg.cli import main

    frames = np.repeat(textured(96, 128, 3)[None], 6, axis=0)
    write_frames(tmp_path / "still", frames)
    assert main(["segment", str(tmp_path / "still"), "-o", str(tmp_path / "out")]) == 0
    assert "no moving objects found" in capsys.readouterr().out
    for T in (1, 2):
        write_frames(tmp_path / f"t{T}", frames[:T])
        assert main(["segment", str(tmp_path / f"t{T}"), "-o", str(tmp_path / "out"), "-q"]) == 0
        assert len(list((tmp_path / "out" / f"t{T}" / "masks").glob("*.png"))) == T


def square_tracks(x0: float, y0: float, speed: float, frames, T: int, side: int = 30, spacing: int = 6):
    """Tracks on a grid over a square at ``(x0, y0)`` at frame 0 moving ``speed`` px/frame right, visible
    on ``frames`` only (elsewhere they rest where they were last seen, as lost points do)."""
    ys, xs = np.mgrid[0:side:spacing, 0:side:spacing]
    n = xs.size
    t = np.arange(T)
    xy = np.zeros((n, T, 2), np.float32)
    xy[..., 0] = x0 + xs.ravel()[:, None] + speed * t[None]
    xy[..., 1] = y0 + ys.ravel()[:, None]
    visible = np.zeros((n, T), bool)
    visible[:, frames] = True
    return xy, visible


def join_case(*objects, T: int = 24):
    """Tracks, object ids 1..K and the moving points of ``objects``: (x0, y0, speed, visible frames) each."""
    parts = [square_tracks(x0, y0, v, f, T) for x0, y0, v, f in objects]
    xy = np.concatenate([p[0] for p in parts])
    vis = np.concatenate([p[1] for p in parts])
    oid = np.concatenate([np.full(len(p[0]), k, np.int32) for k, p in enumerate(parts, start=1)])
    n = len(oid)
    return Tracks(xy, vis, np.ones((n, T), np.float32), np.zeros(n, np.int32)), oid, vis.copy()


def test_an_object_hidden_for_a_few_frames_keeps_its_id_and_strangers_do_not_take_it():
    from movseg.objects import GapConfig, join_across_gaps

    # a square goes behind an occluder at frame 10 and comes out at 14 where its motion takes it (id 1 then 2);
    # one that appears at 14 far from where the first would be, and one moving the other way, stay apart
    tracks, oid, moving = join_case((10, 20, 4, slice(0, 10)), (10, 20, 4, slice(14, 24)),
                                    (10, 120, 4, slice(14, 24)), (200, 20, -4, slice(14, 24)))
    out = join_across_gaps(tracks, oid, (240, 320), moving=moving)
    assert out.dtype == np.int32
    assert len(set(out[oid == 1])) == 1 and (out[oid == 1] == out[oid == 2]).all()
    assert len({out[oid == k][0] for k in (1, 3, 4)}) == 3
    assert set(out) == {1, 2, 3}  # renumbered without gaps, the joined object first (it has most tracks)
    assert out[oid == 1][0] == 1
    # too long a gap, or no gap at all (both present on a frame), and nothing joins
    far = join_across_gaps(tracks, oid, (240, 320), GapConfig(max_gap=2), moving=moving)
    assert len(set(far)) == 4
    tracks, oid, moving = join_case((10, 20, 4, slice(0, 12)), (10, 20, 4, slice(11, 24)))
    assert len(set(join_across_gaps(tracks, oid, (240, 320), moving=moving))) == 2
    # nor across a shot change, however well the motion fits
    tracks, oid, moving = join_case((10, 20, 4, slice(0, 10)), (10, 20, 4, slice(14, 24)))
    assert len(set(join_across_gaps(tracks, oid, (240, 320), moving=moving))) == 1
    assert len(set(join_across_gaps(tracks, oid, (240, 320), moving=moving, cuts=[12]))) == 2


def stray_case():
    """Object 1 (six tracks) moves against the camera on every frame; its track 0 is a background point that
    it covers at frame 5 and carries from then on; its track 1 has no residual (too short). Object 2 (three
    tracks) does not move on any frame."""
    T, n = 10, 9
    points = np.zeros((n, T, len(POINT_CHANNELS)), np.float32)
    res = points[..., POINT_CHANNELS.index("res_hk")]
    res[:6, 1:] = 3.0
    res[0, 1:5] = 0.3  # with the camera until it is picked up
    res[1] = 0.0  # undefined
    res[6:, 1:] = 0.3
    valid = np.ones((n, T), bool)
    cues = TrackCues(points, valid, np.zeros((n, 7), np.float32))
    xy = np.zeros((n, T, 2), np.float32)
    xy[:, :, 0] = np.arange(n)[:, None] * 10 + 5
    xy[:, :, 1] = 20
    tracks = Tracks(xy, valid.copy(), np.ones((n, T), np.float32), np.zeros(n, np.int32))
    object_id = np.array([1, 1, 1, 1, 1, 1, 2, 2, 2], np.int32)
    return cues, tracks, object_id


def test_stray_points_are_an_objects_points_that_stay_with_the_camera_while_it_moves():
    cues, _, object_id = stray_case()
    stray = stray_points(cues, object_id, moving=2.0, still=0.7)
    assert stray.shape == (9, 10)
    assert stray[0, 1:5].all() and not stray[0, 5:].any() and not stray[0, 0]  # frame 0 has no residual
    assert not stray[1:].any()  # the other points of the moving object, a point without a residual, a still object
    assert not stray_points(cues, object_id, moving=2.0, still=0).any()  # off


def test_stray_points_prompt_as_background_of_their_object():
    cues, tracks, object_id = stray_case()
    seg = build_segmenter("tracks")
    state = seg.init_state(Video(np.zeros((10, 40, 100, 3), np.uint8), 24.0, [str(i) for i in range(10)]))
    prob = np.full(9, 0.9, np.float32)
    prompt_objects(seg, state, tracks, object_id, prob, 0.7, stray=stray_points(cues, object_id, 2.0, 0.7))
    for f in range(10):
        pts, lab = state.prompts[f][1]
        as_label = dict(zip(pts[:, 0].round().astype(int), lab))
        assert as_label[5] == (0 if 1 <= f < 5 else 1)  # track 0: background of its object while it strays
        assert all(as_label[10 * i + 5] == 1 for i in range(1, 6))
        assert all(as_label[10 * i + 5] == 0 for i in range(6, 9))  # the other object's points
    # without the rule every point of an object prompts as part of it
    state = seg.init_state(state.video)
    prompt_objects(seg, state, tracks, object_id, prob, 0.7)
    assert all((state.prompts[f][1][1][:6] == 1).all() for f in range(10))


def test_points_left_behind_still_do_not_make_an_object_last():
    from movseg.objects import join_across_gaps

    # the first square's tracks stay visible after frame 10, resting on the scenery beside the occluder
    # (a tracker that let them slide off): only the points that move say where the object is
    tracks, oid, moving = join_case((10, 20, 4, slice(0, 10)), (10, 20, 4, slice(14, 24)))
    first = oid == 1
    tracks.visible[first, 10:] = True
    tracks.xy[first, 10:] = tracks.xy[first, 9:10]
    assert len(set(join_across_gaps(tracks, oid, (240, 320)))) == 2  # judged on visible points: it never ends
    assert len(set(join_across_gaps(tracks, oid, (240, 320), moving=moving))) == 1


def test_segment_keeps_one_id_for_a_square_that_passes_behind_a_pillar(tmp_path):
    from conftest import write_frames
    from movseg.cli import main
    from movseg.io.masks import read_mask

    T, h, w, size = 48, 144, 320, 36
    frames = np.repeat(textured(h, w, 0)[None], T, axis=0)
    labels = np.zeros((T, h, w), np.uint8)
    for t in range(T):  # fully hidden on frames 26-27 behind the pillar at x 110-149
        x = 6 + 4 * t
        frames[t, 60 : 60 + size, x : x + size] = textured(size, size, 1)
        labels[t, 60 : 60 + size, x : x + size] = 1
    frames[:, :, 110:150] = textured(h, 40, 3)
    labels[:, :, 110:150] = 0
    write_frames(tmp_path / "pillar", frames)
    assert main(["segment", str(tmp_path / "pillar"), "-o", str(tmp_path / "out"), "-q"]) == 0
    res = tmp_path / "out" / "pillar"
    assert len(json.loads((res / "result.json").read_text())["objects"]) == 1
    pred = np.stack([read_mask(p) for p in sorted((res / "masks").glob("*.png"))])
    for t in (10, 40):  # before and after the pillar, the square is object 1
        inside = pred[t][labels[t] == 1]
        assert (inside == 1).mean() > 0.7, (t, (inside == 1).mean())


def test_match_objects_pairs_the_same_objects_and_leaves_strangers_apart():
    from movseg.objects import match_objects

    before = np.zeros((3, 20, 20), np.uint8)
    after = np.zeros_like(before)
    before[:, 2:8, 2:8], after[:, 2:8, 3:9] = 1, 2  # the same object, numbered differently
    before[:, 12:18, 12:18], after[:, 12:18, 12:18] = 2, 3
    after[:, 0:2, 15:20] = 1  # new: covers nothing of before's objects
    before[0, 10:12, 0:4] = 3  # before's third object overlaps after's nothing
    assert match_objects(before, after) == {2: 1, 3: 2}
    # a segment that splits an object in two: the larger part matches it, the other lies on it and joins it
    split = np.zeros_like(before)
    split[:, 2:8, 2:8], split[:, 12:14, 12:18], split[:, 14:20, 12:18] = 1, 2, 4  # 4: IoU 0.5 with before's 2
    split[:, 0:4, 10:14] = 5  # a stranger, with 2 of its 50 pixels on before's third object (a quarter of it)
    split[0, 10:11, 0:2] = 5
    assert match_objects(before, split) == {1: 1, 4: 2, 2: 2}
    assert match_objects(before, split, min_inside=1.01) == {1: 1, 4: 2}  # one to one only
    # an object found only in part before (IoU 0.25): the whole of it takes its id
    part, whole = np.zeros((2, 20, 20), np.uint8), np.zeros((2, 20, 20), np.uint8)
    part[:, 4:8, 4:12], whole[:, 4:20, 4:12] = 3, 1
    whole[:, 0:2, 0:2] = 2  # a newcomer
    assert match_objects(part, whole) == {1: 3}


def test_stitcher_keeps_ids_across_pieces_and_numbers_new_objects():
    from movseg.objects import Stitcher

    st = Stitcher(overlap=2)
    a = np.zeros((5, 10, 10), np.uint8)
    a[:, :4, :4] = 1
    assert list(st.ids(a)[:3]) == [0, 1, 0]
    b = np.zeros((5, 10, 10), np.uint8)
    b[:, 6:, 6:] = 1  # a newcomer, the larger object of this piece
    b[:, :4, :4] = 2  # the first piece's object
    assert list(st.ids(b)[:3]) == [0, 2, 1]
    assert st.count == 2 and st.dropped == 0
    c = np.zeros((5, 10, 10), np.uint8)
    c[:, 6:, 6:8], c[:, 6:, 8:] = 1, 2  # the newcomer split in two: both parts keep its id
    c[:, :4, :4] = 3
    assert list(st.ids(c)[:4]) == [0, 2, 2, 1] and st.count == 2


def test_stitcher_gives_no_id_to_an_object_only_in_frames_the_segment_does_not_write():
    from movseg.objects import Stitcher

    st = Stitcher(overlap=1)
    a = np.zeros((3, 10, 10), np.uint8)
    a[:, :4, :4] = 1
    st.ids(a)
    b = np.zeros((5, 10, 10), np.uint8)
    b[:, :4, :4] = 1
    b[0, 6:, 6:] = 2  # only in the frames the segment before wrote
    b[4, 6:, 6:] = 3
    lut = st.ids(b, shared=2, new_from=3)
    assert list(lut[:4]) == [0, 1, 0, 2] and st.count == 2
