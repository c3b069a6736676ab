"""Frozen configuration: the pydantic models of ``config.yaml`` and ``load_config``.

The config is loaded once at the edge (the CLI) and passed in; nothing reads it from a
global. Relative paths are resolved against the config file's folder so that the same
file works from any working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline.errors import ConfigError
from pipeline.yamlfile import read_yaml


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _kinds(union: Any) -> dict[str, type[BaseModel]]:
    """``kind`` value -> model class of a discriminated union ``Annotated[A | B, Field]``.

    The kinds are read off the classes so that each list of kinds exists once: adding a
    class to the union is all it takes for the CLI choice and the factory check to see it.
    """
    members: tuple[type[BaseModel], ...] = get_args(get_args(union)[0])
    return {get_args(m.model_fields["kind"].annotation)[0]: m for m in members}


def _check_db_url(url: str) -> str:
    if not url.startswith(("sqlite:", "postgresql")):
        raise ValueError("must be a sqlite:/// or postgresql:// URL")
    return url


def _from_env(var: str, what: str) -> str:
    """A database URL held in an environment variable (secrets stay out of config.yaml).
    Read when the connection is made, so that `config show` never prints it; the value
    is never echoed in errors either."""
    url = os.environ.get(var)
    if not url:
        raise ConfigError(f"{what}: environment variable {var} is not set")
    try:
        return _check_db_url(url)
    except ValueError:
        raise ConfigError(
            f"{what}: environment variable {var} must hold a sqlite:/// or postgresql:// URL"
        ) from None


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class OcrBase(_Frozen):
    """What every OCR engine is given; each engine's own class adds its ``kind``."""

    tessdata: Path = Path("/usr/share/tesseract-ocr/5/tessdata")
    # eng alone reads 0 % of å/ä/ö fields exactly (DESIGN.md). On 490 generated text
    # crops swe alone read 489 exactly, swe+eng 487 ("Umeå" -> "Umea"); digits read best
    # with eng. Templates for forms in other languages set their own (template language).
    text_lang: str = "swe"
    numeric_lang: str = "eng"


class TesserocrConfig(OcrBase):
    """tesserocr: Tesseract in-process, one instance per language (fast)."""

    kind: Literal["tesserocr"] = "tesserocr"


class PytesseractConfig(OcrBase):
    """pytesseract: the tesseract program per field (portable, slower)."""

    kind: Literal["pytesseract"] = "pytesseract"


# A new engine: one class here, one factory in compose.ENGINES.
OcrConfig = Annotated[TesserocrConfig | PytesseractConfig, Field(discriminator="kind")]
ENGINE_KINDS: tuple[str, ...] = tuple(_kinds(OcrConfig))
# config.yaml files written before engines were a union may leave out ocr.kind.
DEFAULT_ENGINE = "tesserocr"


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
    # Alignment quality (coverage of the printed form, 0..1) under which nothing on the
    # page is trusted: the record gets a poor_alignment issue. Above it, alignment is
    # judged field by field (the calibration weighs page and local fit).
    poor_quality: float = Field(0.6, ge=0, le=1)


class ReviewConfig(_Frozen):
    # The share of wrong values tolerated among the fields that go through unreviewed;
    # each field kind's threshold follows from it (pipeline.calibration).
    max_residual_error: float = Field(0.003, gt=0, lt=1)
    # And never accept one value less likely than this to be right, however good the
    # rest of its kind: the target is an average, an operator's trust is per value.
    min_confidence: float = Field(0.9, ge=0, le=1)
    # A value two different readings agree on needs only min_confidence: two readings
    # that agree are rarely both wrong the same way (measured: docs/benchmarks.md).
    accept_agreeing: bool = True
    # Instead: one fixed threshold on the calibrated confidence for every kind.
    threshold: float | None = Field(None, ge=0, le=1)


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
    # A stable file is moved into <inbox>/.blankett-taking and taken once it has had no
    # write for this long (a scanner writing page by page may pause between pages).
    settle_seconds: float = Field(15.0, ge=0, le=3600)
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


_TARGET_NAME = r"^[a-z][a-z0-9_]{0,39}$"


class SqlTargetConfig(_Frozen):
    """Tables in a case database; the URL is given as ``url`` or, when it holds a
    password, in the environment variable named by ``url_env``."""

    kind: Literal["sql"] = "sql"
    name: str = Field(pattern=_TARGET_NAME)
    url: str | None = None
    url_env: str | None = Field(None, pattern=_ENV_NAME)

    @field_validator("url")
    @classmethod
    def _known_url(cls, url: str | None) -> str | None:
        return None if url is None else _check_db_url(url)

    @model_validator(mode="after")
    def _one_source(self) -> SqlTargetConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError(f"target {self.name}: kind sql needs exactly one of url, url_env")
        return self

    def connect_url(self) -> str:
        """The URL to connect with; ``url_env`` is read now, not when config is loaded."""
        if self.url is not None:
            return self.url
        assert self.url_env is not None  # _one_source
        return _from_env(self.url_env, f"target {self.name}")


class FolderTargetConfig(_Frozen):
    """One folder per record under ``path``."""

    kind: Literal["folder"] = "folder"
    name: str = Field(pattern=_TARGET_NAME)
    path: Path


# A new target kind: one class here, one factory in compose.TARGETS.
TargetConfig = Annotated[SqlTargetConfig | FolderTargetConfig, Field(discriminator="kind")]
TARGET_KINDS: tuple[str, ...] = tuple(_kinds(TargetConfig))


def _default_targets() -> tuple[TargetConfig, ...]:
    return (
        SqlTargetConfig(name="case_db", url="sqlite:///data/cases.sqlite3"),
        FolderTargetConfig(name="export", path=Path("data/export")),
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

    def folders(self) -> dict[str, Path]:
        """Target name -> the folder it writes into, for the targets that write folders."""
        return {t.name: t.path for t in self.targets if isinstance(t, FolderTargetConfig)}


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
    # Addresses of reverse proxies whose X-Forwarded-For/-Proto are believed; none: the
    # headers are ignored (any local user could otherwise name the client the sign-in
    # throttle counts).
    trusted_proxies: tuple[str, ...] = ()


class Config(_Frozen):
    templates_dir: Path = Path("templates")
    data_dir: Path = Path("data")
    database_url: str = "sqlite:///data/blankett.sqlite3"
    # Or the name of an environment variable holding the URL (one with a password);
    # read by state_database_url() when the database is opened.
    database_url_env: str | None = Field(None, pattern=_ENV_NAME)
    ocr: OcrConfig = TesserocrConfig()
    normalize: NormalizeConfig = NormalizeConfig()
    identify: IdentifyConfig = IdentifyConfig()
    align: AlignConfig = AlignConfig()
    review: ReviewConfig = ReviewConfig()
    limits: LimitsConfig = LimitsConfig()
    artifacts: ArtifactsConfig = ArtifactsConfig()
    service: ServiceConfig = ServiceConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    web: WebConfig = WebConfig()

    @field_validator("ocr", mode="before")
    @classmethod
    def _default_engine(cls, v: object) -> object:
        if isinstance(v, dict) and "kind" not in v:
            return {**v, "kind": DEFAULT_ENGINE}
        return v

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        return _check_db_url(url)

    @model_validator(mode="after")
    def _one_database(self) -> Config:
        # database_url has a default, so only an explicit one conflicts.
        if self.database_url_env and "database_url" in self.model_fields_set:
            raise ValueError("give database_url or database_url_env, not both")
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
            t.model_copy(update={"url": u(t.url)})
            if isinstance(t, SqlTargetConfig) and t.url
            else t.model_copy(update={"path": r(t.path)})
            if isinstance(t, FolderTargetConfig)
            else t
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


def state_database_url(cfg: Config) -> str:
    """The state database URL: ``database_url_env``'s variable when set (read now), else
    ``database_url``."""
    if cfg.database_url_env:
        return _from_env(cfg.database_url_env, "database_url_env")
    return cfg.database_url


def with_engine(cfg: Config, kind: str) -> Config:
    """``cfg`` with another OCR engine (``--engine``): the shared OCR settings kept,
    the engine's own class built."""
    if kind == cfg.ocr.kind:
        return cfg
    engines = _kinds(OcrConfig)
    if kind not in engines:
        raise ConfigError(f"unknown OCR engine {kind!r}; one of {', '.join(engines)}")
    shared = cfg.ocr.model_dump(include=set(OcrBase.model_fields))
    return cfg.model_copy(update={"ocr": engines[kind].model_validate({**shared, "kind": kind})})


def load_config(path: Path | None) -> Config:
    """Read and validate ``path``; ``None`` means the built-in defaults (relative to cwd)."""
    if path is None:
        return Config().resolved(Path.cwd())
    raw = read_yaml(path, ConfigError, "config file") or {}
    if not isinstance(raw, dict):
        raise ConfigError("the top level must be a mapping", path=path)
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc), path=path) from None
    return cfg.resolved(path.resolve().parent)


def _explain(exc: ValidationError) -> str:
    # Where each discriminated union sits (the last named key of its place) -> its kinds.
    unions = {"ocr": ENGINE_KINDS, "targets": TARGET_KINDS}
    tags = set(ENGINE_KINDS) | set(TARGET_KINDS)
    parts = []
    for err in exc.errors():
        # pydantic puts the chosen member's tag into the place (targets.0.sql.url): drop it.
        loc = [str(p) for p in err["loc"] if p not in tags]
        msg = err["msg"]
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            kinds = next((unions[p] for p in reversed(loc) if p in unions), ())
            given = (err.get("ctx") or {}).get("tag")
            what = f"unknown kind {given!r}" if given is not None else "kind is missing"
            loc.append("kind")
            msg = f"{what}; allowed: {', '.join(kinds)}"
        parts.append(f"{'.'.join(loc) or '(top level)'}: {msg}")
    return "; ".join(parts)
