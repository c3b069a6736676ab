"""Frozen configuration: the pydantic models of ``config.yaml`` and ``load_config``.

The config is loaded once at the edge (the CLI) and passed in; nothing reads it from a
global. Relative paths are resolved against the config file's folder so that the same
file works from any working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.errors import ConfigError


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OcrConfig(_Frozen):
    kind: Literal["tesserocr", "pytesseract"] = "tesserocr"
    tessdata: Path = Path("/usr/share/tesseract-ocr/5/tessdata")
    # eng alone reads 0 % of å/ä/ö fields exactly (DESIGN.md). On 490 generated text
    # crops swe alone read 489 exactly, swe+eng 487 ("Umeå" -> "Umea"); digits read best
    # with eng. Templates for forms in other languages set their own (template language).
    text_lang: str = "swe"
    numeric_lang: str = "eng"


class NormalizeConfig(_Frozen):
    dpi: int = Field(300, ge=100, le=600)
    # Share of dark pixels under which a page counts as blank (after margins are cut).
    blank_ink_ratio: float = Field(0.001, gt=0, lt=0.1)


class IdentifyConfig(_Frozen):
    # Candidates need this many feature inliers to be verified at all.
    min_inliers: int = Field(30, ge=4)
    # Share of the template's printed ink that must be found on the aligned page.
    min_coverage: float = Field(0.8, gt=0, le=1)
    # The best coverage must beat the runner-up's by this much, or the page is ambiguous.
    min_margin: float = Field(0.1, ge=0, le=1)


class AlignConfig(_Frozen):
    features: int = Field(2000, ge=100)
    levels: int = Field(3, ge=1, le=8)
    # An exact integer factor: 0.5 costs 0.4 ms, "to 1240 px" costs 21 ms (DESIGN.md).
    downscale: float = Field(0.5, gt=0, le=1)
    ratio: float = Field(0.75, gt=0, lt=1)
    # Fewer ORB inliers than this: retry with SIFT.
    sift_fallback_inliers: int = Field(60, ge=4)
    # Alignment quality (coverage of the printed form, 0..1) under which the page's
    # fields are distrusted and the record gets a poor_alignment issue.
    poor_quality: float = Field(0.85, ge=0, le=1)


class ReviewConfig(_Frozen):
    # A field whose confidence is under this goes to an operator.
    threshold: float = Field(0.80, ge=0, le=1)


class LimitsConfig(_Frozen):
    max_file_bytes: int = Field(300_000_000, ge=1)
    # Per page; a 600-dpi A3 page is 70 Mpx. Guards against decompression bombs.
    max_pixels: int = Field(80_000_000, ge=1)
    max_pages: int = Field(300, ge=1)


class ArtifactsConfig(_Frozen):
    save_crops: bool = True


class ServiceConfig(_Frozen):
    """The drop-folder service (``blankett watch``)."""

    # Folders the scanners write into; sub-folders are watched too.
    inbox: tuple[Path, ...] = (Path("inbox"),)
    quarantine: Path = Path("quarantine")
    # Network shares drop file events, so the inbox is also polled at this interval.
    poll_seconds: float = Field(2.0, gt=0, le=600)
    # A file is taken when its size and mtime are unchanged over this many polls.
    stable_polls: int = Field(2, ge=1, le=100)
    # A stable file whose format is still incomplete (no end marker) is re-checked; after
    # this long it is quarantined as truncated rather than waited on for ever.
    incomplete_after_seconds: float = Field(600.0, gt=0)
    # watchdog file events besides polling; false = polling only (SMB/NFS mounts).
    events: bool = True
    # Worker processes; 0 = one per core.
    workers: int = Field(0, ge=0, le=256)
    # Starts of one document (worker crashes, service restarts) before it is failed.
    max_attempts: int = Field(3, ge=1, le=100)
    # Seconds between progress lines on the console while there is work.
    progress_seconds: float = Field(10.0, gt=0)


class TargetConfig(_Frozen):
    """One case-system target records are delivered to."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    kind: Literal["sql", "folder"]
    # sql: the case database (sqlite:///... or postgresql+psycopg://...)
    url: str | None = None
    # folder: the export folder
    path: Path | None = None

    @model_validator(mode="after")
    def _where(self) -> TargetConfig:
        if self.kind == "sql" and not (self.url or "").startswith(("sqlite:", "postgresql")):
            raise ValueError(f"target {self.name}: kind sql needs url: sqlite:/// or postgresql://")
        if self.kind == "folder" and self.path is None:
            raise ValueError(f"target {self.name}: kind folder needs path:")
        return self


def _default_targets() -> tuple[TargetConfig, ...]:
    return (
        TargetConfig(name="case_db", kind="sql", url="sqlite:///data/cases.sqlite3"),
        TargetConfig(name="export", kind="folder", path=Path("data/export")),
    )


class DeliveryConfig(_Frozen):
    targets: tuple[TargetConfig, ...] = Field(default_factory=_default_targets)
    # Retryable failures back off exponentially from retry_seconds up to max_retry_seconds;
    # after max_attempts the delivery is failed (visible; `blankett retry --delivery`).
    retry_seconds: float = Field(5.0, gt=0)
    max_retry_seconds: float = Field(900.0, gt=0)
    max_attempts: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _unique_names(self) -> DeliveryConfig:
        names = [t.name for t in self.targets]
        if len(names) != len(set(names)):
            raise ValueError("delivery target names must be unique")
        return self


class WebConfig(_Frozen):
    """The review UI (``blankett serve``)."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    # Secure cookies are sent over HTTPS only (browsers treat http://localhost as secure).
    # Put the UI behind an HTTPS proxy when it is reached from other machines.
    secure_cookies: bool = True
    session_hours: float = Field(10.0, gt=0, le=24 * 30)
    # Someone else's claim on a record is shown for this long after they opened it.
    claim_minutes: float = Field(15.0, gt=0)


class Config(_Frozen):
    templates_dir: Path = Path("templates")
    data_dir: Path = Path("data")
    database_url: str = "sqlite:///data/blankett.sqlite3"
    ocr: OcrConfig = OcrConfig()
    normalize: NormalizeConfig = NormalizeConfig()
    identify: IdentifyConfig = IdentifyConfig()
    align: AlignConfig = AlignConfig()
    review: ReviewConfig = ReviewConfig()
    limits: LimitsConfig = LimitsConfig()
    artifacts: ArtifactsConfig = ArtifactsConfig()
    service: ServiceConfig = ServiceConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    web: WebConfig = WebConfig()

    @model_validator(mode="after")
    def _known_database(self) -> Config:
        if not self.database_url.startswith(("sqlite:", "postgresql")):
            raise ValueError("database_url must be a sqlite:/// or postgresql:// URL")
        return self

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def originals_dir(self) -> Path:
        return self.data_dir / "originals"

    def resolved(self, base: Path) -> Config:
        """Relative paths made absolute against ``base`` (the config file's folder)."""

        def r(p: Path) -> Path:
            return p if p.is_absolute() else (base / p).resolve()

        def u(url: str) -> str:
            prefix = "sqlite:///"
            if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
                return prefix + str(r(Path(url[len(prefix) :])))
            return url

        svc = self.service.model_copy(
            update={
                "inbox": tuple(r(p) for p in self.service.inbox),
                "quarantine": r(self.service.quarantine),
            }
        )
        targets = tuple(
            t.model_copy(
                update={
                    "url": u(t.url) if t.url else None,
                    "path": r(t.path) if t.path else None,
                }
            )
            for t in self.delivery.targets
        )
        return self.model_copy(
            update={
                "templates_dir": r(self.templates_dir),
                "data_dir": r(self.data_dir),
                "database_url": u(self.database_url),
                "service": svc,
                "delivery": self.delivery.model_copy(update={"targets": targets}),
            }
        )


def load_config(path: Path | None) -> Config:
    """Read and validate ``path``; ``None`` means the built-in defaults (relative to cwd)."""
    if path is None:
        return Config().resolved(Path.cwd())
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError("config file not found", path=path) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", path=path) from None
    if not isinstance(raw, dict):
        raise ConfigError("the top level must be a mapping", path=path)
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc), path=path) from None
    return cfg.resolved(path.resolve().parent)


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
