"""Reading constants stored inside an ONNX graph (not visible through onnxruntime).

The inswapper keeps its identity map ("emap", 512x512 float32) as the graph's last
initializer; insightface reads it the same way. onnxruntime may even drop it from its
in-memory graph when no node uses it, so it has to come from the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import numpy_helper

EMAP_SHAPE = (512, 512)


def read_last_initializer(path: Path | str) -> np.ndarray:
    """The last initializer of the graph in ``path``, as a numpy array (a copy)."""
    model = onnx.load(str(path))
    initializers = model.graph.initializer
    if not initializers:
        raise ValueError(f"{path}: the graph has no initializers")
    return np.array(numpy_helper.to_array(initializers[-1]))


def read_emap(path: Path | str) -> NDArray[np.float32]:
    """The inswapper's 512x512 embedding map, checked for shape and cast to float32.

    Use: ``latent = normed_embedding @ emap`` then L2-normalise (insightface).
    """
    emap = read_last_initializer(path)
    if emap.shape != EMAP_SHAPE:
        raise ValueError(f"{path}: last initializer has shape {emap.shape}, expected {EMAP_SHAPE}")
    return emap.astype(np.float32, copy=False)
