"""Which tracks move: cues per track and the track transformer that labels them dynamic or static.

``track_cues(video, tracks) -> TrackCues``; ``load_model()`` (shipped weights);
``predict_dynamic(model, cues) -> (N,)`` probabilities (longer videos scored in windows of ``WINDOW``
frames; ``predict_dynamic_max`` combines several such scorings, and ``predict_dynamic_lifted`` also returns
the P of the windows alone). The geometric
baseline (:func:`geometric_dynamic`) needs no weights.
"""

from movseg.motion.cues import CueConfig, TrackCues, track_cues
from movseg.motion.model import MotionModelConfig, TrackTransformer
from movseg.motion.predict import (DEFAULT_WEIGHTS, WINDOW, geometric_dynamic, geometric_score, load_model,
                                   predict_dynamic, predict_dynamic_lifted, predict_dynamic_max, save_model)

__all__ = ["CueConfig", "DEFAULT_WEIGHTS", "MotionModelConfig", "TrackCues", "TrackTransformer", "WINDOW",
           "geometric_dynamic", "geometric_score", "load_model", "predict_dynamic", "predict_dynamic_lifted",
           "predict_dynamic_max", "save_model", "track_cues"]
