"""Command-line interface: thin argument parsing over the library.

    movseg segment INPUT -o OUT
    movseg eval --pred PRED --gt GT [--protocol mos|fine|mos-i]
    movseg bench davis --root DAVIS -o OUT --json FILE
    movseg train [--config FILE] [--device cpu|cuda] [--resume RUN]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from movseg import __version__
from movseg.errors import MovsegError


def _int_at_least(minimum: int):
    """An argparse type: a whole number >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {v}")
        return v

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW like 256x448, got {text!r}") from None
    if h < 16 or w < 16:
        raise argparse.ArgumentTypeError(f"frames must be at least 16x16, got {text}")
    return h, w


def _threshold(text: str) -> float | str:
    """An argparse type: ``auto`` or a P(dynamic) strictly between 0 and 1."""
    if text == "auto":
        return text
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a number between 0 and 1, got {text!r}") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1 (exclusive), got {text}")
    return v


def _add_segment_options(p: argparse.ArgumentParser, overlay_default: bool) -> None:
    from movseg.pipeline import METHODS, PRESETS

    p.add_argument("--method", default="movseg", choices=METHODS, help="segmentation method (default: %(default)s; the others are baselines)")
    p.add_argument("--preset", default="balanced", choices=list(PRESETS),
                   help="fast: 5,000 tracks (grid 10); balanced: 10,000 (grid 5); quality: 10,000 and masks refined "
                        "at full working size; all query every 8 frames (default: %(default)s)")
    p.add_argument("--grid-size", type=_positive_int, help="query grid spacing in px (overrides the preset)")
    p.add_argument("--step", type=_positive_int, help="query frames every N frames (overrides the preset)")
    p.add_argument("--max-tracks", type=_positive_int, help="at most N tracks (overrides the preset)")
    p.add_argument("--motion", default="transformer", choices=["transformer", "geometric"],
                   help="which tracks move: the shipped track transformer or the geometric baseline (default: %(default)s)")
    p.add_argument("--weights", help="track-transformer .safetensors (default: the weights shipped with movseg)")
    p.add_argument("--device", default="auto",
                   help="torch device of the track transformer and SAM2: auto (cuda, then mps, then cpu), cpu, "
                        "cuda[:N] or mps (default: %(default)s)")
    p.add_argument("--threshold", type=_threshold, metavar="P|auto",
                   help="group tracks with P(dynamic) above P into objects (default: the weights' own, 0.7 for the "
                   "shipped ones; lower finds slow movers, higher fewer false objects); auto: chosen per video "
                   "from its tracks' P (rescues objects the default misses, finds more false ones on pans)")
    p.add_argument("--segmenter", default="tracks", choices=["tracks", "sam2"],
                   help="dense masks from the tracks: tracks (weight-free: edge-aware interpolation, GrabCut) or sam2 "
                        "(prompted with a few points per object; needs --sam2-checkpoint) (default: %(default)s)")
    p.add_argument("--sam2-checkpoint", metavar="DIR",
                   help="local Hugging Face SAM2 folder (config.json, model.safetensors), e.g. facebook/sam2.1-hiera-tiny")
    p.add_argument("--sam2-dtype", choices=["float32", "bfloat16", "float16"],
                   help="precision SAM2 runs in (default: float32; half precision is for GPUs)")
    p.add_argument("--max-side", type=_positive_int,
                   help="process frames downscaled to this longest side; masks are written at full size "
                        "(default: 854, DAVIS 480p, where the defaults were chosen and timed)")
    p.add_argument("--stride", type=_positive_int, default=1, help="keep every N-th frame")
    p.add_argument("--max-frames", type=_positive_int, help="keep at most N frames")
    p.add_argument("--segment-frames", type=_non_negative_int,
                   help="segment videos longer than N frames in overlapping pieces of N, so that memory does not grow "
                        "with the length (default: 150; 0: the whole video at once)")
    p.add_argument("--segment-overlap", type=_positive_int,
                   help="frames each piece shares with the one before (default: 24, or a quarter of "
                        "--segment-frames when that is less; at most half of it)")
    if overlay_default:
        p.add_argument("--no-overlay", dest="overlay", action="store_false", help="do not write overlay.mp4")
    else:
        p.add_argument("--overlay", action="store_true", help="also write overlay.mp4 per sequence")
    p.add_argument("--merge-fragments", action="store_true",
                   help="one object for masks that touch on most frames (a limb grouped apart from its body); "
                        "off by default: objects that cross each other's path for long also merge")
    p.add_argument("--save-tracks", action="store_true",
                   help="write tracks.npz (xy, visible, confidence, query_frame, dynamic_prob, object_id)")
    p.add_argument("--vis-tracks", action="store_true",
                   help="write tracks.mp4: the tracks over the frames, each in its object's colour (grey: on no "
                        "object)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only errors")


def _check_bench_outputs(args) -> None:
    """A wrong -o or --json fails before a benchmark runs, not after."""
    from movseg.io.results import check_output_folder

    check_output_folder(args.output)
    if args.json:
        check_output_folder(Path(args.json).parent)


def _segment_config(args):
    from movseg.method import MethodConfig
    from movseg.objects import GroupConfig
    from movseg.pipeline import PRESETS, SegmentConfig

    grid = {k: v for k, v in PRESETS[args.preset].items()}
    grid.update({k: getattr(args, k) for k in grid if getattr(args, k, None) is not None})
    for flag in ("sam2_checkpoint", "sam2_dtype"):
        if getattr(args, flag) and args.segmenter != "sam2":
            raise MovsegError(f"--{flag.replace('_', '-')} is for --segmenter sam2: add it, or drop the option")
    if args.segmenter == "sam2":  # the presets' segmenter settings are the weight-free segmenter's
        grid["segmenter_options"] = {"checkpoint": args.sam2_checkpoint, "device": args.device}
        if args.sam2_dtype:
            grid["segmenter_options"]["dtype"] = args.sam2_dtype
    if args.threshold is not None and args.method != "movseg":
        raise MovsegError(f"--threshold is for --method movseg; the {args.method} baseline has no grouping threshold")
    fixed = None if args.threshold in (None, "auto") else args.threshold
    method = MethodConfig(**grid, motion=args.motion, weights=args.weights, device=args.device,
                          segmenter=args.segmenter, merge_fragments=args.merge_fragments,
                          group=GroupConfig(threshold=fixed), auto_threshold=args.threshold == "auto")
    max_side = args.max_side if args.max_side is not None else SegmentConfig.max_side
    pieces = args.segment_frames if args.segment_frames is not None else SegmentConfig.segment_frames
    overlap = args.segment_overlap or min(SegmentConfig.segment_overlap, max(1, pieces // 4))  # short pieces share fewer
    return SegmentConfig(method=args.method, max_side=max_side, stride=args.stride, max_frames=args.max_frames,
                         overlay=args.overlay, save_tracks=args.save_tracks, vis_tracks=args.vis_tracks,
                         progress=not args.quiet, segment_frames=pieces, segment_overlap=overlap, movseg=method)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="movseg", description="Find and segment the independently moving objects in a video.")
    parser.add_argument("--version", action="version", version=f"movseg {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("segment", help="segment the moving objects of a video or frame folder")
    p.add_argument("input", help="video file (mp4, mov, avi, webm, mkv) or folder of jpg/png frames")
    p.add_argument("-o", "--output", required=True, help="output root: results go to OUTPUT/<name>/")
    p.add_argument("--name", help="result folder name (default: the input folder's name or the video file's stem)")
    _add_segment_options(p, overlay_default=True)
    p.set_defaults(func=cmd_segment)

    p = sub.add_parser("eval", help="evaluate predicted masks against ground truth (DAVIS definitions)")
    p.add_argument("--pred", required=True, help="root of <sequence>/<frame>.png predictions")
    p.add_argument("--gt", required=True, help="root of <sequence>/<frame>.png ground truth (or a DAVIS root)")
    p.add_argument("--protocol", default="mos", choices=["mos", "fine", "mos-i"], help="default: %(default)s")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--sequences", help="comma-separated sequence names (default: all in --gt)")
    g.add_argument("--sequences-file", help="file with one sequence name per line")
    p.add_argument("--json", help="write the results as JSON here")
    p.add_argument("--csv", help="write DAVIS-style global_results.csv and per-sequence_results.csv into this folder")
    p.add_argument("--missing-as-empty", action="store_true", help="treat missing prediction frames as empty masks")
    p.add_argument("--quiet", "-q", action="store_true", help="do not print the table")
    p.set_defaults(func=cmd_eval)

    from movseg.synth.scene import PRESETS as SCENE_PRESETS

    p = sub.add_parser("synth", help="render synthetic moving-object videos with exact ground truth")
    p.add_argument("output", help="scenes go to OUTPUT/<preset>-<seed>-<index>/")
    p.add_argument("--scenes", type=_positive_int, default=1, help="number of scenes (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="base seed; scene i is the same whatever --scenes is")
    p.add_argument("--start", type=int, default=0, help="index of the first scene")
    p.add_argument("--preset", default="train", choices=list(SCENE_PRESETS), help="default: %(default)s")
    p.add_argument("--frames", type=_positive_int, help="frames per scene (default: the preset's)")
    p.add_argument("--size", type=_size, help="frame size HxW, e.g. 256x448 (default: the preset's)")
    p.add_argument("--workers", type=_positive_int, default=1, help="processes (default: %(default)s)")
    p.add_argument("--contact-sheet", help="also write a PNG grid of the first scenes with masks overlaid")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("track", help="long-range point tracks of a video (tracks.npz)")
    p.add_argument("input", help="video file or folder of frames")
    p.add_argument("-o", "--output", required=True, help="tracks file (.npz): xy, visible, confidence, query_frame")
    p.add_argument("--tracker", default="flow", help="tracker backend (default: %(default)s; baselines: dis-naive, lk)")
    _add_link_option(p)
    p.add_argument("--grid-size", type=_positive_int, default=10, help="query grid spacing in px (default: %(default)s)")
    p.add_argument("--step", type=_positive_int, default=8, help="query frames every N frames (default: %(default)s)")
    p.add_argument("--max-tracks", type=_positive_int, help="sample at most N queries")
    p.add_argument("--queries", help=".npy file of (N, 3) queries (t, x, y) in input pixels, instead of the grid")
    p.add_argument("--max-side", type=_positive_int, default=854,
                   help="read frames downscaled to this longest side; tracks are written in input pixels "
                        "(default: %(default)s; the flow tracker works at 480 px, so more only costs memory)")
    p.add_argument("--max-frames", type=_positive_int, help="keep at most N frames")
    p.add_argument("--vis", help="also draw the tracks: a .png (middle frame) or .mp4 (whole video)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only errors")
    p.set_defaults(func=cmd_track)

    p = sub.add_parser("bench", help="benchmarks")
    bsub = p.add_subparsers(dest="bench", required=True, metavar="BENCH")
    b = bsub.add_parser("davis", help="segment and evaluate (MOS) every sequence of a DAVIS root")
    b.add_argument("--root", required=True, help="DAVIS root with JPEGImages/480p and Annotations/480p")
    b.add_argument("--sequences-file", help="file with one sequence name per line (default: all)")
    b.add_argument("-o", "--output", required=True, help="masks go to OUTPUT/<sequence>/masks/")
    b.add_argument("--json", required=True, help="write the results as JSON here")
    _add_segment_options(b, overlay_default=False)
    b.set_defaults(func=cmd_bench_davis)
    b = bsub.add_parser("synth", help="segment and evaluate rendered scenes: MOS, fine-grained J&F, camera-only false objects")
    b.add_argument("--root", required=True, help="root of scenes written by `movseg synth`")
    b.add_argument("-o", "--output", required=True, help="masks go to OUTPUT/<scene>/masks/")
    b.add_argument("--json", required=True, help="write the results as JSON here")
    b.add_argument("--limit", type=_positive_int, help="at most N scenes")
    _add_segment_options(b, overlay_default=False)
    b.set_defaults(func=cmd_bench_synth)
    b = bsub.add_parser("tracks", help="tracker accuracy: TAP-Vid metrics on synthetic scenes, membership on DAVIS")
    g = b.add_mutually_exclusive_group(required=True)
    g.add_argument("--synth", help="root of scenes written by `movseg synth`")
    g.add_argument("--davis", help="DAVIS root (label-free membership consistency)")
    b.add_argument("--tracker", default="flow", help="tracker backend (default: %(default)s)")
    _add_link_option(b)
    b.add_argument("--limit", type=_positive_int, help="at most N synthetic scenes")
    b.add_argument("--sequences-file", help="DAVIS sequences, one per line (default: all)")
    b.add_argument("--max-frames", type=_positive_int, help="DAVIS: at most N frames per sequence")
    b.add_argument("--json", help="write the results as JSON here")
    b.add_argument("--quiet", "-q", action="store_true", help="print only the summary")
    b.set_defaults(func=cmd_bench_tracks)
    b = bsub.add_parser("motion", help="track transformer vs geometric baseline: track-level P/R/F1/AUC")
    b.add_argument("--weights", help="track-transformer .safetensors (default: the weights shipped in the package)")
    b.add_argument("--cache", default="runs/cache", help="cached tracks and cues (default: %(default)s)")
    b.add_argument("--test-seed", type=int, default=2026, help="seed of the synthetic test scenes (default: %(default)s)")
    b.add_argument("--test-scenes", type=_positive_int, default=50, help="default: %(default)s")
    b.add_argument("--davis", help="DAVIS root: also score its sequences, trained-on and held-out separately")
    b.add_argument("--exact-tracks", action="store_true",
                   help="score the synthetic test scenes' exact tracks instead of our tracker's (a bound)")
    b.add_argument("--workers", type=_positive_int, default=2, help="processes preparing the cache (default: %(default)s)")
    b.add_argument("--json", help="write the results as JSON here")
    b.add_argument("--quiet", "-q", action="store_true", help="print only the table")
    b.set_defaults(func=cmd_bench_motion)

    p = sub.add_parser("train", help="train the track transformer on synthetic scenes (and DAVIS sequences)")
    p.add_argument("--config", help="JSON or YAML file with TrainConfig fields (see movseg.train.TrainConfig)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="default: auto (cuda, mps, cpu)")
    p.add_argument("--resume", help="run folder (or its last.safetensors) to continue from")
    p.add_argument("--out", help="run folder (default: runs/motion)")
    p.add_argument("--steps", type=_positive_int, help="optimiser steps")
    p.add_argument("--davis-root", help="add the DAVIS sequences of this root to training (hold-out list kept out)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)
    return parser


def cmd_train(args) -> int:
    from movseg.train import load_config, train

    cfg = load_config(args.config, device=args.device, out=args.out, steps=args.steps, davis_root=args.davis_root)
    best = train(cfg, resume=args.resume, progress=not args.quiet)
    print(f"best validation F1 {best['f1']:.3f} (AUC {best['auc']:.3f}) at step {best['step']}: "
          f"{Path(cfg.out) / 'best.safetensors'}")
    return 0


def cmd_bench_motion(args) -> int:
    from movseg.eval.bench import write_json
    from movseg.train.bench import bench_motion, format_motion_table

    r = bench_motion(args.cache, args.weights, args.test_seed, args.test_scenes, args.davis, workers=args.workers,
                     progress=not args.quiet, exact_tracks=args.exact_tracks)
    print(format_motion_table(r))
    if args.davis and not any(split.startswith("davis") for split in r):
        print("DAVIS not scored: these weights read depth cues, and DAVIS has no depth maps", file=sys.stderr)
    if args.json:
        write_json(r, args.json)
    return 0


def cmd_segment(args) -> int:
    from movseg.pipeline import run_segment

    if args.name is not None and (not args.name.strip() or "/" in args.name or args.name in (".", "..")):
        raise MovsegError(f"--name must be a plain folder name, got {args.name!r}")
    folder, _ = run_segment(args.input, args.output, _segment_config(args), name=args.name)
    if not args.quiet:
        result = json.loads((folder / "result.json").read_text())
        if not result["objects"]:
            print("no moving objects found")
        shots = f" ({len(result['cuts']) + 1} shots)" if result.get("cuts") else ""
        print(f"{len(result['objects'])} moving object(s) in {result['frames']} frames{shots}, "
              f"{result['timings']['total']:.1f} s")
        print(f"masks:   {folder / 'masks'}")
        if args.overlay:
            print(f"overlay: {folder / 'overlay.mp4'}")
        print(f"result:  {folder / 'result.json'}")
    return 0


def cmd_track(args) -> int:
    import numpy as np

    from movseg.io import read_video, write_video
    from movseg.io.results import atomic_file, check_output_folder
    from movseg.tracking import track_video
    from movseg.tracking.base import rescale_xy

    for path in (args.output, args.vis):
        if path:
            check_output_folder(Path(path).parent)
    video = read_video(args.input, max_side=args.max_side, max_frames=args.max_frames)
    H0, W0 = video.original_size
    sx, sy = video.width / W0, video.height / H0
    queries = None
    if args.queries:
        try:
            queries = np.load(args.queries, allow_pickle=False).astype(np.float32)
        except (OSError, ValueError) as e:
            raise MovsegError(f"cannot read queries {args.queries}: {e} (give an .npy array of (t, x, y) rows)") from None
        if queries.ndim != 2 or queries.shape[1] != 3:
            raise MovsegError(f"queries in {args.queries} must be (N, 3) rows of (t, x, y), got {queries.shape}")
        queries = np.concatenate([queries[:, :1], rescale_xy(queries[:, 1:], sx, sy)], 1)
    grid = max(1, round(args.grid_size * sx))
    tracks = track_video(video, args.tracker, queries, grid, args.step, args.max_tracks, **_link_config(args))
    out = tracks.to_npz_dict()
    out["xy"] = rescale_xy(out["xy"], 1 / sx, 1 / sy)
    with atomic_file(args.output) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **out)
    if args.vis:
        from movseg.tracking.viz import draw_tracks

        frames = draw_tracks(video, tracks)
        if args.vis.lower().endswith(".mp4"):
            with atomic_file(args.vis) as tmp:
                write_video(tmp, frames, video.fps)
        else:
            import cv2

            mid = video.num_frames // 2
            img = next(f for i, f in enumerate(frames) if i == mid)
            if not cv2.imwrite(str(args.vis), img[:, :, ::-1]):
                raise MovsegError(f"cannot write {args.vis} (use a .png or .mp4 name)")
    if not args.quiet:
        vis = tracks.visible.mean() if tracks.num_tracks else 0.0
        print(f"{tracks.num_tracks} tracks over {tracks.num_frames} frames ({vis:.0%} of points visible) -> {args.output}")
    return 0


def _add_link_option(p) -> None:
    p.add_argument("--link", type=_non_negative_int, metavar="K",
                   help="flow tracker: long flow links every K frames (default: 4; 0 = none, the tracks that "
                        "`movseg segment` uses)")


def _link_config(args) -> dict:
    if args.link is None:
        return {}
    if args.tracker not in ("flow", "dis-naive"):
        raise MovsegError(f"--link applies to the flow trackers, not {args.tracker!r}: leave it out")
    return {"link": args.link}


def cmd_bench_tracks(args) -> int:
    from movseg.eval.bench import write_json
    from movseg.eval.evaluate import read_sequence_list
    from movseg.tracking.bench import bench_davis_tracks, bench_synth

    log = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    if args.synth:
        r = bench_synth(args.synth, args.tracker, args.limit, _link_config(args), log=log)
        m = r["mean"]
        print(f"{args.tracker}: AJ {100 * m['AJ']:.1f}  delta_avg {100 * m['delta_avg']:.1f}  OA {100 * m['OA']:.1f}  "
              f"({len(r['scenes'])} scenes, {1000 * r['seconds_per_frame']:.0f} ms/frame)")
    else:
        seqs = read_sequence_list(file=args.sequences_file)
        r = bench_davis_tracks(args.davis, args.tracker, seqs, max_frames=args.max_frames, config=_link_config(args),
                               log=log)
        m = r["mean"]
        print(f"{args.tracker}: membership consistency {100 * m['consistency']:.2f} % of visible points "
              f"({100 * m['foreground_consistency']:.1f} % for tracks starting on the foreground), "
              f"{1000 * r['seconds_per_frame']:.0f} ms/frame")
    if args.json:
        write_json(r, args.json)
    return 0


def cmd_synth(args) -> int:
    from movseg.io.results import check_output_folder
    from movseg.synth.generate import contact_sheet, generate_scene, resolve_preset, write_scenes

    preset = resolve_preset(args.preset, args.frames, args.size)
    check_output_folder(args.output)
    paths = write_scenes(args.output, args.seed, args.scenes, preset, args.start, args.workers, not args.quiet)
    if args.contact_sheet:
        import cv2

        shown = [generate_scene(args.seed, i, preset) for i in range(args.start, args.start + min(args.scenes, 6))]
        Path(args.contact_sheet).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(args.contact_sheet, contact_sheet(shown)[:, :, ::-1])
    if not args.quiet:
        print(f"{len(paths)} scene(s) in {args.output}")
    return 0


def cmd_eval(args) -> int:
    from movseg.eval.evaluate import evaluate, format_table, read_sequence_list, write_csv

    seqs = read_sequence_list(args.sequences, args.sequences_file)
    result = evaluate(args.pred, args.gt, args.protocol, seqs, args.missing_as_empty)
    if not args.quiet:
        print(format_table(result))
    if args.json:
        out = {k: v for k, v in result.items() if k != "objects"}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    if args.csv:
        write_csv(result, args.csv)
    return 0


def cmd_bench_davis(args) -> int:
    from movseg.eval.bench import bench_davis, write_json
    from movseg.eval.evaluate import format_table, read_sequence_list

    _check_bench_outputs(args)
    seqs = read_sequence_list(file=args.sequences_file)
    log = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    config = _segment_config(args)
    config.progress = False  # one line per sequence instead
    result = bench_davis(args.root, args.output, seqs, args.max_frames, config, log=log)
    write_json(result, args.json)
    if not args.quiet:
        print(format_table({"protocol": "mos", **result}))
        f = result["fine"]
        print(f"per object (fine): J {100 * f['J']:.2f}  F {100 * f['F']:.2f}  J&F {100 * f['JF']:.2f}")
        print(f"{result['seconds_per_frame']:.3f} s/frame, peak RSS {result['peak_rss_mb']:.0f} MB")
    return 0


def cmd_bench_synth(args) -> int:
    from movseg.eval.bench import bench_synth, write_json

    _check_bench_outputs(args)
    config = _segment_config(args)
    config.progress = False
    log = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    r = bench_synth(args.root, args.output, config, args.limit, log=log)
    write_json(r, args.json)
    c = r["camera_only"]
    rate = "n/a" if c["false_object_frame_rate"] is None else f"{100 * c['false_object_frame_rate']:.1f} %"
    print(f"MOS J {100 * r['mos']['J']:.1f} F {100 * r['mos']['F']:.1f} J&F {100 * r['mos']['JF']:.1f} | "
          f"fine J {100 * r['fine']['J']:.1f} F {100 * r['fine']['F']:.1f} J&F {100 * r['fine']['JF']:.1f} | "
          f"camera-only: {rate} of {c['frames']} frames with a false object | {r['seconds_per_frame']:.3f} s/frame")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MovsegError as e:
        print(f"movseg: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("movseg: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
