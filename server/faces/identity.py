"""Build an identity from 1-5 selfies, once: pick each selfie's face, coach each selfie
(:mod:`server.faces.coaching`: warnings, and blocking problems that rule a selfie out as
the texture), check the usable ones are one person, keep the best usable selfie's
aligned face texture, landmarks and descriptors.

Renders only read what is built here; they never detect on selfies again.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import cv2
import numpy as np

from server.faces import coaching
from server.faces.dlib_models import DlibFaceModels, descriptor_distance
from server.faces.portrait import head_and_shoulders
from server.faces.selfie_measures import shape_residual
from server.types import DetectedFace, Frame, IdentityData, SelfieReport
from server.vision import shape

TEXTURE_SIZE = 320
TEXTURE_IOD = 80.0  # inter-ocular distance in the stored texture, px
TEXTURE_EYES_Y = 140.0
MIN_FACE_PX = 64  # smallest usable face box side in the selfie
SAME_PERSON = 0.6  # dlib's descriptor distance threshold
DOMINANCE = 2.0  # the largest face must outweigh the next by this factor
# A landmark fit this far from the 3D mean face (RMS, in inter-ocular distances) on a
# weak detection is not a human face (an animal, a pattern); see selfie_measures.
NOT_HUMAN_RESIDUAL = 0.3
NOT_HUMAN_SCORE = 0.3


class FaceError(Exception):
    """A selfie that cannot make an identity; ``code`` is the API error code."""

    def __init__(
        self,
        code: str,
        message: str,
        selfie_index: int | None = None,
        reasons: list[dict[str, object]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.selfie_index = selfie_index
        self.reasons = reasons  # for selfie_unsuitable: {code, message, selfie, blocking}


def build_identity(images: Sequence[Frame], models: DlibFaceModels) -> IdentityData:
    """Detect, check and embed each selfie; keep the best one's texture."""
    if not images:
        raise ValueError("at least one selfie is needed")
    faces = [select_face(img, models, i) for i, img in enumerate(images)]
    reports = [
        selfie_report(i, img, f) for i, (img, f) in enumerate(zip(images, faces, strict=True))
    ]
    advice = [a for r in reports for a in r.warnings]
    usable = [r.index for r in reports if r.usable]
    if not usable:
        raise FaceError(
            "selfie_unsuitable",
            "no selfie can be used as a face texture: "
            + "; ".join(f"selfie {a['selfie']}: {a['message']}" for a in advice if a["blocking"]),
            reasons=advice,
        )
    descriptors = np.stack(
        [models.descriptor(img, f.landmarks) for img, f in zip(images, faces, strict=True)]
    ).astype(np.float32)
    _check_one_person(descriptors, usable)
    best = max(usable, key=lambda i: reports[i].score)
    reports[best].used_as_texture = True
    texture, landmarks = aligned_texture(images[best], faces[best].landmarks)
    portrait, portrait_landmarks = head_and_shoulders(images[best], faces[best].landmarks)
    mean = descriptors[usable].mean(0)
    quality = {
        "score": round(reports[best].score, 3),
        "frontality": round(reports[best].frontality, 3),
        "sharpness": round(reports[best].sharpness, 3),
        "texture_selfie": best,
        "max_pair_distance": round(_max_pair(descriptors[usable]), 3),
        "warnings": advice,
    }
    return IdentityData(
        texture=texture,
        landmarks=landmarks,
        descriptors=descriptors,
        descriptor=mean.astype(np.float32),
        selfies=reports,
        quality=quality,
        portrait=portrait,
        portrait_landmarks=portrait_landmarks,
    )


def _check_one_person(descriptors: np.ndarray, usable: list[int]) -> None:
    """FaceError identity_mismatch when two usable selfies show different people."""
    for i, j in combinations(usable, 2):
        dist = descriptor_distance(descriptors[i], descriptors[j])
        if dist >= SAME_PERSON:
            raise FaceError(
                "identity_mismatch",
                f"selfies {i} and {j} show different people (descriptor distance {dist:.2f} >= "
                f"{SAME_PERSON}); upload selfies of one person",
                j,
            )


def select_face(image: Frame, models: DlibFaceModels, index: int) -> DetectedFace:
    """The one usable face of a selfie, or a FaceError saying why there is none."""
    found = models.detect(image, min_face=48, max_side=1280)
    if not found:
        raise FaceError("no_face", f"no face found in selfie {index}", index)
    faces = [f for f in found if _human(f)]
    if not faces:
        raise FaceError("no_face", f"no human face found in selfie {index}", index)
    # Weigh size by detector confidence: a weak, spurious hit next to a clear face
    # should not count as a second person.
    weights = [f.box.area * float(np.clip(f.score, 0.05, 1.0)) for f in faces]
    order = np.argsort(weights)[::-1]
    face = faces[int(order[0])]
    if len(faces) > 1 and weights[order[0]] < DOMINANCE * weights[order[1]]:
        raise FaceError(
            "multiple_faces",
            f"selfie {index} shows {len(faces)} faces and none clearly dominates; crop it "
            "to one face",
            index,
        )
    if min(face.box.width, face.box.height) < MIN_FACE_PX:
        raise FaceError(
            "face_too_small",
            f"the face in selfie {index} is {face.box.width} px wide; at least {MIN_FACE_PX} "
            "px is needed",
            index,
        )
    return face


def _human(face: DetectedFace) -> bool:
    """False for a weak detection whose landmarks do not fit a human face's shape (an
    animal, a hand, a pattern); such hits are dropped before faces are counted."""
    return face.score >= NOT_HUMAN_SCORE or shape_residual(face.landmarks) <= NOT_HUMAN_RESIDUAL


def selfie_report(index: int, image: Frame, face: DetectedFace) -> SelfieReport:
    """Measures and coaching advice of one selfie; its score ranks texture candidates
    (frontal, sharp, large, few problems)."""
    lm = face.landmarks
    iod = shape.interocular(lm)
    front = shape.frontality(lm)
    texture, tex_lm = aligned_texture(image, lm)
    face_size = int(round(iod * 2.5))
    a, b = shape.eye_centres(lm)
    roll = float(np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0])))
    assessment = coaching.assess(texture, tex_lm, face_size, roll)
    sharp = assessment.measures["sharpness"]
    size_score = float(np.clip((iod - 20) / 60, 0, 1))
    score = 0.5 * front + 0.3 * sharp + 0.2 * size_score - assessment.penalty
    h, w = image.shape[:2]
    return SelfieReport(
        index=index,
        width=w,
        height=h,
        face_box=face.box,
        detector=face.detector,
        sharpness=round(sharp, 3),
        frontality=round(front, 3),
        face_size=face_size,
        score=round(float(score), 3),
        usable=assessment.usable,
        warnings=[
            {"code": a.code, "message": a.message, "selfie": index, "blocking": a.blocking}
            for a in assessment.advice
        ],
        measures={k: round(v, 3) for k, v in assessment.measures.items()},
    )


def aligned_texture(
    image: Frame,
    lm: np.ndarray,
    size: int = TEXTURE_SIZE,
    iod: float = TEXTURE_IOD,
    eyes_y: float = TEXTURE_EYES_Y,
) -> tuple[Frame, np.ndarray]:
    """Rotate and scale the face upright into a ``size`` square (eyes level, fixed
    inter-ocular distance); returns the crop and the landmarks in its coordinates."""
    a, b = shape.eye_centres(lm)
    dst = np.array([[size / 2 - iod / 2, eyes_y], [size / 2 + iod / 2, eyes_y]])
    m = shape.similarity(np.stack([a, b]), dst)
    scale = float(np.hypot(m[0, 0], m[0, 1]))
    src = image
    if scale < 0.5:  # shrink with area averaging first so the texture does not alias
        k = scale * 1.5
        src = np.asarray(
            cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA), np.uint8
        )
        m = m.copy()
        m[:, :2] /= k
    crop = np.asarray(
        cv2.warpAffine(
            src, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        ),
        np.uint8,
    )
    m_full = shape.similarity(np.stack([a, b]), dst)
    return crop, shape.apply_affine(m_full, lm).astype(np.float32)


def _max_pair(desc: np.ndarray) -> float:
    if len(desc) < 2:
        return 0.0
    return max(descriptor_distance(a, b) for a, b in combinations(desc, 2))
