"""Fault test: SIGKILL a gunicorn worker in the middle of a render.

    python -m tools.faulttest

Starts gunicorn (2 workers) on loopback over a temporary data dir, submits distinct
renders, waits until one is running, reads from the records database which worker
runs it and kills that worker with SIGKILL. Then checks that every render ends done or
failed with a reason (the killed ones: "interrupted"), none stays queued or running,
a failed render serves no result (409) and every done result decodes completely; that
the service keeps answering and renders again; and that ``tools.datacheck`` finds no
orphans once the service has stopped. Exits 1 on any failed check.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.loadtest import licence_clean_faces
from tools.reliability.service import (
    REPO,
    Service,
    get_json,
    new_device,
    new_identity,
    post_json,
    request,
)

JOBS = [("astronaut-nod", "mp4"), ("mona-lisa-laugh", "gif"), ("astronaut-shock", "webp"),
        ("mona-lisa-wink", "mp4"), ("pearl-earring-chatter", "gif"),
        ("lady-agnew-eyebrow", "webp")]  # fmt: skip


def running_owner_pid(data_dir: Path, timeout: float = 30.0) -> int:
    """The pid of a worker that has a render running, read from the records database."""
    deadline = time.monotonic() + timeout
    query = "SELECT json_extract(record, '$.owner') FROM renders WHERE status = 'running'"
    while time.monotonic() < deadline:
        db = sqlite3.connect(f"file:{data_dir / 'faceloop.sqlite3'}?mode=ro", uri=True)
        try:
            owners = [row[0] for row in db.execute(query) if row[0]]
        except sqlite3.Error:
            owners = []
        finally:
            db.close()
        if owners:
            return int(owners[0].split("-")[0])
        time.sleep(0.02)
    raise AssertionError("no render started running")


def submit_all(service: Service, token: str, identity: str) -> list[str]:
    ids = []
    for template, fmt in JOBS:
        payload = {"identity_id": identity, "template_id": template, "format": fmt}
        status, body = post_json(service.url("/v1/renders"), token, payload)
        assert status == 202, (status, body)
        ids.append(str(body["id"]))
    return ids


def final_states(service: Service, token: str, ids: list[str], timeout: float = 120.0) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    states: dict[str, dict[str, object]] = {}
    while time.monotonic() < deadline:
        states = {i: get_json(service.url(f"/v1/renders/{i}"), token)[1] for i in ids}
        if all(s["status"] in ("done", "failed") for s in states.values()):
            return states
        time.sleep(0.25)
    raise AssertionError(f"renders still active: {[i for i, s in states.items()]}")


def check_outcomes(service: Service, token: str, states: dict) -> list[str]:  # type: ignore[type-arg]
    """Problems found (empty when all is well)."""
    problems = []
    for render_id, state in states.items():
        status, body, _ = request(service.url(f"/v1/renders/{render_id}/result"), token)
        if state["status"] == "failed":
            if not (state.get("error") or {}).get("code"):
                problems.append(f"{render_id} failed without a reason")
            if status != 409:
                problems.append(f"{render_id} failed but its result answered {status}")
        elif status != 200 or not decodes(body, str(state.get("format", ""))):
            problems.append(f"{render_id} done but its result does not decode ({status})")
    return problems


def decodes(data: bytes, fmt: str) -> bool:
    """The whole file decodes: every frame of a GIF/WebP, every packet of an MP4."""
    try:
        if fmt == "mp4":
            import av

            with av.open(io.BytesIO(data)) as container:
                return sum(1 for _ in container.decode(video=0)) > 0
        from PIL import Image, ImageSequence

        with Image.open(io.BytesIO(data)) as image:
            return sum(1 for frame in ImageSequence.Iterator(image) if frame.load()) > 0
    except Exception:
        return False


def datacheck(data_dir: Path) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "tools.datacheck", "--data-dir", str(data_dir)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def run_fault(data_dir: Path) -> dict[str, object]:
    service = Service(data_dir, env={"FACELOOP_RATELIMIT_ADDRESS": "100000 per minute"})
    service.start()
    try:
        token = new_device(service)
        identity = new_identity(service, token, licence_clean_faces()[0])
        ids = submit_all(service, token, identity)
        victim = running_owner_pid(data_dir)
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        states = final_states(service, token, ids)
        settled_s = time.monotonic() - killed_at
        problems = check_outcomes(service, token, states)
        after = after_the_kill(service, token, identity)
    finally:
        service.stop()
    code, check = datacheck(data_dir)
    codes = [str((s.get("error") or {}).get("code", "")) for s in states.values()]
    return {"killed_pid": victim, "statuses": [str(s["status"]) for s in states.values()],
            "failure_codes": [c for c in codes if c], "settled_s": round(settled_s, 1),
            "problems": problems, "render_after_kill": after,
            "datacheck_exit": code, "datacheck": check[-500:]}  # fmt: skip


def after_the_kill(service: Service, token: str, identity: str) -> str:
    """The service still answers and renders: a fresh request ends done."""
    payload = {"identity_id": identity, "template_id": "astronaut-nod", "format": "gif"}
    status, body = post_json(service.url("/v1/renders"), token, payload)
    if status not in (200, 202):
        return f"submit answered {status}"
    states = final_states(service, token, [str(body["id"])])
    return str(next(iter(states.values()))["status"])


def passed(result: dict[str, object]) -> bool:
    return (not result["problems"] and result["render_after_kill"] == "done"
            and result["datacheck_exit"] == 0 and "interrupted" in result["failure_codes"])  # type: ignore[operator]  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="faceloop-fault-") as tmp:
        result = run_fault(Path(tmp))
    result["passed"] = passed(result)
    print(json.dumps(result, indent=2))
    raise SystemExit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
