"""Reading the inswapper's emap from the graph, as insightface does."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from insightface.model_zoo.inswapper import INSwapper
from onnx import TensorProto, helper

from server.runtime import ModelStore, read_emap, read_last_initializer


def test_emap_equals_what_insightface_reads(models_dir, synthetic_manifest, capsys):
    store = ModelStore(synthetic_manifest, models_dir, "cpu", ["inswapper_128"])
    store.load()
    path = store.path("inswapper_128")
    swapper = INSwapper(model_file=str(path), session=store.get_session("inswapper_128"))
    capsys.readouterr()  # INSwapper prints its input shape
    emap = read_emap(path)
    assert emap.dtype == np.float32 and emap.shape == (512, 512)
    np.testing.assert_array_equal(emap, swapper.emap)
    np.testing.assert_allclose(emap @ emap.T, np.eye(512), atol=1e-4)  # synthetic: orthogonal


def test_emap_shape_is_checked(models_dir):
    assert read_last_initializer(models_dir / "w600k_r50.onnx").shape == (147, 512)
    with pytest.raises(ValueError, match=r"shape \(147, 512\), expected \(512, 512\)"):
        read_emap(models_dir / "w600k_r50.onnx")


def test_graph_without_initializers_is_an_error(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ValueError, match="no initializers"):
        read_last_initializer(path)
