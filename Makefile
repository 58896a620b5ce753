# make test   fresh machine -> .venv, pinned deps, build (C++ and, compile-only, CUDA), pytest
# make bench  the same set-up plus the optional peers, then `fastload bench` -> bench.json, bench.png
# make sanitize  the decoding, collate and ring tests on an AddressSanitizer + UBSan build of the extension
# make docs   the user guides and the API reference (MkDocs + mkdocstrings, warnings as errors) -> site/
# make lint   ruff (lint + format) and clang-format over every source, changing nothing; `make format` fixes
# make wheel  a wheel of the package for another machine, into dist/ (built as README's install builds: no CUDA
#             emulation); `make wheel-check` installs it into a fresh venv with only torch and numpy, no compiler
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

export MAX_JOBS ?= 2
# No GPU on the build machines: compile for Hopper (the lent H100/H200). Override for other cards.
export TORCH_CUDA_ARCH_LIST ?= 9.0
# The CUDA kernel sources also run on the CPU (FASTLOAD_BACKEND=cuda-emulation), bounds-checked: the tests use them.
export FASTLOAD_CUDA_EMULATION ?= 1

DEPS := torch==2.14.1 torchvision==0.29.1 numpy opencv-python-headless pybind11 ninja pytest pytest-benchmark \
        hypothesis pillow setuptools wheel rich matplotlib scikit-image scikit-learn webdataset==1.0.2 \
        datasets==5.2.0 pycocotools==2.0.11 addict pyyaml termcolor yapf
# The detection tests check against mmcv's transforms and mmengine's stack_batch, and the detection benchmark times
# an mmcv-style pipeline: both go in without their dependencies (they ask for opencv-python, which would clash with
# opencv-python-headless); their remaining needs are in DEPS. mmcv-lite is mmcv without its compiled ops.
DEPS_NODEPS := mmengine==0.10.7 mmcv-lite==2.2.0
# Optional peers for `make bench`.
PEERS := timm albumentations nvidia-dali-cuda130
# libjpeg-turbo 3.x (headers and a static libjpeg.a: the JPEG decoder is linked with it, symbols hidden) from PyPI.
# The wheel holds no Python code (py3-none) but says Requires-Python >= 3.12, hence --ignore-requires-python.
LIBJPEG := --ignore-requires-python --no-deps comma-deps-libjpeg==3.1.0.post92
# The checkers and the documentation tools, pinned so that every machine formats and renders alike.
LINT := ruff==0.17.5 clang-format==23.1.3
DOCS := mkdocs==1.6.1 mkdocs-material==9.8.1 mkdocstrings==1.0.8 mkdocstrings-python==2.0.11
CSRC = $(shell git ls-files 'csrc/*.h' 'csrc/*.cpp' 'csrc/*.cu' 2>/dev/null || find csrc -name '*.h' -o -name '*.cpp' -o -name '*.cu')
SOURCES := setup.py pyproject.toml $(shell find csrc -type f 2>/dev/null)

.PHONY: test bench build deps clean sanitize .gl docs lint format wheel wheel-check

test: build
	$(PY) -m pytest -q

bench: build $(VENV)/.peers
	$(PY) -m fastload bench --json bench.json --plot bench.png

build: $(VENV)/.built

deps: $(VENV)/.deps

$(VENV)/.deps: Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "== installing the pinned dependencies into $(VENV) (torch, torchvision, ...: a few minutes the first time)"
	$(PIP) install -q $(DEPS)
	$(PIP) install -q --no-deps $(DEPS_NODEPS)
	$(PIP) install -q $(LIBJPEG)
	touch $@

# A peer that fails to install is reported by `fastload bench` as "not installed", never fatal.
$(VENV)/.peers: $(VENV)/.deps
	@echo "== installing the benchmark's optional peers (timm, albumentations, DALI)"
	-$(PIP) install -q $(PEERS)
	touch $@

$(VENV)/.built: $(VENV)/.deps $(SOURCES)
	@echo "== building fastload's C++ and CUDA extension (about 3 minutes on 2 cores, no output until it is done)"
	$(PIP) install -q --no-build-isolation --no-deps -e .
	touch $@

# The libjpeg-turbo headers and static library, copied for a machine without network (scripts/gpu_check.sh uses
# them; the device tool carries .gl, which git ignores).
.gl: $(VENV)/.deps
	rm -rf .gl/libjpeg-turbo && mkdir -p .gl
	cp -r "$$($(PY) -c 'import libjpeg; print(libjpeg.DIR)')" .gl/libjpeg-turbo

# AddressSanitizer + UndefinedBehaviorSanitizer: a CPU-only build beside the ordinary one, then the decoding, collate
# and ring tests on it (scripts/sanitize.sh); fails on any report.
sanitize: $(VENV)/.deps
	PY=$(PY) bash scripts/sanitize.sh

# Built from a copy of the tree as a clean clone has it (build/wheel-src), so that the development build's objects
# (with the CUDA emulation) are neither reused nor replaced: everything compiles again (minutes on 2 cores).
wheel: $(VENV)/.deps
	rm -rf build/wheel-src dist/fastload-*.whl && mkdir -p build/wheel-src dist
	git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t build/wheel-src
	cd build/wheel-src && FASTLOAD_CUDA_EMULATION=0 $(abspath $(PY)) -m pip --disable-pip-version-check wheel -q \
	    --no-build-isolation --no-deps -w $(abspath dist) .
	@ls -l dist/fastload-*.whl

wheel-check:
	PY=$(PY) bash scripts/wheel_check.sh

# The guides and the API reference, rendered from the docstrings (read statically: no build needed).
docs: $(VENV)/.docs
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet
	@echo "== docs: site/index.html"

$(VENV)/.docs: Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q $(DOCS)
	touch $@

lint: $(VENV)/.lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@echo "clang-format --dry-run --Werror over csrc ($(words $(CSRC)) files)"
	@$(VENV)/bin/clang-format --dry-run --Werror $(CSRC)
	@echo "== lint: clean"

format: $(VENV)/.lint
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	$(VENV)/bin/clang-format -i $(CSRC)

$(VENV)/.lint: Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q $(LINT)
	touch $@

clean:
	rm -rf build site fastload/_C*.so $(VENV)/.built
