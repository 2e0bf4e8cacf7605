# imgpipe: every target installs what it needs into .venv first, so a fresh clone just works.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install
# The one lock (hashed) of the dev environment and the Lambda layer: `make lock` regenerates it.
LOCK := requirements.lock
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# This machine has Node 20, which jsii calls end-of-life (it still works); 22 or 24 are recommended.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install lock browser test test-fast lint check demo serve reliability bench synth translate verify-bundle clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Every package at the version and sha256 the lock pins; the project itself without dependencies.
$(STAMP): $(LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

install: $(STAMP)

## lock: recompile requirements.lock from pyproject.toml (dev extra) and lambdas/requirements.txt
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes uv packaging -c $(LOCK)
	$(BIN)/python -m infra.lock write

## browser: Debian's headless Chromium and its driver, for the viewer's browser tests (tests/viewer)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

## test: the whole suite (unit, workflow executions in moto, CDK synth assertions, cdk-nag, cfn-lint)
test: $(STAMP) browser
	$(BIN)/python -m pytest -q

## test-fast: the developer loop: every test not marked slow, on all cores (pytest-xdist)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n auto -m "not slow"

## lint: ruff and mypy
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## check: what a maintainer runs before merging (and .ci/run): lint, format, types, the whole suite
check: lint test

## demo: the dynamic-fork workflow run locally on the sample image, 3 formats x 3 sizes
demo: $(STAMP)
	$(BIN)/imgpipe run image_multiple_convert_resize --input @imgpipe/samples/demo-input.json --out out/demo

## serve: the local AWS endpoint (S3 trigger, Step Functions API) for the AWS CLI or boto3
serve: $(STAMP)
	$(BIN)/imgpipe serve

## reliability: only the hostile-input, fault and duplicate tests (part of `make test`)
reliability: $(STAMP)
	$(BIN)/python -m pytest -q tests/reliability

## translate: regenerate statemachines/generated from statemachines/conductor
translate: $(STAMP)
	$(BIN)/imgpipe translate statemachines/conductor/workflows --out statemachines/generated --diagram

## bench: imgpipe vs ImageMagick vs libvips, results in benchmarks/results and docs/performance.md
bench: $(STAMP)
	@# The reference tool is Debian's ImageMagick; a `convert` elsewhere on PATH may be a stand-in.
	@dpkg -s imagemagick >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq imagemagick >/dev/null; }
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

## synth: cdk synth with the pinned CDK CLI (no AWS account, no Docker)
node_modules/.bin/cdk: package.json
	npm install --no-audit --no-fund --silent
	touch $@

synth: $(STAMP) node_modules/.bin/cdk
	PATH="$(CURDIR)/$(BIN):$$PATH" npx --no-install cdk synth --quiet

## verify-bundle: the synthesized layer and code on aarch64 CPython 3.13 (qemu-user) against moto S3
verify-bundle: $(STAMP)
	@command -v qemu-aarch64-static >/dev/null && command -v objdump >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq qemu-user-static binutils >/dev/null; }
	$(BIN)/python -m infra.verify_bundle

clean:
	rm -rf $(VENV) cdk.out node_modules .pytest_cache .mypy_cache .ruff_cache out *.egg-info
