"""Soak test (not in CI): drop a few hundred files into a running ``blankett watch``
while killing workers and the service itself at random, then audit with the SHA-256
ledger: every file dropped must end in exactly one outcome, no record or delivery twice.

    .venv/bin/python bench/soak.py --files 300

Files are the committed samples made distinct (bytes appended after the end marker,
which readers ignore), some exact re-drops, and some bad files (empty, cut, not a scan),
written the ways scanners write: renamed from a temporary name, straight, or slowly.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from pipeline.db.connect import open_state_db  # noqa: E402
from pipeline.db.schema import documents  # noqa: E402
from pipeline.service.watch import inbox_file_count  # noqa: E402
from tests.service_kit import Ledger, service_config, write_config  # noqa: E402

SAMPLES = ROOT / "forms_samples"
BLANKETT = str(Path(sys.executable).with_name("blankett"))


def corpus(n: int, rng: random.Random) -> list[tuple[str, bytes]]:
    scans = [
        p
        for p in sorted(SAMPLES.rglob("*"))
        if p.suffix in (".pdf", ".jpg", ".png", ".tif") and "blank" not in p.name
    ]
    files: list[tuple[str, bytes]] = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.03:
            files.append((f"bad/{i:04d}.pdf", rng.choice([b"", b"not a scan\n"])))
        elif roll < 0.05:
            data = rng.choice(scans).read_bytes()
            files.append((f"bad/{i:04d}-cut.pdf", b"%PDF-1.4\n" + data[: len(data) // 3]))
        elif roll < 0.10 and files:
            name, data = rng.choice([f for f in files if not f[0].startswith("bad/")] or files)
            files.append((f"again/{i:04d}{Path(name).suffix}", data))  # an exact duplicate
        else:
            src = rng.choice(scans)
            tag = f"\n% soak {i}\n".encode() if src.suffix == ".pdf" else f"soak{i}".encode()
            files.append((f"scanner{i % 3}/{i:04d}{src.suffix}", src.read_bytes() + tag))
    return files


def dropper(
    ledger: Ledger, files: list[tuple[str, bytes]], rng: random.Random, done: threading.Event
) -> None:
    for rel, data in files:
        how = rng.choice(["rename", "rename", "direct", "slow"])
        if how == "slow":
            path = ledger.inbox / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            ledger.expect(rel, data)
            with path.open("wb") as f:
                for k in range(0, len(data), max(1, len(data) // 5)):
                    f.write(data[k : k + max(1, len(data) // 5)])
                    f.flush()
                    time.sleep(0.02)
        else:
            ledger.drop(rel, data, how=how)
        time.sleep(rng.uniform(0, 0.05))
    done.set()


def workers_of(pid: int) -> list[int]:
    out = []
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    for k in kids:
        with contextlib.suppress(FileNotFoundError):
            cmd = Path(f"/proc/{k}/cmdline").read_bytes()
            if b"spawn_main" in cmd:
                out.append(int(k))
    return out


def start(cfg_path: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as f:
        return subprocess.Popen(
            [BLANKETT, "watch", "-q", "-c", str(cfg_path)],
            stdout=f,
            stderr=f,
            start_new_session=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--service-kills", type=int, default=3)
    ap.add_argument("--kill-every", type=float, default=4.0, help="mean seconds between kills")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "soak")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    if args.out.exists():
        import shutil

        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    cfg = service_config(
        args.out,
        workers=args.workers,
        poll_seconds=0.5,
        incomplete_after_seconds=5.0,
        progress_seconds=30.0,
    )
    cfg_path = write_config(cfg, args.out / "config.yaml")
    log = args.out / "service.log"
    ledger = Ledger(cfg.service.inbox[0])
    files = corpus(args.files, rng)

    t0 = time.monotonic()
    proc = start(cfg_path, log)
    done = threading.Event()
    threading.Thread(target=dropper, args=(ledger, files, rng, done), daemon=True).start()
    worker_kills = service_kills = unexpected = 0
    db = open_state_db(cfg.database_url)

    def drained() -> bool:
        if not done.is_set() or inbox_file_count(cfg.service.inbox):
            return False
        with db.connect() as conn:
            busy = conn.execute(
                select(func.count()).where(documents.c.status.in_(["received", "processing"]))
            ).scalar_one()
        return busy == 0

    # Kill while files arrive and while the backlog is worked off.
    while not drained():
        time.sleep(rng.uniform(args.kill_every / 2, args.kill_every * 1.5))
        if proc.poll() is not None:  # the service died on its own: a bug, counted
            unexpected += 1
            print(
                f"{time.monotonic() - t0:6.1f} s  the service EXITED by itself "
                f"(status {proc.returncode}); see {log}",
                flush=True,
            )
            proc = start(cfg_path, log)
            continue
        if service_kills < args.service_kills and rng.random() < 0.25:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            service_kills += 1
            print(f"{time.monotonic() - t0:6.1f} s  killed the service", flush=True)
            proc = start(cfg_path, log)
            continue
        pids = workers_of(proc.pid)
        if pids:
            os.kill(rng.choice(pids), signal.SIGKILL)
            worker_kills += 1
            print(f"{time.monotonic() - t0:6.1f} s  killed a worker", flush=True)
    print(f"{time.monotonic() - t0:6.1f} s  all {len(files)} files dropped; finishing", flush=True)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=600)
    final = subprocess.run(
        [BLANKETT, "watch", "--until-idle", "-q", "-c", str(cfg_path)],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    # Documents whose workers were killed max_attempts times are failed (worker_crashed),
    # as a document that crashes its worker would be: the operator retries them.
    with db.connect() as conn:
        crashed = (
            conn.execute(select(documents.c.id).where(documents.c.status == "failed"))
            .scalars()
            .all()
        )
    if crashed:
        subprocess.run(
            [BLANKETT, "retry", *map(str, crashed), "-c", str(cfg_path)],
            capture_output=True,
            check=False,
        )
        again = subprocess.run(
            [BLANKETT, "watch", "--until-idle", "-q", "-c", str(cfg_path)],
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        print(
            f"failed after the kills: {len(crashed)} (worker_crashed); retried: exit "
            f"{again.returncode}"
        )
    elapsed = time.monotonic() - t0
    try:
        audit = ledger.audit(cfg, db)
    finally:
        db.dispose()
    outcomes: dict[str, int] = {}
    for status in audit.outcome.values():
        outcomes[status] = outcomes.get(status, 0) + 1
    kills = worker_kills + service_kills
    print(audit.report(kills))
    print(
        f"kills: {worker_kills} workers, {service_kills} service; final run exit "
        f"{final.returncode}; {elapsed:.0f} s in all"
    )
    print(f"outcomes by drop: {outcomes}")
    clean = audit.ok() and not unexpected and final.returncode == 0
    print(f"unexpected service exits: {unexpected}")
    print(f"clean: {clean}" + ("" if audit.ok() else f"\n{audit}"))
    sys.exit(0 if clean else 1)


if __name__ == "__main__":
    main()
