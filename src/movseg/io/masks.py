"""DAVIS-format label masks: 8-bit indexed PNGs with the DAVIS (PASCAL VOC) palette."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from movseg.errors import MovsegError


def _davis_palette() -> np.ndarray:
    """The DAVIS palette, ``uint8 (256, 3)``: the PASCAL VOC colour map (id 1 = (128, 0, 0))."""
    pal = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


DAVIS_PALETTE = _davis_palette()
_COLOUR_TO_ID = {tuple(int(v) for v in c): i for i, c in reversed(list(enumerate(DAVIS_PALETTE)))}


def write_mask(path: str | Path, labels: np.ndarray) -> None:
    """Write ``uint8 (H, W)`` labels (0 = background, k = object k) as a DAVIS indexed PNG."""
    if labels.ndim != 2:
        raise ValueError(f"labels must be (H, W), got {labels.shape}")
    img = Image.fromarray(np.ascontiguousarray(labels.astype(np.uint8)), mode="P")
    img.putpalette(DAVIS_PALETTE.tobytes())
    img.save(str(path), optimize=False)


def read_mask(path: str | Path) -> np.ndarray:
    """Read a mask PNG as ``uint8 (H, W)`` object ids (0 = background).

    Accepted forms:
      * DAVIS indexed PNGs (palette mode): the palette index is the id;
      * grayscale PNGs: the value is the id, except binary 0/255 (or 0/65535)
        masks, read as 0/1;
      * RGB(A) PNGs drawn with the DAVIS palette: each colour is mapped back to
        its index; pure white is id 1 (a binary mask saved as RGB).

    A value of 255 next to other ids is DAVIS's "void" label; we read it as
    background (the DAVIS-2016 and synthetic ground truth we use have none).
    """
    path = Path(path)
    try:
        img = Image.open(path)
        img.load()
    except (OSError, SyntaxError) as e:
        raise MovsegError(f"cannot read mask {path}: {e} (replace it with a PNG)") from None
    if img.mode in ("RGB", "RGBA"):
        return _rgb_to_ids(np.asarray(img)[:, :, :3], path)
    if img.mode == "LA":
        img = img.getchannel(0)
    arr = np.asarray(img)
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    values = np.unique(arr)
    top = 65535 if arr.dtype != np.uint8 and values.max(initial=0) > 255 else 255
    if values.size <= 2 and set(values.tolist()) <= {0, top} and top in values:
        return (arr == top).astype(np.uint8)
    if values.max(initial=0) > 255:
        raise MovsegError(f"mask {path} has id {int(values.max())} > 255 (use 8-bit ids)")
    out = arr.astype(np.uint8)
    if 255 in values:
        out[out == 255] = 0
    return out


def _rgb_to_ids(rgb: np.ndarray, path: Path) -> np.ndarray:
    flat = rgb.reshape(-1, 3)
    colours, inverse = np.unique(flat, axis=0, return_inverse=True)
    ids = np.zeros(len(colours), np.uint8)
    binary = len(colours) <= 2 and all(tuple(c) in {(0, 0, 0), (255, 255, 255)} for c in colours.tolist())
    for i, c in enumerate(colours.tolist()):
        if binary and tuple(c) == (255, 255, 255):
            ids[i] = 1
        elif tuple(c) in _COLOUR_TO_ID:
            ids[i] = _COLOUR_TO_ID[tuple(c)]
        else:
            raise MovsegError(f"mask {path} has colour {tuple(c)} that is not in the DAVIS palette (save it as an indexed PNG)")
    ids[ids == 255] = 0
    return ids[inverse.reshape(-1)].reshape(rgb.shape[:2])


def mask_files(folder: str | Path) -> list[Path]:
    """The PNG masks of one sequence: ``folder/*.png`` or, as ``movseg segment`` writes them, ``folder/masks/*.png``."""
    from movseg.io.video import natural_key

    folder = Path(folder)
    if (folder / "masks").is_dir():
        folder = folder / "masks"
    return sorted(folder.glob("*.png"), key=lambda f: natural_key(f.name))


def read_mask_folder(folder: str | Path) -> tuple[list[str], np.ndarray]:
    """All masks of one sequence: (frame names, ``uint8 (T, H, W)`` ids)."""
    files = mask_files(folder)
    if not files:
        raise MovsegError(f"no PNG masks in {folder}")
    masks = [read_mask(f) for f in files]
    for f, m in zip(files, masks):
        if m.shape != masks[0].shape:
            raise MovsegError(f"mask {f} is {m.shape[1]}x{m.shape[0]}, {files[0].name} is {masks[0].shape[1]}x{masks[0].shape[0]}")
    return [f.stem for f in files], np.stack(masks)
