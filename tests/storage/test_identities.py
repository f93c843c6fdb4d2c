from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from server.storage.errors import NotFound
from server.storage.identities import IdentityStore
from server.storage.ids import new_id
from server.storage.layout import DataLayout
from server.types import Box, IdentityData, SelfieReport


def make_identity(embedding: bool = False) -> IdentityData:
    rng = np.random.default_rng(1)
    report = SelfieReport(
        index=0, width=512, height=512, face_box=Box(1, 2, 30, 40), detector="hog",
        sharpness=np.float32(0.5), frontality=0.9, face_size=np.int64(120), score=0.8,
        used_as_texture=True,
    )  # fmt: skip
    return IdentityData(
        texture=rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
        landmarks=rng.random((68, 2), dtype=np.float32),
        descriptors=rng.random((1, 128), dtype=np.float32),
        descriptor=rng.random(128, dtype=np.float32),
        selfies=[report],
        quality={"score": np.float64(0.8), "warnings": ["soft"], "texture_selfie": 0},
        embedding=rng.random(512, dtype=np.float32) if embedding else None,
    )


@pytest.fixture
def store(tmp_path: Path) -> IdentityStore:
    layout = DataLayout(tmp_path)
    layout.ensure()
    return IdentityStore(layout)


@pytest.mark.parametrize("embedding", [False, True])
def test_round_trip(store: IdentityStore, embedding: bool) -> None:
    data = make_identity(embedding)
    ident = new_id("identity")
    meta = store.save(ident, data, "2025-01-01T00:00:00Z")
    assert meta["selfies"][0]["face_box"] == {"left": 1, "top": 2, "right": 30, "bottom": 40}
    assert meta["quality"]["score"] == pytest.approx(0.8)
    assert store.meta(ident) == meta
    back = store.load(ident)
    np.testing.assert_array_equal(back.texture, data.texture)
    np.testing.assert_array_equal(back.landmarks, data.landmarks)
    np.testing.assert_array_equal(back.descriptor, data.descriptor)
    assert back.selfies[0].face_box == Box(1, 2, 30, 40)
    assert back.selfies[0].used_as_texture is True
    if embedding:
        assert data.embedding is not None and back.embedding is not None
        np.testing.assert_array_equal(back.embedding, data.embedding)
    else:
        assert back.embedding is None


def test_save_leaves_no_staging_dirs(store: IdentityStore, tmp_path: Path) -> None:
    ident = new_id("identity")
    store.save(ident, make_identity(), "t")
    assert [p.name for p in (tmp_path / "identities").iterdir()] == [ident]


@pytest.mark.parametrize("value", ["../renders", "idt_" + "0" * 24, "x"])
def test_unknown_or_malformed_ids_are_not_found(store: IdentityStore, value: str) -> None:
    with pytest.raises(NotFound) as info:
        store.load(value)
    assert info.value.code == "identity_not_found"
    assert not store.exists(value)


def test_delete_returns_linked_renders_and_removes_everything(
    store: IdentityStore, tmp_path: Path
) -> None:
    ident = new_id("identity")
    store.save(ident, make_identity(), "t")
    renders = sorted(new_id("render") for _ in range(3))
    for r in renders:
        store.link_render(ident, r)
    assert store.delete(ident) == renders
    assert list((tmp_path / "identities").iterdir()) == []
    assert not store.exists(ident)
    with pytest.raises(NotFound):
        store.delete(ident)
    with pytest.raises(NotFound):
        store.link_render(ident, new_id("render"))


def test_portrait_round_trip_and_old_identities(store: IdentityStore) -> None:
    rng = np.random.default_rng(2)
    portrait = rng.integers(0, 256, (60, 50, 3), dtype=np.uint8)
    marks = rng.random((68, 2), dtype=np.float32) * 50
    with_portrait = new_id("identity")
    data = make_identity()
    data.portrait, data.portrait_landmarks = portrait, marks
    store.save(with_portrait, data, "2025-01-01T00:00:00Z")
    back = store.load(with_portrait)
    assert back.portrait is not None and back.portrait_landmarks is not None
    np.testing.assert_array_equal(back.portrait, portrait)
    np.testing.assert_array_equal(back.portrait_landmarks, marks)
    assert store.has_portrait(with_portrait)
    old = new_id("identity")
    store.save(old, make_identity(), "2025-01-01T00:00:00Z")
    assert store.load(old).portrait is None and not store.has_portrait(old)
    assert not store.has_portrait(new_id("identity"))  # unknown
