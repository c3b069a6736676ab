"""The recognition context: what one process reuses across files (a type only).

``compose.open_context`` builds it; ``run`` and the workers only read it. Keeping the
type apart from the factories lets anything name it without importing every adapter.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.calibration import Trust
from pipeline.config import Config
from pipeline.matching import Matcher
from pipeline.ports import OcrEngine
from pipeline.stages.identify import Catalog
from pipeline.stages.read_hand import HandReaders
from pipeline.templates.load import Template


@dataclass(frozen=True, eq=False)
class Context:
    cfg: Config
    templates: tuple[Template, ...]
    catalog: Catalog
    orb: Matcher
    sift: Matcher
    engine: OcrEngine
    trust: Trust
    hand: HandReaders | None = None  # comb cells written by hand (stages.read_hand)
