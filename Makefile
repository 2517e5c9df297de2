# leptonlab: two commands on a fresh machine.
#   make course   run the whole course in batch (full; QUICK=1 for the quick run) and write the report
#   make test     run the package tests and every notebook in quick mode
# Also: make lab (JupyterLab with the course kernel), make fetch (download the datasets once),
# make bench (training throughput vs PyTorch eager and a naive JAX loop: PERFORMANCE.md),
# make book (the course as a static HTML site in build/book/html: from a quick run, or RUN=runs/<folder>),
# make test-fast (the package tests not marked slow, < 5 min: the edit-run loop), make lint (ruff).
# Both create the virtual environment .venv on first use; with an NVIDIA GPU they install the CUDA build of JAX.

PYTHON ?= python3
VENV   ?= .venv
QUICK  ?= 0
OUT    ?=
# make test runs the test files in this many processes (pytest-xdist, one file per process at a time):
# quick-mode notebooks spend much of their time compiling, on one core, so two overlap well on two.
TEST_WORKERS ?= 2
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# glibc's malloc settings for the processes that train (leptonlab/_env.py ALLOCATOR_TUNABLES,
# PERFORMANCE.md): freed memory is kept for reuse instead of being faulted back in every step.
# Set GLIBC_TUNABLES yourself (even to nothing) to override.
ALLOCATOR_TUNABLES := glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296
GLIBC_TUNABLES ?= $(ALLOCATOR_TUNABLES)

# Notebooks run in the kernel of this environment: put its kernelspecs first on the search path,
# so a stale user-level kernel of the same name (another checkout, another venv) cannot win.
export JUPYTER_PATH := $(abspath $(VENV))/share/jupyter
export PYTHONNOUSERSITE := 1

.PHONY: course lab test test-fast lint fetch bench book venv clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	  echo "NVIDIA GPU found: installing the CUDA build of JAX"; extras="test,cuda"; \
	else extras="test"; fi; \
	$(BIN)/python -m pip install --quiet -e ".[$$extras]"
	$(BIN)/leptonlab kernel install --glibc-tunables "$(GLIBC_TUNABLES)"  # JAX's compilation cache: <cache dir>/jax-compilation
	touch $@

# The course, the tests and JupyterLab run with the allocator settings (the kernel has them too);
# the benchmark runner sets them for leptonlab's side itself and leaves PyTorch's side as it finds it.
course lab test test-fast: export GLIBC_TUNABLES := $(GLIBC_TUNABLES)

course: $(STAMP)
	$(BIN)/leptonlab run $(if $(filter 1 yes true,$(QUICK)),--quick,--full) $(if $(OUT),--out $(OUT),)

lab: $(STAMP)
	cd notebooks && ../$(BIN)/jupyter lab

fetch: $(STAMP)
	$(BIN)/leptonlab fetch

bench: $(STAMP)
	$(BIN)/python -m benchmarks --rounds 3 --json runs/benchmarks.json

# The course book (docs/conf.py, leptonlab/course/_book.py): every notebook with its outputs and figures,
# the README's tables, RESULTS/PERFORMANCE/ERRATA, the instructors' guide and the API reference.
# Without RUN it first runs the course in quick mode into build/book-run (a failed notebook still gets its
# page, with its error, and `leptonlab book` then exits 1 naming it).
RUN ?=
book: export GLIBC_TUNABLES := $(GLIBC_TUNABLES)
book: $(STAMP)
	$(if $(RUN),,-$(BIN)/leptonlab run --quick --out build/book-run)
	$(BIN)/leptonlab book $(if $(RUN),$(RUN),build/book-run) --out build/book

test: $(STAMP)
	$(BIN)/ruff check leptonlab tests benchmarks
	$(BIN)/ruff format --check leptonlab tests benchmarks
	rm -rf build/test-notebooks
	LEPTONLAB_QUICK=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not after_notebooks" \
	  tests notebooks --nbval-lax --nbval-kernel-name leptonlab
	LEPTONLAB_QUICK=1 LEPTONLAB_BOOK_FROM=build/test-notebooks $(BIN)/python -m pytest -m after_notebooks tests/test_book.py

# The edit-run loop: the package tests not marked slow (tests/conftest.py SLOW_FILES), no notebooks.
test-fast: $(STAMP)
	LEPTONLAB_QUICK=1 $(BIN)/python -m pytest tests -m "not slow" -q

# ruff (configured in pyproject.toml): lint, and check the layout without changing files.
lint: $(STAMP)
	$(BIN)/ruff check leptonlab tests benchmarks
	$(BIN)/ruff format --check leptonlab tests benchmarks

clean-venv:
	rm -rf $(VENV)
