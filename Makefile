# ance-bundle: every entry point a user needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch that pip finds on this kind of machine; on a cluster,
# install the CUDA build first (see README) and this pin is skipped.
TORCH_CPU ?= torch==2.13.0
EXTRAS ?= cpu,dev
EXECUTOR ?= local
PROFILE ?= embedded
RUNS ?= runs
# Overrides for every experiment, space-separated FIELD=VALUE (each becomes --set FIELD=VALUE).
SET ?=
DRY_RUN ?=
SIF ?= ance.sif
# `make container-rehearsal`: debootstrap cache and work folder; REHEARSAL_SIF=path also packs a SIF.
REHEARSAL_CACHE ?= /var/cache/ance-rehearsal
REHEARSAL_SIF ?=

.PHONY: help install test test-slow reproduce-all reproduce-sweep report results container container-test container-lock container-rehearsal \
        slurm-up slurm-down bench bench-gpu clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

$(BIN)/ance: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# torch first: with a CPU build installed, the package's torch range installs nothing more.
	$(BIN)/python -c 'import torch' 2>/dev/null || $(BIN)/python -m pip install -q $(TORCH_CPU)
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	@touch $(BIN)/ance

install: $(BIN)/ance ## create .venv with the package, CPU torch and dev tools (idempotent)

test: install ## run the test suite (SLURM tests run when `make slurm-up` has started SLURM)
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: install ## the long reliability tests (20 random kill points, ...)
	$(BIN)/python -m pytest -m slow -q

# PROFILE=rehearsal: the MS MARCO graph at this machine's scale. Its download is the Debian corpus in
# MS MARCO's layout, served on 127.0.0.1 while the study runs (hence --wait: until the last job ends).
REHEARSAL_MIRROR := $(BIN)/python scripts/rehearsal_mirror.py --dir $(RUNS)/_rehearsal-mirror --

reproduce-all: install ## run the whole study (EXECUTOR=local|slurm, PROFILE=embedded|msmarco-10|msmarco-30|rehearsal, SET="f=v ...", DRY_RUN=1)
	$(if $(filter rehearsal,$(PROFILE)),$(REHEARSAL_MIRROR)) \
	    $(BIN)/ance-launch reproduce-all --executor $(EXECUTOR) --profile $(PROFILE) --runs $(RUNS)/$(PROFILE) \
	    $(foreach override,$(SET),--set $(override)) $(if $(DRY_RUN),--dry-run) \
	    $(if $(and $(filter rehearsal,$(PROFILE)),$(filter slurm,$(EXECUTOR)),$(if $(DRY_RUN),,1)),--wait)

reproduce-sweep: install ## the rank-window sweep on the embedded default (about an hour on 2 cores; not in reproduce-all)
	$(BIN)/ance-launch reproduce-all --executor $(EXECUTOR) --profile embedded/sweep --runs $(RUNS)/embedded-sweep \
	    $(foreach override,$(SET),--set $(override)) $(if $(DRY_RUN),--dry-run)

SEED_LOGS ?= results/legacy/logs

results: install ## regenerate results/: the original study's logs, and finished runs under $(RUNS)/embedded*
	$(BIN)/ance report --legacy-log $(SEED_LOGS)/*-ann_data_4*.out.gz \
	    --warmup-log $(SEED_LOGS)/cleaned_warmup.out.gz --out results/legacy
	@found=no; for root in $(RUNS)/embedded*/; do \
	    grep -qsE '"state": *"finished"' "$$root"*/seed*/STATUS.json || continue; \
	    found=yes; $(BIN)/ance report "$${root%/}" --finished-only --out "results/$$(basename "$$root")" || exit 1; \
	done; \
	[ $$found = yes ] || echo "results: no finished runs under $(RUNS)/embedded*/ yet (make reproduce-all); results/embedded* kept as committed"

slurm-up: ## install (if missing) and start a single-node SLURM on this machine
	bash scripts/slurm/up.sh

slurm-down: ## stop the single-node SLURM
	bash scripts/slurm/down.sh

container: ## build ance.sif with apptainer (--fakeroot unless root; SIF=path to choose)
	SIF=$(SIF) bash containers/build.sh build

container-test: ## apptainer test ance.sif; with a GPU also a stage with --nv
	SIF=$(SIF) bash containers/build.sh test

container-lock: install ## re-resolve containers/requirements.lock (uv, hashes, for ance.def's Debian Python; needs PyPI)
	$(BIN)/python containers/lock.py

container-rehearsal: ## as root, no apptainer: debootstrap + ance.def's %files/%post/... here, then %test and an eval in it
	nice -n 10 $(PYTHON) containers/rehearse.py --cache $(REHEARSAL_CACHE) $(if $(REHEARSAL_SIF),--sif $(REHEARSAL_SIF))

bench: install ## run every CPU benchmark row (ONLY=group to pick; the gpu group is make bench-gpu); writes benchmarks/results/<machine>.json and .md
	$(BIN)/python -m benchmarks $(if $(ONLY),--only $(ONLY))

# Two runs: scale reads the MFU that gpu measured from the results file gpu has just written.
bench-gpu: install ## on a GPU node: encode/search rates and MFU (group gpu), then the scale projections from them
	$(BIN)/python -m benchmarks --only gpu
	$(BIN)/python -m benchmarks --only scale

clean: ## remove build outputs and caches (keeps .venv and runs/)
	rm -rf build dist *.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
