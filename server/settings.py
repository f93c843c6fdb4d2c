"""One typed settings object for the whole service, read from FACELOOP_* variables.

Built once in :func:`server.create_app` (or by a tool) and passed down; nothing deeper
reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

EngineChoice = Literal["classic", "neural", "auto"]
ProviderChoice = Literal["auto", "cpu", "cuda", "tensorrt"]


class Settings(BaseSettings):
    """Service configuration; every field can be set as FACELOOP_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="FACELOOP_", extra="ignore", frozen=True)

    data_dir: Path = Field(REPO_ROOT / "data", description="Identities and renders live here.")
    templates_dir: Path = Field(REPO_ROOT / "templates_gifs", description="The template library.")
    models_dir: Path = Field(REPO_ROOT / "onnx_models", description="Manifest and ONNX weights.")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    render_workers: int = Field(2, ge=1, le=64, description="Render threads per process.")
    queue_size: int = Field(16, ge=1, le=10_000, description="Queued renders before 429.")
    retry_after_s: int = Field(5, ge=1, description="Retry-After sent with 429.")

    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_upload_pixels: int = Field(40_000_000, ge=10_000)
    max_decode_bytes: int = Field(
        192 * 1024 * 1024,
        ge=1024 * 1024,
        description="Decode buffer one selfie may use (selfies are decoded one at a time).",
    )
    max_selfies: int = Field(5, ge=1, le=20)

    # -- devices, rate limits, privacy ----------------------------------------------------
    ratelimit_storage_uri: str = Field(
        "",
        description="Where rate-limit counters live, shared by every worker: empty = the "
        "data dir's SQLite database (one host); redis://host:port for several hosts.",
    )
    ratelimit_device: str = Field("600 per minute", description="Requests per device.")
    ratelimit_address: str = Field("1200 per minute", description="Requests per client address.")
    ratelimit_new_devices: str = Field(
        "60 per hour", description="POST /v1/devices per client address."
    )
    retention_hours: float = Field(
        48.0, gt=0, description="Identities and their renders are erased this long after upload."
    )
    sweep_interval_s: float = Field(
        600.0, ge=0, description="How often each process sweeps expired data (0: never)."
    )
    consent_policy: str = Field(
        "2026-01", min_length=1, description="Version of the consent text users agree to."
    )

    analyse_stale_templates: bool = Field(
        True, description="Rebuild a missing or stale template analysis at start-up."
    )
    default_engine: EngineChoice = Field(
        "auto", description="Engine of renders that name none; auto = neural when loaded."
    )

    # -- provenance (see README, Provenance) ---------------------------------------------
    visible_mark: bool = Field(True, description='Draw a small "AI" badge on every output.')
    c2pa: bool = Field(True, description="Sign C2PA content credentials into every output.")
    c2pa_cert_file: Path | None = Field(
        None, description="PEM chain (signing cert first); default: generated in data_dir."
    )
    c2pa_key_file: Path | None = Field(None, description="PEM private key of c2pa_cert_file.")

    # -- neural engine (ONNX models in models_dir; see README, Production models) --------
    neural_models: bool = Field(
        True, description="Load the neural engine's models at start-up when present."
    )
    providers: ProviderChoice = Field(
        "auto", description="onnxruntime execution providers: auto, cpu, cuda or tensorrt."
    )
    accept_noncommercial: bool = Field(
        False,
        description="Load models whose licence forbids commercial use (the InsightFace "
        "models: inswapper, det_10g, w600k_r50). Off: they stay unavailable.",
    )
    enhancer: bool = Field(False, description="Also load gfpgan_1.4 and run it after swaps.")
    enhancer_blend: float = Field(0.8, ge=0.0, le=1.0, description="Share of the enhanced face.")
    neural_batch: int = Field(8, ge=1, le=64, description="Crops per swapper call, if batchable.")
    ort_threads: int = Field(
        0, ge=0, le=256, description="onnxruntime intra-op threads per session (0: its default)."
    )


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
