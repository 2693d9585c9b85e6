"""movseg: find and segment the independently moving objects in a video.

Importing the package is cheap: heavy dependencies (torch, PyAV) load only in
the modules that need them.
"""

__version__ = "0.1.0"

from movseg.errors import MovsegError
from movseg.types import Segmentation, Tracks, Video

__all__ = ["MovsegError", "Segmentation", "Tracks", "Video", "__version__"]
