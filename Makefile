# kubekit: every target creates .venv/ first if it is missing, so on a fresh
# machine `make run` and `make test` are the whole set-up.
#
#   make run     start the sandbox, run every notebook headless into runs/, print a summary
#   make test    the whole suite: pytest over tests/, then nbval over notebooks/
#   make lab     JupyterLab on 127.0.0.1 with the sandbox up
#   make bench   every bench/*.py; each writes JSON under bench/results/
#   make venv    (re)install .venv/ from requirements/lock.txt
#   make lock    regenerate requirements/lock.txt from requirements/requirements.in
#   make snapshots  re-execute notebooks/ against a fresh sandbox and store stripped outputs
#   make docs    execute notebooks/ against a fresh sandbox into a static site under site/
#   make clean   stop the sandbox, remove runs, results, caches and sandbox state

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.PHONY: help venv run test test-py test-nbval browser-deps lab bench lock snapshots docs clean distclean

PYTHON ?= python3
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
KUBEKIT := $(VENV)/bin/kubekit
LOCK := requirements/lock.txt
# The stamp's name carries a checksum of the lock and pyproject.toml, so changing
# either reinstalls on the next target (mtimes alone do not survive a clone).
STAMP := $(VENV)/.installed-$(shell cat $(LOCK) pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)
NOTEBOOKS ?= notebooks
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
LAB_PORT ?= 8888
# Sandbox state for run/lab (gitignored); `make test` always uses a fresh temporary one.
export KUBEKIT_HOME ?= $(CURDIR)/.kubekit
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# pip warns once per package about file:// index locations that lack it (harmless
# where several local indexes are configured); keep every other line of stderr.
PIP_NOISE := 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)

help:
	@sed -n '1,14s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

venv: $(STAMP)

$(STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kubekit needs Python 3.11 or newer: make PYTHON=python3.11 ...")'
	@if [ ! -x $(PY) ]; then \
	  echo "creating .venv with $$($(PYTHON) --version)"; \
	  $(PYTHON) -m venv $(VENV); \
	fi
	@echo "installing requirements/lock.txt into .venv"; \
	start=$$SECONDS; \
	$(PY) -m pip install -q -r $(LOCK) $(PIP_NOISE); \
	$(PY) -m pip install -q --no-deps -e . $(PIP_NOISE); \
	echo ".venv ready in $$((SECONDS - start)) s"
	@rm -f $(VENV)/.installed-*
	@touch $@

# $(call with_sandbox,COMMAND[,CLEANUP]): run COMMAND with KUBECONFIG pointing
# at the sandbox in $KUBEKIT_HOME. A sandbox already running there is reused and
# left running; one started here is stopped (by the pid in sandbox.json) when
# COMMAND ends, fails or is interrupted, then CLEANUP runs. (No commas in either.)
define with_sandbox
	started=; \
	trap '[ -z "$$started" ] || $(KUBEKIT) sandbox down; $(2)' EXIT; \
	trap 'exit 130' INT TERM; \
	if ! $(KUBEKIT) sandbox status >/dev/null 2>&1; then started=1; $(KUBEKIT) sandbox up; fi; \
	eval "$$($(KUBEKIT) sandbox env)"; \
	$(1)
endef

run: venv
	@$(call with_sandbox,$(KUBEKIT) runbook run --output-root runs $(NOTEBOOKS))

test: venv
	@start=$$SECONDS; rc=0; \
	$(MAKE) --no-print-directory test-py || rc=1; \
	$(MAKE) --no-print-directory test-nbval || rc=1; \
	echo "make test: $$([ $$rc = 0 ] && echo passed || echo FAILED) in $$((SECONDS - start)) s"; \
	exit $$rc

# pytest over tests/; tests that need a sandbox start their own (tests/conftest.py).
test-py: venv browser-deps
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=10 $(PYTEST_ARGS) tests

# Debian's chromium for tests/browser (JupyterLab driven by Playwright; Playwright's own browsers
# are never downloaded). Installed only when missing and we are root with apt-get; otherwise, or if
# apt fails, say so and go on: the browser test then skips with the reason. (.ci/run installs it hard.)
browser-deps:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium (Debian) for tests/browser"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      chromium >/dev/null; } || echo "could not install chromium: tests/browser will be skipped"; \
	else echo "chromium is not installed (apt-get install chromium as root): tests/browser will be skipped"; fi

# nbval: re-execute the committed notebooks against a fresh sandbox and compare
# their stored outputs (strict), through the shared sanitizer file.
test-nbval: venv
	@home=$$(mktemp -d); export KUBEKIT_HOME=$$home; \
	$(call with_sandbox,$(PY) -m pytest -p no:xdist --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval-sanitize.cfg $(PYTEST_ARGS) $(NOTEBOOKS),rm -rf "$$home")

# `kubekit lab` starts the sandbox when it is not running (and stops it on exit), then JupyterLab.
lab: venv
	@$(KUBEKIT) lab --port $(LAB_PORT) --notebooks $(NOTEBOOKS)

bench: venv
	@mkdir -p bench/results; shopt -s nullglob; files=(bench/*.py); rc=0; \
	if [ $${#files[@]} -eq 0 ]; then echo "no benchmarks in bench/"; exit 0; fi; \
	for f in "$${files[@]}"; do \
	  echo "== $$f"; KUBEKIT_BENCH_RESULTS=$(CURDIR)/bench/results $(PY) "$$f" || rc=1; \
	done; \
	ls -l bench/results; exit $$rc

# Resolve requirements.in in a throwaway venv. Existing pins are kept (the old
# lock is a constraint) unless UPGRADE=1; new packages get their newest fitting release.
lock:
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	constraint=; if [ -z "$${UPGRADE:-}" ] && [ -f $(LOCK) ]; then constraint="-c $(LOCK)"; fi; \
	"$$tmp/venv/bin/pip" install -q -r requirements/requirements.in $$constraint $(PIP_NOISE); \
	{ echo "# Generated by \`make lock\` from requirements/requirements.in ($$($(PYTHON) --version)); do not edit."; \
	  "$$tmp/venv/bin/pip" freeze --exclude-editable; } > $(LOCK).new; \
	mv $(LOCK).new $(LOCK); echo "wrote $(LOCK) ($$(grep -c '==' $(LOCK)) packages)"

snapshots: venv
	@home=$$(mktemp -d); export KUBEKIT_HOME=$$home; \
	$(call with_sandbox,$(PY) tools/strip_notebook.py --execute \
	  $$(find $(NOTEBOOKS) -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort),rm -rf "$$home")

# The site: index.html (lesson order, duration, status; date and versions) + one HTML page per
# notebook. kubekit starts and stops its own sandbox in a temporary home; exit 1 if a notebook failed.
docs: venv
	@start=$$SECONDS; rc=0; \
	$(KUBEKIT) docs build --output site --notebooks $(NOTEBOOKS) || rc=$$?; \
	echo "make docs: $$([ $$rc = 0 ] && echo ok || echo FAILED) in $$((SECONDS - start)) s"; exit $$rc

clean:
	@if [ -x $(KUBEKIT) ]; then $(KUBEKIT) sandbox down; fi
	rm -rf runs site bench/results .pytest_cache .hypothesis build "$(KUBEKIT_HOME)"
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
