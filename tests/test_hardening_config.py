"""Issue 10, items 23-25: configuration and templates that would have failed every
document (or the start itself, with a traceback) are refused up front, with a message
that names the file and the reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pipeline.compose import check_ocr_data, ocr_languages
from pipeline.config import Config, TesserocrConfig, load_config
from pipeline.errors import ConfigError, TemplateError
from pipeline.templates.load import read_spec
from pipeline.templates.schema import TemplateSpec
from tests.conftest import ROOT, TEMPLATES
from tests.test_cli import blankett, write_config

TESSDATA = Path(load_config(ROOT / "config.yaml").ocr.tessdata)


# -- 23: a config.yaml that is not UTF-8 ------------------------------------------------


def test_a_latin1_config_is_a_config_error_naming_file_byte_and_line(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_bytes("review:\n  threshold: 0.8\ndata_dir: data-växjö\n".encode("latin-1"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg
    offset = path.read_bytes().index(b"\xe4")
    assert f"byte 0xe4 at byte offset {offset} (line 3)" in msg
    assert "UTF-8" in msg


@pytest.mark.integration
def test_the_cli_says_so_and_exits_2_without_a_traceback(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_bytes(b"data_dir: d\xf6ta\n")
    res = blankett("config", "-c", path)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert str(path) in res.stderr and "byte offset 11" in res.stderr


def test_a_template_yaml_that_is_not_utf8_is_a_template_error(tmp_path: Path):
    path = tmp_path / "template.yaml"
    path.write_bytes(b"id: x\ntitle: Ans\xf6kan\n")
    with pytest.raises(TemplateError, match=r"byte 0xf6 at byte offset 16 \(line 2\)"):
        read_spec(path)


# -- 24: NaN, infinite and negative sizes in a template --------------------------------


def _spec(box: list[float], page_width: float = 595.0) -> dict[str, object]:
    return {
        "id": "probe",
        "pages": [{"number": 1, "image": "page-1.png", "width": page_width, "height": 842}],
        "fields": [{"name": "namn", "page": 1, "box": box}],
    }


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "box",
    [
        [NAN, 10, 10, 10],
        [10, NAN, 10, 10],
        [10, 10, NAN, 10],
        [10, 10, 10, NAN],
        [10, 10, INF, 10],
        [-INF, 10, 10, 10],
    ],
    ids=["x-nan", "y-nan", "w-nan", "h-nan", "w-inf", "x-minus-inf"],
)
def test_a_box_that_is_not_finite_is_refused_by_name(tmp_path: Path, box: list[float]):
    path = tmp_path / "template.yaml"
    # YAML's own spelling (.nan, .inf), as an admin would type it.
    path.write_text(yaml.safe_dump(_spec(box)), encoding="utf-8")
    assert ".nan" in path.read_text() or ".inf" in path.read_text()
    with pytest.raises(TemplateError) as err:
        read_spec(path)
    msg = str(err.value)
    assert str(path) in msg and "field 'namn'" in msg and "finite" in msg


@pytest.mark.parametrize("box", [[10, 10, -5, 10], [10, 10, 10, 0]])
def test_a_box_with_a_negative_or_empty_size_is_refused(box: list[float]):
    with pytest.raises(ValueError, match="width and height must be positive"):
        TemplateSpec.model_validate(_spec(box))


@pytest.mark.parametrize("width", [NAN, INF])
def test_a_page_size_that_is_not_finite_is_refused(width: float):
    with pytest.raises(ValueError, match="finite"):
        TemplateSpec.model_validate(_spec([10, 10, 10, 10], page_width=width))


def test_a_finite_box_still_loads():
    TemplateSpec.model_validate(_spec([10.5, 10, 100, 20]))


# -- 25: the OCR language data is checked before anything starts -----------------------


def _tessdata_with(tmp_path: Path, *langs: str) -> Path:
    folder = tmp_path / "tessdata"
    folder.mkdir()
    for lang in langs:
        shutil.copy(TESSDATA / f"{lang}.traineddata", folder)
    return folder


def _with_tessdata(folder: Path) -> Config:
    cfg = load_config(ROOT / "config.yaml")
    return cfg.model_copy(update={"ocr": TesserocrConfig(tessdata=folder)})


def test_the_languages_come_from_config_and_templates():
    spec = TemplateSpec.model_validate(
        {
            **_spec([10, 10, 10, 10]),
            "language": "deu",
            "fields": [{"name": "a", "page": 1, "box": [1, 1, 5, 5], "ocr": {"lang": "fin+swe"}}],
        }
    )
    assert ocr_languages(Config(), [spec]) == {"swe", "eng", "deu", "fin"}


def test_a_missing_language_is_a_config_error_naming_folder_and_language(tmp_path: Path):
    folder = _tessdata_with(tmp_path, "eng")
    with pytest.raises(ConfigError) as err:
        check_ocr_data(_with_tessdata(folder))
    msg = str(err.value)
    assert str(folder) in msg and "swe" in msg and "swe.traineddata" in msg
    assert "eng.traineddata" not in msg  # only what is missing is named


def test_a_tessdata_folder_that_does_not_exist_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist") as err:
        check_ocr_data(_with_tessdata(tmp_path / "nowhere"))
    assert str(tmp_path / "nowhere") in str(err.value)


def test_a_template_language_is_checked_too(tmp_path: Path):
    folder = _tessdata_with(tmp_path, "eng", "swe")
    check_ocr_data(_with_tessdata(folder))  # the config's and the shipped templates' langs
    spec = read_spec(TEMPLATES / "parkeringstillstand" / "template.yaml")
    german = spec.model_copy(update={"language": "deu"})
    with pytest.raises(ConfigError, match="deu"):
        check_ocr_data(_with_tessdata(folder), [spec, german])


@pytest.mark.integration
def test_process_refuses_to_start_with_a_wrong_tessdata(tmp_path: Path):
    cfg = write_config(tmp_path, f"ocr: {{tessdata: {tmp_path / 'nowhere'}}}\n")
    scan = ROOT / "forms_samples" / "parkeringstillstand" / "scan-02.jpg"
    res = blankett("process", scan, "-c", cfg)
    assert res.returncode == 2, res.stderr
    assert res.stdout == ""  # no record was made, not one failed record per file
    assert str(tmp_path / "nowhere") in res.stderr and "ocr.tessdata" in res.stderr
