"""The calibration's data: every field of a generated corpus read by the real pipeline,
with its evidence and whether its value was right.

The pipeline runs with a bootstrap calibration that is never sure, so every text field
is read twice and the agreement of the two readings is known for all of them. Fields
whose value broke its type or a rule are left out: they go to review whatever the
calibration says.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.calibration import (
    BLANK,
    KIND_OF,
    KINDS,
    TEXT_KINDS,
    Calibration,
    KindModel,
    Model,
    Trust,
    features,
)
from pipeline.compose import build_lexicons, open_context
from pipeline.config import load_config
from pipeline.evaluate import expected_for
from pipeline.issues import IssueCode
from pipeline.records import Evidence
from pipeline.run import process_file
from pipeline.templates.load import load_templates

ROOT = Path(__file__).resolve().parent.parent
# Issues the bootstrap itself raises: not a verdict on the value.
_OWN = {IssueCode.LOW_CONFIDENCE, IssueCode.READINGS_DISAGREE}


@dataclass(frozen=True)
class Sample:
    form: int
    level: str
    kind: str
    field_type: str
    right: bool
    first: list[float]
    second: list[float]
    p_raw: float  # the engine's own confidence, for comparison

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Sample:
        """A stored sample, its kind as the calibration groups field types today."""
        if d["kind"] not in (BLANK, "mark"):
            d = {**d, "kind": KIND_OF[d["field_type"]]}
        return cls(**d)


def bootstrap() -> Calibration:
    """A calibration that is never sure: every text field is read twice."""

    def never(n: int) -> Model:
        return Model((0.0,) * n, (1.0,) * n, (0.0,) * n, -50.0, (0.0, 1.0), (0.0, 0.0))

    kinds = {}
    for k in KINDS:
        n1 = len(features(k, Evidence(), second=False))
        n2 = len(features(k, Evidence(), second=True))
        kinds[k] = KindModel(never(n1), never(n2), (1,))
    return Calibration(kinds, {})


def collect(corpus: Path, out: Path) -> None:
    cfg = load_config(ROOT / "config.yaml")
    cfg = cfg.model_copy(
        update={
            "templates_dir": corpus / "templates",
            "data_dir": out.parent / "data",
            "database_url": f"sqlite:///{out.parent / 'data' / 'fit.sqlite3'}",
            "artifacts": cfg.artifacts.model_copy(update={"save_crops": False}),
        }
    )
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    templates = load_templates(cfg.templates_dir, cfg.normalize.dpi)
    specs = [t.spec for t in templates]
    trust = Trust(
        bootstrap(), dict.fromkeys(KINDS, 1.0), build_lexicons(cfg, specs), read_twice=True
    )
    files = sorted(p for p in corpus.rglob("*") if p.suffix in (".pdf", ".tif"))
    types = {t.id: {f.name: f.type for f in t.spec.fields} for t in templates}
    t0, kept = time.monotonic(), 0
    with open_context(cfg, templates=templates, trust=trust) as ctx, out.open("w") as fh:
        for i, path in enumerate(files, 1):
            truth = (expected_for(path) or [])[0]
            form = int(truth["template"].rsplit("-", 1)[1]) % 1000
            for rec in process_file(path, ctx):
                if rec.template_id != truth["template"]:
                    continue
                for f in rec.fields:
                    if f.evidence is None or set(f.issues) - _OWN:
                        continue
                    ftype = types[rec.template_id][f.name]
                    kind = KIND_OF.get(ftype)
                    if kind is None:
                        continue
                    if kind != "mark" and f.evidence.agree is None:
                        kind = BLANK
                    expected = truth["fields"].get(f.name)
                    right = _norm(expected) == _norm(f.value)
                    ev = f.evidence
                    sample = Sample(
                        form,
                        path.parent.name,
                        kind,
                        ftype,
                        right,
                        features(kind, ev, second=False),
                        features(kind, ev, second=kind in TEXT_KINDS),
                        ev.engine_min if kind in TEXT_KINDS else 0.0,
                    )
                    fh.write(json.dumps(asdict(sample)) + "\n")
                    kept += 1
            if i % 20 == 0:
                rate = i / (time.monotonic() - t0)
                print(f"  read {i}/{len(files)} scans ({rate:.1f}/s), {kept} fields", flush=True)


def _norm(v: Any) -> Any:
    return None if v in ("", None, False) else v
