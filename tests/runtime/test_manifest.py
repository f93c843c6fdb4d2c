"""The production manifest, and how validation failures read."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from insightface.utils import face_align

from server.runtime.manifest import Manifest, ManifestError, dump_manifest, load_manifest
from tools.synthetic_models import PRODUCTION_MANIFEST

RAW: dict[str, Any] = json.loads(PRODUCTION_MANIFEST.read_text())


def _model(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in raw["models"] if m["name"] == name)


def test_required_models_are_declared_with_their_roles(production_manifest: Manifest):
    roles = {m.name: m.role for m in production_manifest.models}
    assert roles["inswapper_128"] == roles["inswapper_128_fp16"] == "swapper"
    assert roles["det_10g"] == "detector"
    assert roles["w600k_r50"] == "recognizer"
    assert roles["gfpgan_1.4"] == "enhancer"
    live_portrait = [m for m in production_manifest.models if m.group == "live_portrait"]
    assert {m.name for m in live_portrait} == {
        "live_portrait_feature_extractor",
        "live_portrait_motion_extractor",
        "live_portrait_generator",
        "live_portrait_stitcher",
    }
    assert {m.role for m in live_portrait} == {"motion"}


def test_pinning_and_licences(production_manifest: Manifest):
    unpinned = [m.name for m in production_manifest.models if not m.pinned]
    assert unpinned == [
        "gfpgan_1.4",
        "live_portrait_feature_extractor",
        "live_portrait_motion_extractor",
        "live_portrait_generator",
        "live_portrait_stitcher",
    ]
    commercial = {m.name: m.commercial_use for m in production_manifest.models}
    assert commercial == {
        "inswapper_128": False,
        "inswapper_128_fp16": False,
        "det_10g": False,
        "w600k_r50": False,
        "gfpgan_1.4": True,
        "live_portrait_feature_extractor": True,
        "live_portrait_motion_extractor": True,
        "live_portrait_generator": True,
        "live_portrait_stitcher": True,
    }


def test_every_model_has_mirrors_and_says_what_is_unverified(production_manifest: Manifest):
    for model in production_manifest.models:
        assert len(model.urls) >= 2, model.name
        assert model.unverified, model.name


def test_arcface_templates_equal_insightface(production_manifest: Manifest):
    arc112 = np.array(production_manifest.template("arcface_112").points)
    arc128 = np.array(production_manifest.template("arcface_128").points)
    np.testing.assert_allclose(arc112, face_align.arcface_dst, atol=1e-4)
    np.testing.assert_allclose(arc128, face_align.arcface_dst + np.array([8.0, 0.0]), atol=1e-4)


def test_alignment_size_matches_the_image_input(production_manifest: Manifest):
    for model in production_manifest.models:
        if model.alignment is None or model.normalisation is None:
            continue
        shape = model.input(model.normalisation.input).shape
        size = production_manifest.template(model.alignment).size
        assert shape[2:] == (size, size), model.name


def test_dump_and_load_round_trip(production_manifest: Manifest, tmp_path):
    dump_manifest(production_manifest, tmp_path / "m.json")
    assert load_manifest(tmp_path / "m.json") == production_manifest


def _duplicate_name(raw):
    raw["models"].append(copy.deepcopy(_model(raw, "det_10g")) | {"file": "other.onnx"})


def _set(name: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        _model(raw, name)[key] = value

    return mutate


def _set_input(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        _model(raw, "det_10g")["inputs"][0][key] = value

    return mutate


def _bad_range(raw):
    _model(raw, "w600k_r50")["normalisation"]["value_range"] = [0.0, 1.0]


def _no_licence_reference(raw):
    model = _model(raw, "gfpgan_1.4")
    model["license_url"] = model["license_note"] = None


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_duplicate_name, "duplicate model name(s): det_10g"),
        (_set("det_10g", "sha256", "abc123"), "sha256 must be 64 lowercase hex digits"),
        (_set("det_10g", "sha256", "E" * 64), "sha256 must be 64 lowercase hex digits"),
        (_set("det_10g", "role", "segmenter"), "models.'det_10g'.role: Input should be"),
        (_set("det_10g", "alignment", "nope_256"), "unknown alignment template 'nope_256'"),
        (_set("det_10g", "file", "../det.onnx"), "must be a bare file name"),
        (_set("det_10g", "bytes", 0), "greater than 0"),
        (_set("det_10g", "urls", ["ftp://x/y"]), "must be http(s)"),
        (_set("det_10g", "colour", "RGB"), "Extra inputs are not permitted"),
        (_set_input("warmup_shape", [1, 1, 640, 640]), "warmup_shape contradicts shape"),
        (_set_input("dtype", "complex64"), "dtype"),
        (_bad_range, "does not follow from mean/std"),
        (_no_licence_reference, "give license_url or license_note"),
    ],
)
def test_invalid_manifests_fail_with_a_clear_message(tmp_path, mutate, expected):
    raw = copy.deepcopy(RAW)
    mutate(raw)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_role_error_lists_the_allowed_roles(tmp_path):
    raw = copy.deepcopy(RAW)
    _set("det_10g", "role", "segmenter")(raw)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ManifestError, match=r"'detector'.*'motion'"):
        load_manifest(path)


def test_motion_role_is_accepted(tmp_path):
    raw = copy.deepcopy(RAW)
    motion = copy.deepcopy(_model(raw, "gfpgan_1.4"))
    motion.update(name="tpsmm_kp", role="motion", file="kp.onnx", group="tpsmm_vox")
    motion.update(alignment=None, normalisation=None)
    raw["models"].append(motion)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(raw))
    assert load_manifest(path).get("tpsmm_kp").role == "motion"


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ManifestError, match="manifest not found"):
        load_manifest(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ManifestError, match="cannot read manifest"):
        load_manifest(tmp_path / "bad.json")


def test_unknown_model_lookup_names_the_known_ones(production_manifest: Manifest):
    with pytest.raises(KeyError, match=r"unknown model 'nope'.*det_10g"):
        production_manifest.get("nope")
