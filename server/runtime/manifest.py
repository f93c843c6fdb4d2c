"""The model manifest: every ONNX model the product may load, declared once.

``onnx_models/manifest.json`` is data, validated here with pydantic v2. A model entry
states where the file comes from (``urls``, several mirrors, all serving the same
bytes), how to trust it (``bytes`` + ``sha256``; ``null`` means "not published, not
pinned"), under which licence, and the tensor contract the engines rely on (names,
shapes with symbolic dims as strings, dtype, normalisation, alignment template).

Conventions: pixel normalisation is ``(pixel_0_255 - mean) / std`` in ``colour_order``
and ``layout``; ``value_range`` is the resulting range. Alignment templates are declared
once at the top level, in pixels of a ``size`` x ``size`` crop, in the 5-point order
left eye, right eye, nose tip, left mouth corner, right mouth corner (image-left first).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Role = Literal["detector", "recognizer", "swapper", "enhancer", "motion"]
DType = Literal["float32", "float16", "float64", "int64", "int32", "uint8"]
ColourOrder = Literal["RGB", "BGR"]
Layout = Literal["NCHW", "NHWC"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class ManifestError(ValueError):
    """The manifest file is missing, not JSON, or does not validate."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TensorSpec(_Frozen):
    """One graph input or output. Symbolic dims are strings (e.g. "N", "?")."""

    name: str = Field(min_length=1)
    shape: tuple[int | str, ...]
    dtype: DType = "float32"
    warmup_shape: tuple[int, ...] | None = Field(
        None, description="Concrete shape for the warm-up run (default: see sessions.py)."
    )

    @model_validator(mode="after")
    def _check_dims(self) -> TensorSpec:
        for dim in self.shape:
            if isinstance(dim, int) and dim <= 0:
                raise ValueError(f"tensor {self.name!r}: fixed dims must be > 0, got {dim}")
            if isinstance(dim, str) and not dim:
                raise ValueError(f"tensor {self.name!r}: symbolic dims need a name")
        if self.warmup_shape is not None:
            if len(self.warmup_shape) != len(self.shape):
                raise ValueError(f"tensor {self.name!r}: warmup_shape rank differs from shape")
            for dim, concrete in zip(self.shape, self.warmup_shape, strict=True):
                if concrete <= 0 or (isinstance(dim, int) and dim != concrete):
                    raise ValueError(f"tensor {self.name!r}: warmup_shape contradicts shape")
        return self


class Normalisation(_Frozen):
    """How an image becomes the model input (and, for image outputs, what comes back)."""

    input: str
    colour_order: ColourOrder
    layout: Layout = "NCHW"
    mean: tuple[float, ...]
    std: tuple[float, ...]
    value_range: tuple[float, float]
    output: str | None = None
    output_range: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _check_consistent(self) -> Normalisation:
        if len(self.mean) not in (1, 3) or len(self.std) != len(self.mean):
            raise ValueError("mean and std need 1 or 3 values each, the same number")
        if any(s <= 0 for s in self.std):
            raise ValueError("std values must be > 0")
        lows = [(0.0 - m) / s for m, s in zip(self.mean, self.std, strict=True)]
        highs = [(255.0 - m) / s for m, s in zip(self.mean, self.std, strict=True)]
        low, high = self.value_range
        if abs(min(lows) - low) > 0.01 or abs(max(highs) - high) > 0.01:
            raise ValueError(
                f"value_range {list(self.value_range)} does not follow from mean/std "
                f"(expected about [{min(lows):.3f}, {max(highs):.3f}])"
            )
        return self


class AlignmentTemplate(_Frozen):
    """Five reference points (pixels) of an aligned size x size face crop."""

    size: int = Field(gt=0)
    points: tuple[tuple[float, float], ...]
    source: str = ""

    @model_validator(mode="after")
    def _check_points(self) -> AlignmentTemplate:
        if len(self.points) != 5:
            raise ValueError(f"an alignment template has 5 points, got {len(self.points)}")
        if any(not (0 <= c <= self.size) for point in self.points for c in point):
            raise ValueError("alignment points must lie inside the crop")
        return self


class AnchorSpec(_Frozen):
    """Anchor layout of a dense detector (SCRFD: strides 8/16/32, 2 anchors per cell)."""

    strides: tuple[int, ...]
    per_cell: int = Field(gt=0)


class ModelEntry(_Frozen):
    """One model file and everything known about it."""

    name: str
    role: Role
    file: str
    bytes: int | None = Field(None, gt=0, description="null: size not published")
    sha256: str | None = Field(None, description="null: hash not published (unpinned)")
    md5: str | None = None
    urls: tuple[str, ...] = ()
    license: str = Field(min_length=1)
    commercial_use: bool
    license_url: str | None = None
    license_note: str | None = None
    description: str = ""
    inputs: tuple[TensorSpec, ...] = Field(min_length=1)
    outputs: tuple[TensorSpec, ...] = Field(min_length=1)
    normalisation: Normalisation | None = None
    alignment: str | None = Field(None, description="key into alignment_templates")
    embedding_map: Literal["last_initializer"] | None = None
    anchors: AnchorSpec | None = None
    group: str | None = Field(None, description="models that only work together")
    unverified: tuple[str, ...] = ()
    notes: str = ""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"model name {value!r} must match {_NAME.pattern}")
        return value

    @field_validator("file")
    @classmethod
    def _check_file(cls, value: str) -> str:
        if not value or "/" in value or "\\" in value or value in (".", ".."):
            raise ValueError(f"file {value!r} must be a bare file name")
        return value

    @field_validator("sha256")
    @classmethod
    def _check_sha256(cls, value: str | None) -> str | None:
        if value is not None and not _SHA256.match(value):
            raise ValueError(f"sha256 must be 64 lowercase hex digits or null, got {value!r}")
        return value

    @field_validator("md5")
    @classmethod
    def _check_md5(cls, value: str | None) -> str | None:
        if value is not None and not _MD5.match(value):
            raise ValueError(f"md5 must be 32 lowercase hex digits or null, got {value!r}")
        return value

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if not url.startswith(("https://", "http://")):
                raise ValueError(f"url {url!r} must be http(s)")
        return value

    @model_validator(mode="after")
    def _check_entry(self) -> ModelEntry:
        if not (self.license_url or self.license_note):
            raise ValueError(f"model {self.name!r}: give license_url or license_note")
        names = [t.name for t in self.inputs] + [t.name for t in self.outputs]
        if len(set(names)) != len(names):
            raise ValueError(f"model {self.name!r}: tensor names repeat")
        norm = self.normalisation
        if norm is not None and norm.input not in names[: len(self.inputs)]:
            raise ValueError(f"model {self.name!r}: normalisation.input {norm.input!r} unknown")
        if norm is not None and norm.output is not None and norm.output not in names:
            raise ValueError(f"model {self.name!r}: normalisation.output {norm.output!r} unknown")
        return self

    @property
    def pinned(self) -> bool:
        """True when the manifest pins a sha256 for this file."""
        return self.sha256 is not None

    def input(self, name: str) -> TensorSpec:
        """The declared input called ``name``."""
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(f"model {self.name!r} declares no input {name!r}")


class Manifest(_Frozen):
    """The whole manifest: alignment templates and models, each declared once."""

    schema_version: Literal[1] = 1
    description: str = ""
    alignment_templates: dict[str, AlignmentTemplate] = Field(default_factory=dict)
    models: tuple[ModelEntry, ...]

    @model_validator(mode="after")
    def _check_unique(self) -> Manifest:
        for what, values in (
            ("model name", [m.name for m in self.models]),
            ("file", [m.file for m in self.models]),
        ):
            repeated = sorted(v for v, n in Counter(values).items() if n > 1)
            if repeated:
                raise ValueError(f"duplicate {what}(s): {', '.join(repeated)}")
        for model in self.models:
            if model.alignment is not None and model.alignment not in self.alignment_templates:
                raise ValueError(
                    f"model {model.name!r}: unknown alignment template {model.alignment!r}"
                )
        return self

    def names(self) -> list[str]:
        """Model names in manifest order."""
        return [m.name for m in self.models]

    def get(self, name: str) -> ModelEntry:
        """The entry called ``name``; KeyError naming the known models otherwise."""
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(f"unknown model {name!r} (known: {', '.join(self.names())})")

    def template(self, name: str) -> AlignmentTemplate:
        """An alignment template by name."""
        return self.alignment_templates[name]


def _describe_errors(error: ValidationError, data: Any, source: str) -> str:
    """One line per problem, naming the model rather than its index where possible."""
    lines = []
    for item in error.errors():
        loc = list(item["loc"])
        if len(loc) >= 2 and loc[0] == "models" and isinstance(loc[1], int):
            with contextlib.suppress(KeyError, IndexError, TypeError):
                loc[1] = repr(data["models"][loc[1]]["name"])
        where = ".".join(str(part) for part in loc) or "(top level)"
        lines.append(f"{source}: {where}: {item['msg']}")
    return "invalid manifest:\n  " + "\n  ".join(lines)


def parse_manifest(data: Any, source: str = "manifest") -> Manifest:
    """Validate already-decoded JSON; ManifestError with one line per problem."""
    try:
        return Manifest.model_validate(data)
    except ValidationError as error:
        raise ManifestError(_describe_errors(error, data, source)) from None


def load_manifest(path: Path | str) -> Manifest:
    """Read and validate a manifest file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"manifest not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(f"cannot read manifest {path}: {error}") from None
    return parse_manifest(data, source=str(path))


def dump_manifest(manifest: Manifest, path: Path | str) -> None:
    """Write a manifest as stable, human-diffable JSON."""
    text = json.dumps(manifest.model_dump(mode="json"), indent=2, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
