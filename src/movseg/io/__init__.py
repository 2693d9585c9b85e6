"""Reading videos and masks, writing results (DAVIS PNGs, overlay video, JSON)."""

from movseg.io.masks import DAVIS_PALETTE, read_mask, read_mask_folder, write_mask
from movseg.io.results import write_results
from movseg.io.video import read_video, write_video

__all__ = [
    "DAVIS_PALETTE",
    "read_mask",
    "read_mask_folder",
    "read_video",
    "write_mask",
    "write_results",
    "write_video",
]
