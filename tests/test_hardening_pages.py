"""Issue 10, items 2, 6, 7, 11 and 16: page images and long documents.

- 2: page images are made safely from many threads at once (PDFium is not thread-safe);
- 6: the pixel limit applies to what a page *will* be at the working dpi, before decoding;
- 7: a page image of the review UI makes that one page only, and caches it;
- 11: one worker's memory does not grow with a document's page count (pages stream);
- 16: ``blankett process`` keeps no field crops unless asked.

Inputs come from the project's generator and ``tests.inputs``; crashes and peak memory are
measured in subprocesses, so that a crash reports red instead of killing pytest.
"""

from __future__ import annotations

import dataclasses
import gc
import io
import json
import os
import re
import subprocess
import sys
import weakref
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from pipeline import pageimage, run
from pipeline.config import Config, LimitsConfig, NormalizeConfig
from pipeline.context import Context
from pipeline.errors import TooLarge
from pipeline.ports import Job
from pipeline.records import Page
from pipeline.samplegen.build import g4_tiff, scanned_pdf
from pipeline.service.worker import run_job
from pipeline.stages import normalize as normalize_stage
from pipeline.stages.ingest import ingest
from pipeline.stages.normalize import normalize
from pipeline.web import views
from tests.conftest import ROOT, SAMPLES
from tests.fakes import ScriptedEngine
from tests.inputs import page_image, pdf_pages
from tests.test_cli import blankett, write_config

NORM = NormalizeConfig()


def _python(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


# -- 2: concurrent page images -----------------------------------------------------------

CONCURRENT = """
import sys, threading
from pathlib import Path
from pipeline.config import Config
from pipeline.web import views
files = [Path(p) for p in sys.argv[1:]]
cfg = Config()
done, errors = [], []
def ask(k):
    for j in range(20):
        f = files[(k + j) % len(files)]
        try:
            data = views.page_jpeg(f, 1 + j % 3, 100 + 37 * k + j, cfg)  # every one a miss
            assert data[:2] == b"\\xff\\xd8"
            done.append(1)
        except Exception as exc:
            errors.append(repr(exc))
threads = [threading.Thread(target=ask, args=(k,)) for k in range(10)]
for t in threads: t.start()
for t in threads: t.join()
print(len(done), errors[:3])
"""


@pytest.mark.integration
def test_many_page_images_at_once_do_not_kill_the_process(tmp_path: Path):
    files = []
    for i in range(4):
        p = tmp_path / f"doc-{i}.pdf"
        # Born-digital pages (rendered) and scanned ones (an embedded image each).
        p.write_bytes(pdf_pages(3) if i % 2 else scanned_pdf([page_image(600, 850)] * 3))
        files.append(str(p))
    res = _python(CONCURRENT, *files)
    # Without one lock around PDFium this dies of SIGSEGV / SIGABRT (heap corruption).
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr[-800:]}"
    assert res.stdout.split()[0] == "200" and "[]" in res.stdout


# -- 6: the pixels a page will have at the working dpi ---------------------------------

SMALL = LimitsConfig(max_pixels=2_000_000)


def _png(w: int, h: int, dpi: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w), 255, np.uint8)).save(buf, format="PNG", dpi=(dpi, dpi))
    return buf.getvalue()


def _jpeg(w: int, h: int, dpi: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w), 255, np.uint8)).save(buf, format="JPEG", dpi=(dpi, dpi))
    return buf.getvalue()


def _tiff(w: int, h: int, dpi: int) -> bytes:
    return g4_tiff([np.full((h, w), 255, np.uint8)] * 2, dpi=dpi)


def _pdf_low_res_scan(w: int, h: int, dpi: int) -> bytes:
    """A PDF page that is one embedded w x h image printed at ``dpi`` (a page of w/dpi in)."""
    buf = io.BytesIO()
    size = (w / dpi * 72, h / dpi * 72)
    c = Canvas(buf, pagesize=size)
    img = ImageReader(io.BytesIO(_png(w, h, dpi)))
    c.drawImage(img, 0, 0, *size)
    c.showPage()
    c.save()
    return buf.getvalue()


# 1000 x 1000 pixels (1 Mpx, under the 2 Mpx limit) at 50 dpi: 6000 x 6000 at 300 dpi.
MAKERS = {"png": _png, "jpeg": _jpeg, "tiff": _tiff, "pdf": _pdf_low_res_scan}


@pytest.mark.parametrize("kind", list(MAKERS))
def test_a_low_dpi_page_is_refused_for_the_pixels_it_would_become(tmp_path: Path, kind: str):
    path = tmp_path / f"low-dpi.{kind}"
    path.write_bytes(MAKERS[kind](1000, 1000, 50))
    assert path.stat().st_size < 100_000  # a small file ...
    with pytest.raises(TooLarge) as err:
        normalize(ingest(path, SMALL), NORM, SMALL)  # ... that would be 36 Mpx
    # PNG keeps dots per metre: 50 dpi comes back as 50.01, so "about 6000".
    w, h = map(int, re.search(r"would be (\d+)x(\d+) pixels", str(err.value)).groups())  # type: ignore[union-attr]
    assert abs(w - 6000) <= 5 and abs(h - 6000) <= 5 and str(path) in str(err.value)


@pytest.mark.parametrize("kind", list(MAKERS))
def test_the_same_page_at_its_working_size_is_read(tmp_path: Path, kind: str):
    path = tmp_path / f"ok.{kind}"
    path.write_bytes(MAKERS[kind](200, 200, 50))  # 1200 x 1200 at 300 dpi: 1.44 Mpx
    pages = normalize(ingest(path, SMALL), NORM, SMALL)
    assert all(abs(p.image.shape[1] - 1200) <= 2 for p in pages)


@pytest.mark.tesseract
def test_a_refused_page_is_bad_input_for_the_service(tmp_path: Path, ctx: Context):
    path = tmp_path / "low-dpi.png"
    path.write_bytes(_png(1000, 1000, 50))
    small = dataclasses.replace(ctx, cfg=ctx.cfg.model_copy(update={"limits": SMALL}))
    out = run_job(Job(document_id=1, path=path, source="low-dpi.png"), small)
    assert (out.error_code, out.bad_input) == ("too_large", True)  # -> quarantine


# -- 7: one page, cached ----------------------------------------------------------------


@pytest.fixture
def cold_cache() -> Any:
    pageimage.cache().clear()
    yield pageimage.cache()
    pageimage.cache().clear()


def _count_pdf_pages_loaded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    import pypdfium2 as pdfium

    loaded: list[int] = []
    real = pdfium.PdfDocument.__getitem__

    def counting(self: Any, i: int) -> Any:
        loaded.append(i)
        return real(self, i)

    monkeypatch.setattr(pdfium.PdfDocument, "__getitem__", counting)
    return loaded


def _count_tiff_frames_loaded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from PIL import TiffImagePlugin

    loaded: list[int] = []
    real = TiffImagePlugin.TiffImageFile.load

    def counting(self: Any) -> Any:
        loaded.append(self.tell())
        return real(self)

    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "load", counting)
    return loaded


def test_a_pdf_page_image_renders_that_page_only_and_is_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cold_cache: Any
):
    path = tmp_path / "long.pdf"
    path.write_bytes(pdf_pages(30))
    loaded = _count_pdf_pages_loaded(monkeypatch)
    data = views.page_jpeg(path, 17, 500, Config())
    assert loaded == [16]  # not the whole document
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert abs(img.shape[1] - 500) <= 1
    assert views.page_jpeg(path, 17, 500, Config()) == data
    assert loaded == [16]  # the second time from the cache
    with pytest.raises(views.NoSuchPage, match="30 pages"):
        views.page_jpeg(path, 31, 500, Config())


def test_a_tiff_page_image_decodes_that_frame_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cold_cache: Any
):
    path = tmp_path / "long.tif"
    path.write_bytes(g4_tiff([page_image(1240, 1754)] * 12, dpi=150))
    loaded = _count_tiff_frames_loaded(monkeypatch)
    data = views.page_jpeg(path, 9, 400, Config())
    assert set(loaded) == {8}
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert abs(img.shape[1] - 400) <= 1


def test_a_page_image_is_bounded_in_width(tmp_path: Path, cold_cache: Any):
    path = tmp_path / "one.pdf"
    path.write_bytes(pdf_pages(1))
    for asked, want in ((10**6, 2000), (1, 100)):
        img = cv2.imdecode(np.frombuffer(views.page_jpeg(path, 1, asked, Config()), np.uint8), 0)
        assert abs(img.shape[1] - want) <= 1


def test_the_page_cache_is_bounded_by_entries_and_bytes():
    c = pageimage.PageCache(entries=3, max_bytes=100)
    for i in range(5):
        c.put(("f", i), bytes(10))
    assert [c.get(("f", i)) is not None for i in range(5)] == [False, False, True, True, True]
    c.get(("f", 2))  # used: now the most recent
    c.put(("g", 0), bytes(81))  # 30 + 81 > 100: the least recently used go
    assert c.get(("f", 3)) is None and c.get(("f", 4)) is None
    assert c.get(("f", 2)) is not None and c.get(("g", 0)) is not None  # 91 bytes
    c.put(("big", 0), bytes(101))  # larger than the whole cache: not kept
    assert c.get(("big", 0)) is None


# -- 11: memory does not grow with the page count --------------------------------------


def _track_pages(monkeypatch: pytest.MonkeyPatch) -> tuple[list[weakref.ref[Page]], list[int]]:
    """Record every Page normalize makes, and how many are alive whenever a page is
    identified."""
    made: list[weakref.ref[Page]] = []
    alive_at_identify: list[int] = []

    def page(**kw: Any) -> Page:
        p = Page(**kw)
        made.append(weakref.ref(p))
        return p

    real_identify = run.identify_page

    def identify(*args: Any, **kw: Any) -> Any:
        gc.collect()
        alive_at_identify.append(sum(r() is not None for r in made))
        return real_identify(*args, **kw)

    monkeypatch.setattr(normalize_stage, "Page", page)
    monkeypatch.setattr(run, "identify_page", identify)
    return made, alive_at_identify


@pytest.fixture(scope="module")
def filled_scans() -> list[np.ndarray]:
    """Scans of filled one-page forms (parking permits), from the project's generator."""
    import random

    from pipeline.samplegen.build import make_instance
    from pipeline.samplegen.degrade import ScanStyle
    from pipeline.samplegen.forms import parkering

    rng = random.Random(11)
    return [make_instance(parkering(), rng, ScanStyle()).pages[0] for _ in range(2)]


@pytest.mark.tesseract
@pytest.mark.parametrize("kind", ["pdf", "tiff"])
def test_a_worker_holds_one_page_at_a_time(
    tmp_path: Path,
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
    filled_scans: list[np.ndarray],
    kind: str,
):
    pages = [filled_scans[i % 2] for i in range(4)]
    path = tmp_path / f"four-forms.{kind}"
    path.write_bytes(scanned_pdf(pages) if kind == "pdf" else g4_tiff(pages))
    quiet = dataclasses.replace(
        ctx,
        engine=ScriptedEngine(),  # what OCR reads is beside the point here
        cfg=ctx.cfg.model_copy(update={"data_dir": tmp_path / "data"}),
    )
    made, alive = _track_pages(monkeypatch)
    records = run.read_file(path, quiet)
    assert [r.template_id for r in records] == ["parkeringstillstand"] * 4  # read, not skipped
    assert len(made) == 4
    assert max(alive) == 1  # never more than the page in hand (it was all four)


PEAK = """
import json, sys
from pathlib import Path
from pipeline.compose import open_context
from pipeline.config import load_config
from pipeline.run import read_file
def hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
few, many = Path(sys.argv[1]), Path(sys.argv[2])
cfg = load_config(Path("config.yaml")).model_copy(update={"data_dir": Path(sys.argv[3])})
with open_context(cfg, templates=()) as ctx:  # no templates: every page unidentified
    read_file(few, ctx)  # warm up (imports, allocator, first pages)
    start = hwm()
    n_few = len(read_file(few, ctx))
    at_few = hwm()
    n_many = len(read_file(many, ctx))
    at_many = hwm()
print(json.dumps({"few": [n_few, at_few - start], "many": [n_many, at_many - start]}))
"""


@pytest.mark.integration
def test_peak_memory_does_not_grow_with_the_page_count(tmp_path: Path):
    page = page_image()  # 2480 x 3508: 8.7 MB a page at 300 dpi
    few, many = tmp_path / "few.pdf", tmp_path / "many.pdf"
    few.write_bytes(scanned_pdf([page] * 3))
    many.write_bytes(scanned_pdf([page] * 24))
    res = _python(PEAK, str(few), str(many), str(tmp_path / "data"))
    assert res.returncode == 0, res.stderr[-800:]
    out = json.loads(res.stdout.splitlines()[-1])
    assert (out["few"][0], out["many"][0]) == (3, 24)
    # Peak RSS (VmHWM) over the warmed-up process, in MB. Holding every page and its
    # features took ~11 MB a page: 21 more pages were ~230 MB more.
    assert out["many"][1] - out["few"][1] < 40, out


# -- 16: process stores no crops --------------------------------------------------------


@pytest.mark.integration
@pytest.mark.tesseract
def test_process_keeps_no_crops_unless_asked(tmp_path: Path):
    cfg = write_config(tmp_path)
    scan = SAMPLES / "parkeringstillstand" / "scan-02.jpg"
    res = blankett("process", scan, "-c", cfg)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.splitlines()[0])["status"] != "failed"
    artifacts = tmp_path / "data" / "artifacts"
    assert not artifacts.exists() or not any(artifacts.rglob("*.jpg"))

    res = blankett("process", scan, "-c", cfg, "--keep-crops")
    assert res.returncode == 0, res.stderr
    assert any(artifacts.rglob("p1-*.jpg"))  # the crops asked for
    assert any(artifacts.rglob("page-1.jpg"))  # and the page preview


@pytest.mark.tesseract
def test_a_bad_later_page_leaves_no_crops_of_the_pages_before(ctx, tmp_path: Path):
    import dataclasses

    from PIL import Image

    from pipeline.errors import TooLarge
    from pipeline.run import read_file

    form = Image.open(SAMPLES / "parkeringstillstand" / "scan-03-upside-down.png").convert("L")
    big = Image.new("L", (form.width + 400, form.height + 400), 255)  # over the limit below
    path = tmp_path / "two.tif"
    form.save(path, save_all=True, append_images=[big], dpi=(300, 300))
    cfg = ctx.cfg.model_copy(
        update={
            "data_dir": tmp_path / "data",
            "limits": ctx.cfg.limits.model_copy(
                update={"max_pixels": form.width * form.height + 1000}
            ),
        }
    )
    with pytest.raises(TooLarge):
        read_file(path, dataclasses.replace(ctx, cfg=cfg))
    artifacts = cfg.artifacts_dir
    assert not artifacts.exists() or not any(artifacts.rglob("*.jpg"))
