# make test   fresh machine -> .venv, pinned deps, build (C++ and, compile-only, CUDA), pytest
# make bench  the same set-up plus the optional peers, then `fastload bench` -> bench.json, bench.png
# make sanitize  the decoding, collate and ring tests on an AddressSanitizer + UBSan build of the extension
# make docs   the user guides and the API reference (MkDocs + mkdocstrings, warnings as errors) -> site/
# make lint   ruff (lint + format) and clang-format over every source, changing nothing; `make format` fixes
# make wheel  a wheel for other machines into dist/ (no CUDA emulation; SASS for every GPU torch targets; abi3);
#             `make wheel-check` installs it into fresh venvs with only torch and numpy, no compiler, and checks it
# make release-check  what CI leaves out for time (13.5 minutes on 2 cores): README's user install built exactly as it says
#             (.ci/user_install), then `make wheel` and `make wheel-check` in fresh venvs of Python 3.10-3.13
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

export MAX_JOBS ?= 2
# No GPU on the build machines: compile for Hopper (the lent H100/H200). Override for other cards. `make wheel`
# compiles for every architecture torch targets instead (WHEEL_CUDA_ARCH_LIST; empty: setup.py asks torch).
export TORCH_CUDA_ARCH_LIST ?= 9.0
WHEEL_CUDA_ARCH_LIST ?=
# The CUDA kernel sources also run on the CPU (FASTLOAD_BACKEND=cuda-emulation), bounds-checked: the tests use them.
export FASTLOAD_CUDA_EMULATION ?= 1

DEPS := torch==2.14.1 torchvision==0.29.1 numpy opencv-python-headless pybind11 ninja pytest pytest-benchmark \
        hypothesis pillow setuptools wheel rich matplotlib scikit-image scikit-learn webdataset==1.0.2 \
        datasets==5.2.0 pycocotools==2.0.11 addict pyyaml termcolor yapf timm==1.0.31
# The detection tests check against mmcv's transforms and mmengine's stack_batch, and the detection benchmark times
# an mmcv-style pipeline: both go in without their dependencies (they ask for opencv-python, which would clash with
# opencv-python-headless); their remaining needs are in DEPS. mmcv-lite is mmcv without its compiled ops.
DEPS_NODEPS := mmengine==0.10.7 mmcv-lite==2.2.0
# timm is in DEPS: the erasing, Mixup and RandAugment tests check against it. Optional peers for `make bench`.
PEERS := albumentations nvidia-dali-cuda130
# libjpeg-turbo 3.x (headers and a static libjpeg.a: the JPEG decoder is linked with it, symbols hidden) from PyPI.
# The wheel holds no Python code (py3-none) but says Requires-Python >= 3.12, hence --ignore-requires-python.
LIBJPEG := --ignore-requires-python --no-deps comma-deps-libjpeg==3.1.0.post92
# What `make wheel` uses to find the wheel's manylinux policy (`make wheel-check` reads the CUDA code with the
# cuobjdump that torch's triton brings).
WHEEL_TOOLS := auditwheel==6.8.2
# The checkers and the documentation tools, pinned so that every machine formats and renders alike.
LINT := ruff==0.17.5 clang-format==23.1.3
DOCS := mkdocs==1.6.1 mkdocs-material==9.8.1 mkdocstrings==1.0.8 mkdocstrings-python==2.0.11
CSRC = $(shell git ls-files 'csrc/*.h' 'csrc/*.cpp' 'csrc/*.cu' 2>/dev/null || find csrc -name '*.h' -o -name '*.cpp' -o -name '*.cu')
SOURCES := setup.py pyproject.toml $(shell find csrc -type f 2>/dev/null)

.PHONY: test bench build deps clean sanitize .gl docs lint format wheel wheel-check release-check

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
	@echo "== installing the benchmark's optional peers (albumentations, DALI)"
	-$(PIP) install -q $(PEERS)
	touch $@

$(VENV)/.built: $(VENV)/.deps $(SOURCES)
	@echo "== building fastload's C++ and CUDA extensions (about 3 minutes on 2 cores, no output until it is done)"
	rm -f fastload/_C*.so  # a module left by an older build (another name or tag) would be imported instead
	$(PIP) install -q --no-build-isolation --no-deps -e .
	touch $@

# What the GPU machine (no network) lacks, for the device tool to carry (.gl, which git ignores): the libjpeg-turbo
# headers and static library the build links, and the wheels (for Python 3.10-3.13) of what `fastload bench` (rich)
# and the property tests (hypothesis) need, which scripts/gpu_check.sh installs from there.
GPU_WHEELS := rich markdown-it-py mdurl pygments hypothesis sortedcontainers exceptiongroup
.gl: $(VENV)/.deps
	rm -rf .gl/libjpeg-turbo .gl/wheels && mkdir -p .gl/wheels
	cp -r "$$($(PY) -c 'import libjpeg; print(libjpeg.DIR)')" .gl/libjpeg-turbo
	for v in 3.10 3.11 3.12 3.13; do \
	    $(PIP) download -q --no-deps --only-binary=:all: --python-version $$v -d .gl/wheels $(GPU_WHEELS) || exit 1; done

# AddressSanitizer + UndefinedBehaviorSanitizer: a CPU-only build beside the ordinary one, then the decoding, collate
# and ring tests on it (scripts/sanitize.sh); fails on any report.
sanitize: $(VENV)/.deps
	PY=$(PY) bash scripts/sanitize.sh

# A wheel for other machines into dist/ (scripts/wheel_build.sh: every GPU architecture torch targets, tagged with
# the manylinux policy auditwheel finds); `make wheel-check` installs it into fresh venvs (WHEEL_PYTHONS="3.10 3.13").
wheel: $(VENV)/.deps $(VENV)/.wheel-tools
	WHEEL_CUDA_ARCH_LIST="$(WHEEL_CUDA_ARCH_LIST)" PY=$(PY) bash scripts/wheel_build.sh

$(VENV)/.wheel-tools: Makefile
	$(PIP) install -q $(WHEEL_TOOLS)
	touch $@

wheel-check: $(VENV)/.wheel-tools
	WHEEL_CUDA_ARCH_LIST="$(WHEEL_CUDA_ARCH_LIST)" PY=$(PY) bash scripts/wheel_check.sh

# The install and the wheel each compile the CUDA code for every architecture torch targets (13.5 minutes in all on
# 2 cores): too long for CI's 30, so run before a release and whenever the build, the install or the packaging
# changes.
release-check: $(VENV)/.deps
	bash .ci/user_install
	$(MAKE) wheel
	WHEEL_PYTHONS="3.10 3.11 3.12 3.13" $(MAKE) wheel-check

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
