"""Video reading (files and folders), mask PNGs, atomic result writing."""

import json

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import moving_square_clip, write_frames
from movseg.errors import MovsegError
from movseg.io import DAVIS_PALETTE, read_mask, read_video, write_mask, write_video
from movseg.io.results import write_results
from movseg.io.video import natural_key
from movseg.types import Segmentation, Video


def encode(path, frames, codec, fps=25, pix_fmt="yuv420p"):
    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        for f in frames:
            out.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(s.encode(None))


@pytest.mark.parametrize(
    "ext,codec", [("mp4", "libx264"), ("mov", "libx264"), ("avi", "mpeg4"), ("webm", "libvpx-vp9"), ("mkv", "libx264")]
)
def test_read_video_containers(tmp_path, ext, codec):
    frames, _ = moving_square_clip(T=6)
    p = tmp_path / f"clip.{ext}"
    encode(p, frames, codec)
    v = read_video(p)
    assert v.frames.shape == frames.shape and v.frames.dtype == np.uint8
    assert v.names == [f"{i:05d}" for i in range(6)]
    assert v.fps == pytest.approx(25, rel=0.01)
    assert v.name == "clip"
    luma = lambda x: x.astype(float) @ [0.299, 0.587, 0.114]  # chroma is subsampled, luma is not
    assert np.abs(luma(v.frames) - luma(frames)).mean() < 6  # lossy, but the same pictures


def test_stride_max_frames_and_resize(tmp_path):
    frames, _ = moving_square_clip(T=10, h=96, w=128)
    write_frames(tmp_path / "seq", frames)
    v = read_video(tmp_path / "seq", stride=3, max_frames=3, max_side=64)
    assert v.frames.shape == (3, 48, 64, 3)
    assert v.names == ["00000", "00003", "00006"]
    assert v.fps == pytest.approx(8.0)
    assert v.original_size == (96, 128)


def test_large_jpegs_are_decoded_small_and_match_a_full_decode(tmp_path):
    rng = np.random.default_rng(0)
    small = cv2.resize(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8), (400, 300), interpolation=cv2.INTER_CUBIC)
    big = cv2.resize(small, (1600, 1200), interpolation=cv2.INTER_CUBIC)  # smooth content, 4x the target
    (tmp_path / "seq").mkdir()
    for i in range(2):
        cv2.imwrite(str(tmp_path / "seq" / f"{i}.jpg"), big, [cv2.IMWRITE_JPEG_QUALITY, 95])
    v = read_video(tmp_path / "seq", max_side=400)  # decoded at 1/4 scale
    assert v.frames.shape == (2, 300, 400, 3) and v.original_size == (1200, 1600)
    full = cv2.resize(cv2.imread(str(tmp_path / "seq" / "0.jpg")), (400, 300), interpolation=cv2.INTER_AREA)[..., ::-1]
    assert np.abs(v.frames[0].astype(int) - full).mean() < 3
    one = read_video(tmp_path / "seq" / "1.jpg", max_side=500)  # a single image: 1/2 scale, then resized
    assert one.frames.shape == (1, 375, 500, 3) and one.original_size == (1200, 1600)
    cv2.imwrite(str(tmp_path / "seq" / "2.jpg"), big[:1196])  # 4 px shorter: the same size at 1/4 scale
    with pytest.raises(MovsegError, match="same size"):
        read_video(tmp_path / "seq", max_side=400)


def test_natural_sort(tmp_path):
    frames, _ = moving_square_clip(T=11)
    d = tmp_path / "nat"
    write_frames(d, frames, pattern="frame_{}")
    v = read_video(d)
    assert v.names[:3] == ["frame_0", "frame_1", "frame_2"] and v.names[-1] == "frame_10"
    assert sorted(["frame_10", "frame_2", "Frame_1"], key=natural_key) == ["Frame_1", "frame_2", "frame_10"]
    assert np.array_equal(v.frames[10], frames[10])  # png: lossless, in the right order


def test_gray_rgba_16bit_and_palette_frames_are_converted(tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    rgb = moving_square_clip(T=1, h=32, w=40)[0][0]
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    cv2.imwrite(str(d / "0.png"), gray)
    cv2.imwrite(str(d / "1.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA))
    cv2.imwrite(str(d / "2.png"), (rgb[:, :, ::-1].astype(np.uint16) * 257))
    Image.fromarray(rgb).convert("P").save(d / "3.png")
    cv2.imwrite(str(d / "4.png"), gray.astype(np.uint16) * 257)
    v = read_video(d)
    assert v.frames.shape == (5, 32, 40, 3)
    assert np.array_equal(v.frames[0], np.repeat(gray[:, :, None], 3, 2))
    assert np.array_equal(v.frames[1], rgb) and np.array_equal(v.frames[2], rgb)
    assert np.array_equal(v.frames[4], v.frames[0])


def test_non_image_files_skipped_with_one_warning(tmp_path):
    frames, _ = moving_square_clip(T=3)
    d = tmp_path / "seq"
    write_frames(d, frames, ext="jpg")
    (d / "notes.txt").write_text("x")
    (d / "meta.json").write_text("{}")
    warnings = []
    v = read_video(d, warn=warnings.append)
    assert v.num_frames == 3
    assert len(warnings) == 1 and "skipping 2 non-image" in warnings[0]


def _file(path, data: bytes):
    path.write_bytes(data)
    return path


def _dir(path):
    path.mkdir()
    return path


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: p / "nope.mp4", "input not found"),
        (lambda p: _dir(p / "empty"), "no jpg/png images"),
        (lambda p: _file(p / "bad.mp4", b"\x00garbage" * 100), "cannot read video"),
        (lambda p: _file(p / "bad.png", b"not a png"), "cannot decode image"),
    ],
)
def test_bad_inputs_raise_one_line(tmp_path, make, message):
    with pytest.raises(MovsegError, match=message) as e:
        read_video(make(tmp_path))
    assert "\n" not in str(e.value)


def test_truncated_and_zero_frame_videos(tmp_path):
    frames, _ = moving_square_clip(T=20)
    write_video(tmp_path / "full.mp4", frames, 24)  # faststart: header first, so a cut keeps it
    data = (tmp_path / "full.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(MovsegError, match="truncated|cannot read|corrupt"):
        read_video(tmp_path / "cut.mp4")
    with av.open(str(tmp_path / "zero.mkv"), "w") as out:
        s = out.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()
    with pytest.raises(MovsegError, match="zero.mkv"):
        read_video(tmp_path / "zero.mkv")


def test_frames_of_different_sizes(tmp_path):
    d = tmp_path / "sizes"
    d.mkdir()
    cv2.imwrite(str(d / "0.png"), np.zeros((20, 30, 3), np.uint8))
    cv2.imwrite(str(d / "1.png"), np.zeros((20, 32, 3), np.uint8))
    with pytest.raises(MovsegError, match="same size"):
        read_video(d)


def test_write_video_is_browser_playable(tmp_path):
    frames, _ = moving_square_clip(T=5, h=47, w=63)  # odd sizes get padded
    p = tmp_path / "o.mp4"
    write_video(p, frames, 30)
    data = p.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # faststart: index before media
    with av.open(str(p)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
        assert (s.width, s.height) == (64, 48)
        assert sum(1 for _ in c.decode(s)) == 5


# ---- masks ----
def test_mask_round_trip_is_indexed_with_davis_palette(tmp_path):
    lab = np.zeros((10, 12), np.uint8)
    lab[2:5, 3:7] = 1
    lab[6:9, 1:4] = 3
    write_mask(tmp_path / "m.png", lab)
    img = Image.open(tmp_path / "m.png")
    assert img.mode == "P"
    assert tuple(img.getpalette()[3:6]) == (128, 0, 0)  # DAVIS id 1
    assert np.array_equal(read_mask(tmp_path / "m.png"), lab)


def test_read_binary_and_rgb_masks(tmp_path):
    m = np.zeros((8, 8), np.uint8)
    m[2:5, 2:5] = 255
    Image.fromarray(m).save(tmp_path / "bin.png")
    assert read_mask(tmp_path / "bin.png").max() == 1
    Image.fromarray(np.repeat(m[:, :, None], 3, 2)).save(tmp_path / "white.png")
    assert np.array_equal(read_mask(tmp_path / "white.png"), m // 255)
    lab = np.zeros((8, 8), np.uint8)
    lab[1:3] = 2
    lab[5:] = 4
    Image.fromarray(DAVIS_PALETTE[lab]).save(tmp_path / "rgb.png")
    assert np.array_equal(read_mask(tmp_path / "rgb.png"), lab)
    rgb = DAVIS_PALETTE[lab].copy()
    rgb[0, 0] = (1, 2, 3)
    Image.fromarray(rgb).save(tmp_path / "odd.png")
    with pytest.raises(MovsegError, match="not in the DAVIS palette"):
        read_mask(tmp_path / "odd.png")


# ---- results ----
def _video_and_seg():
    frames, labels = moving_square_clip(T=4)
    v = Video(frames, 24.0, [f"{i:05d}" for i in range(4)], "/data/clip.mp4")
    return v, Segmentation(labels, np.array([[True, True, False, False]]))


def test_write_results_layout(tmp_path):
    v, seg = _video_and_seg()
    folder = write_results(tmp_path / "out", v, seg, {"timings": {"read": 0.5}, "config": {"a": 1}})
    assert folder == tmp_path / "out" / "clip"
    assert sorted(p.name for p in folder.iterdir()) == ["masks", "overlay.mp4", "result.json"]
    assert np.array_equal(read_mask(folder / "masks" / "00002.png"), seg.labels[2])
    r = json.loads((folder / "result.json").read_text())
    assert r["frames"] == 4 and r["size"] == [96, 128] and r["config"] == {"a": 1}
    assert r["objects"] == [{"id": 1, "moving": [[0, 1]], "present": [[0, 3]], "score": 1.0}]
    assert set(r["timings"]) == {"read", "write", "total"}
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["clip"]  # no temporary left


def test_in_memory_video_gets_a_folder_of_its_own(tmp_path):
    v, seg = _video_and_seg()
    v.source = ""
    assert write_results(tmp_path, v, seg, overlay=False) == tmp_path / "video"


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    import movseg.io.results as results

    v, seg = _video_and_seg()

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(results, "draw_objects", boom)  # interrupted while frames are being written
    with pytest.raises(KeyboardInterrupt):
        write_results(tmp_path / "new" / "out", v, seg)
    assert not (tmp_path / "new").exists()  # the folders this call created are gone too
    # an existing result survives a failed overwrite untouched
    monkeypatch.undo()
    folder = write_results(tmp_path / "out", v, seg)
    before = sorted(p.name for p in (folder / "masks").iterdir())
    monkeypatch.setattr(results, "draw_objects", boom)
    with pytest.raises(KeyboardInterrupt):
        write_results(tmp_path / "out", v, Segmentation.empty(4, 96, 128))
    assert sorted(p.name for p in (folder / "masks").iterdir()) == before
    assert read_mask(folder / "masks" / "00000.png").max() == 1
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["clip"]


def test_overlay_blends_objects_and_leaves_background():
    from movseg.io.results import draw_objects

    frame = np.full((20, 30, 3), 100, np.uint8)
    lab = np.zeros((20, 30), np.uint8)
    lab[5:15, 5:12] = 1
    lab[5:15, 18:25] = 2
    out = draw_objects(frame, lab, alpha=0.5)
    assert (out[0, 0] == 100).all() and (out[:, 13:17] == 100).all()  # background untouched
    for k, x in ((1, 8), (2, 21)):  # object interiors: half frame, half the object's palette colour
        expect = np.round(0.5 * 100 + 0.5 * DAVIS_PALETTE[k].astype(float))
        assert np.abs(out[10, x].astype(int) - expect).max() <= 1
        assert (out[5, x] == DAVIS_PALETTE[k]).all()  # outline in the object's colour


def test_video_stream_decodes_a_folder_a_few_frames_ahead_not_all_at_once(tmp_path, monkeypatch):
    import movseg.io.video as video

    frames, _ = moving_square_clip(T=20)
    write_frames(tmp_path / "seq", frames)
    decoded = []
    real = video._read_image
    monkeypatch.setattr(video, "_read_image", lambda path, *a: decoded.append(path) or real(path, *a))
    stream = video.VideoStream(tmp_path / "seq", stride=2)
    it = iter(stream)
    name, first = next(it)
    assert name == "00000" and np.array_equal(first, frames[0]) and stream.original_size == (96, 128)
    assert len(decoded) <= 5  # the frame and a few in flight
    rest = list(it)
    assert [n for n, _ in rest] == [f"{i:05d}" for i in range(2, 20, 2)] and stream.fps == 12.0


def test_result_writer_leaves_nothing_unless_finished(tmp_path):
    from movseg.io.results import ResultWriter

    v, seg = _video_and_seg()
    with pytest.raises(MovsegError, match="not finished"):
        with ResultWriter(tmp_path / "out", "clip", v.source, v.fps, (96, 128)) as out:
            out.add("00000", v.frames[0], seg.labels[0])
    assert not (tmp_path / "out").exists()
    with ResultWriter(tmp_path / "out", "clip", v.source, v.fps, (192, 256), overlay=False) as out:
        for name, frame, lab in zip(v.names, v.frames, seg.labels):
            out.add(name, frame, lab)
        folder = out.finish(seg.moving, seg.scores)
    assert read_mask(folder / "masks" / "00003.png").shape == (192, 256)  # upsampled as written
    assert json.loads((folder / "result.json").read_text())["objects"][0]["present"] == [[0, 3]]


def test_check_output_folder_probes_without_leaving_anything(tmp_path):
    from movseg.io.results import check_output_folder

    check_output_folder(tmp_path / "a" / "b")  # may be created later: fine, and nothing is made now
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "f").write_text("x")
    with pytest.raises(MovsegError, match="is a file, not a folder"):
        check_output_folder(tmp_path / "f" / "out")
    assert [p.name for p in tmp_path.iterdir()] == ["f"]
