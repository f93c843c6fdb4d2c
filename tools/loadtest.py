"""Bounded load test: gunicorn (2 workers) on loopback, N concurrent clients, M renders.

    python -m tools.loadtest                       # 20 clients, 200 renders
    python -m tools.loadtest --clients 4 --renders 20

Each client owns a device and an identity made from a licence-clean face (scikit-image's
astronaut, insightface's package image), submits distinct renders (template x format),
polls each to the end and records submit-to-done latency. Reports throughput, p50/p95,
errors (any non-2xx answer), lost jobs (accepted but not ending done, or failed without a
reason) and the peak RSS of each worker. Exits 1 on any error or lost job.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools.reliability.service import (
    Service,
    get_json,
    new_device,
    new_identity,
    peak_rss_mb,
    post_json,
)

FORMATS = ("gif", "webp", "mp4")


def licence_clean_faces() -> list[bytes]:
    """PNG bytes of the astronaut (and its mirror) and insightface's Tom_Hanks image."""
    import insightface
    from PIL import Image, ImageOps
    from skimage import data

    astronaut = Image.fromarray(data.astronaut())
    package = Path(insightface.__file__).parent / "data" / "images" / "Tom_Hanks_54745.png"
    images = [astronaut, ImageOps.mirror(astronaut), Image.open(package).convert("RGB")]
    out = []
    for image in images:
        buf = io.BytesIO()
        image.save(buf, "PNG")
        out.append(buf.getvalue())
    return out


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, value: object) -> None:
        with self.lock:
            if kind == "latency":
                self.latencies.append(float(value))  # type: ignore[arg-type]
            else:
                getattr(self, kind).append(str(value))

    def outcome(self, status: str) -> None:
        with self.lock:
            self.outcomes[status] = self.outcomes.get(status, 0) + 1


def single_face_templates(service: Service) -> list[str]:
    """Swap templates with one face (motion ones need the neural motion engine)."""
    _, listing = get_json(service.url("/v1/templates?limit=100&kind=swap"))
    ids = [str(t["id"]) for t in listing["items"]]  # type: ignore[attr-defined]
    return [t for t in ids if get_json(service.url(f"/v1/templates/{t}"))[1]["faces"]["count"] == 1]  # type: ignore[index]


def run_one(service: Service, token: str, payload: dict[str, str], tally: Tally) -> None:
    start = time.monotonic()
    status, body = post_json(service.url("/v1/renders"), token, payload)
    if status not in (200, 202):
        tally.add("errors", f"submit {status} {body.get('error')}")
        return
    url = service.url(str(body["status_url"]))
    while time.monotonic() - start < 600:
        status, body = get_json(url, token)
        if status != 200:
            tally.add("errors", f"poll {status}")
            return
        if body["status"] in ("done", "failed"):
            break
        time.sleep(0.25)
    tally.outcome(str(body["status"]))
    if body["status"] == "done":
        tally.add("latency", time.monotonic() - start)
    elif body["status"] != "failed" or not body.get("error"):
        tally.add("lost", f"{body['id']} {body['status']}")


def client(service: Service, token: str, jobs: list[dict[str, str]], tally: Tally) -> None:
    for payload in jobs:
        try:
            run_one(service, token, payload, tally)
        except Exception as exc:
            tally.add("errors", repr(exc)[:200])


def plan(identities: list[tuple[str, str]], templates: list[str], clients: int, renders: int):  # type: ignore[no-untyped-def]
    """Per client: (token, distinct jobs). Clients 2k and 2k+1 share device k."""
    combos = list(itertools.product(templates, FORMATS))
    per_client = renders // clients
    out = []
    for c in range(clients):
        token, identity = identities[c // 2]
        start = (c % 2) * per_client
        picks = [combos[(start + i) % len(combos)] for i in range(per_client)]
        jobs = [{"identity_id": identity, "template_id": t, "format": f} for t, f in picks]
        out.append((token, jobs))
    return out


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run(clients: int, renders: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="faceloop-load-") as tmp:
        service = Service(Path(tmp), env={"FACELOOP_RATELIMIT_DEVICE": "100000 per minute",
                          "FACELOOP_RATELIMIT_ADDRESS": "100000 per minute",
                          "FACELOOP_RATELIMIT_NEW_DEVICES": "100000 per minute",
                          "FACELOOP_QUEUE_SIZE": "256"})  # fmt: skip
        service.start()
        try:
            return drive(service, clients, renders)
        finally:
            service.stop()


def drive(service: Service, clients: int, renders: int) -> dict[str, object]:
    faces = licence_clean_faces()
    identities = []
    for d in range((clients + 1) // 2):
        token = new_device(service)
        identities.append((token, new_identity(service, token, faces[d % len(faces)])))
    templates = single_face_templates(service)
    tally = Tally()
    threads = [threading.Thread(target=client, args=(service, tok, jobs, tally))
               for tok, jobs in plan(identities, templates, clients, renders)]  # fmt: skip
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return report(service, tally, elapsed, clients, templates)


def report(
    service: Service, tally: Tally, elapsed: float, clients: int, templates: list[str]
) -> dict[str, object]:
    finished = sum(tally.outcomes.values())
    return {
        "clients": clients, "templates": templates, "formats": list(FORMATS),
        "renders_finished": finished, "outcomes": tally.outcomes,
        "wall_s": round(elapsed, 1), "throughput_per_s": round(finished / elapsed, 2),
        "latency_p50_s": round(percentile(tally.latencies, 50), 2),
        "latency_p95_s": round(percentile(tally.latencies, 95), 2),
        "latency_max_s": round(max(tally.latencies, default=float("nan")), 2),
        "errors": len(tally.errors), "error_samples": tally.errors[:5],
        "lost_jobs": len(tally.lost), "lost_samples": tally.lost[:5],
        "worker_peak_rss_mb": [round(peak_rss_mb(p)) for p in service.worker_pids()],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--renders", type=int, default=200)
    args = parser.parse_args()
    result = run(args.clients, args.renders)
    print(json.dumps(result, indent=2))
    raise SystemExit(1 if result["errors"] or result["lost_jobs"] else 0)


if __name__ == "__main__":
    main()
