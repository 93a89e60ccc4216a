# medzen.ehrbase — one entry point for set-up, the local environment and tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
PY          := $(VENV)/bin/python
BIN         := $(abspath $(VENV)/bin)
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# The local emulator's endpoint; the local inventory reads the same variable.
export AWS_ENDPOINT_URL ?= http://127.0.0.1:5000
# botocore's retries for what runs inside ansible-playbook (lookups); modules get the same through ehrbase_aws.
export AWS_RETRY_MODE ?= standard
export AWS_MAX_ATTEMPTS ?= 10
# Tests run against their own emulator/PostgreSQL/stand-ins so they never touch `make local`'s state. `make test`
# runs two lanes side by side, each on an environment of its own (tools/test_lanes.sh sets TEST_OFFSET/TEST_STATE):
# every port is shifted by TEST_OFFSET (the emulator listens on 5000 + TEST_OFFSET).
TEST_OFFSET ?= 100
TEST_STATE  ?= $(CURDIR)/.local-test
TEST_ENV    := AWS_ENDPOINT_URL=http://127.0.0.1:$(shell echo $$((5000 + $(TEST_OFFSET)))) EHRBASE_LOCAL_STATE=$(TEST_STATE) \
               EHRBASE_LOCAL_PORT_OFFSET=$(TEST_OFFSET) EHRBASE_LOCAL_BACKUP_INTERVAL=3600
STAMP       := $(VENV)/.installed
# The interpreter the venv is made from: Debian's CPython 3.11 (built with PGO and LTO) where the machine has it,
# else the first python3 on PATH. Every module run imports boto3 and builds a client, and the pyenv build here has
# no --enable-optimizations: tests/README.md ("Where the time goes") has what it saved per target. A venv made from
# another interpreter is made again (compared by real path: python3 is often a link to python3.11).
VENV_PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11) python3)

.PHONY: integration-shared integration-own integration-teardown integration-standby clean-lane venv-interpreter
.PHONY: help setup local-up local-down local-status local test quick lint sanity sanity-changed package unit molecule integration awx docs bench bench-standby clean
# Every suite ends with its slowest tests, so the next person sees where the time goes.
PYTEST      := $(PY) -m pytest -q --durations=15
# The suites of minutes per test print a line per test as it ends (-q prints a dot, and a lane shows whole lines
# only: a line of dots appeared after 40 minutes), so the log shows where a run is.
PYTEST_SLOW := $(PY) -m pytest -v --durations=15
# What `make test` runs: setup, then four lanes side by side (tools/test_lanes.sh: "<name> <port offset> <targets in
# order>"), each on an environment of its own: "static" runs the static checks, the unit and molecule tests (which
# empty its emulator); "deploy" the integration suites of the shared deployment; "checks" the integration suites that
# build their own (preflight, faults from empty) and those on what the fault run converged; "teardown" builds a
# deployment, tears it down and rebuilds it through killed runs, then runs AWX and the warm standby on that rebuild. A run of the roles
# leaves a core idle for much of its time (one region alone, one module at a time, a rollout waited for), which the
# other lanes fill: the two cores, not one lane, set the wall time. tests/README.md ("Where the time goes") has the
# measured times. Every lane and the whole end with one line per target and its wall time (tools/timed_targets.sh).
# One lane, as before: make test TEST_LANES='"all 100 lint sanity package unit molecule integration awx"'
TEST_LANES  := "static 600 lint sanity package unit molecule" "deploy 100 integration-shared" \
               "checks 300 integration-own" "teardown 400 integration-teardown awx integration-standby"
# The integration suites that make an account of their own (preflight refusals and faults from empty) and those run
# on what the fault run converged, with the plan without a standby (the restore path), ending with that deployment's
# adoption of the standby: `make integration-own` runs them in their conftest.py order. Teardown (which
# removes what it finds and rebuilds it) runs on a deployment of its own: `make integration-teardown`.
# `make integration-shared` runs the others on the shared deployment.
INTEGRATION_OWN := tests/integration/test_preflight_rejects.py tests/integration/test_faults.py \
                   tests/integration/test_day2_reports.py tests/integration/test_backups_and_recovery.py \
                   tests/integration/test_standby_adoption.py
INTEGRATION_TEARDOWN := tests/integration/test_teardown.py
# The warm standby (switchover, failover) last on the teardown lane's rebuilt deployment, after awx: it leaves
# eu-central-1 promoted and eu-west-1 fenced.
INTEGRATION_STANDBY := tests/integration/test_standby.py
# The pure-Python unit tests (no emulator, no PostgreSQL): make quick's share of tests/unit.
QUICK_UNIT  := tests/unit/test_plan.py tests/unit/test_route53_rules.py tests/unit/test_diagnose.py \
               tests/unit/test_ecs_utils.py tests/unit/test_monitoring_filters.py tests/unit/test_ansiballz_bytecode_cache.py \
               tests/unit/test_warm_modules.py tests/unit/test_declared.py tests/unit/test_catalogue.py

help:  ## List targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

REALPATH_OF  = -c 'import os, sys; print(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))'
venv-interpreter:
	@if [ -x $(PY) ] && [ "$$($(PY) $(REALPATH_OF))" != "$$($(VENV_PYTHON) $(REALPATH_OF))" ]; then \
	  echo "$(VENV) was made from another interpreter than $(VENV_PYTHON): making it again"; rm -rf $(VENV); fi

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(VENV_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Two hooks for modules run by the venv's interpreter, in the venv only (never in production): the bytecode cache for
# their AnsiballZ payloads (local/ansiballz_bytecode_cache.py) and the client of the warm module server that
# localenv.py starts (local/warm_modules.py); each file says why.
BYTECODE_PTH := $(VENV)/.ansiballz-bytecode-cache
$(BYTECODE_PTH): local/ansiballz_bytecode_cache.py local/warm_modules.py $(STAMP)
	sp=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') && \
	for hook in ansiballz_bytecode_cache warm_modules; do \
	  cp local/$$hook.py $$sp/medzen_$$hook.py && echo "import medzen_$$hook" > $$sp/medzen_$$hook.pth; done
	rm -rf $(VENV)/ansiballz-bytecode
	touch $@

setup: venv-interpreter $(STAMP) $(BYTECODE_PTH)  ## Install Python deps (venv) and PostgreSQL 16 (npm registry) for local mode
	@bash local/install_system_deps.sh
	@$(PY) local/install_postgres.py $(VENV)/pgsql/16

local-up: setup  ## Start the AWS emulator (+ PostgreSQL, EHRbase stand-ins); reuses running ones
	$(PY) local/localenv.py up

local-down:  ## Stop what local-up started (by pid file)
	$(PY) local/localenv.py down

local-status:  ## Show what the local environment runs
	$(PY) local/localenv.py status

# EHRBASE_LOCAL_STATE named, so the modules find the environment's warm module server (local/warm_modules.py).
local: local-up  ## Deploy the whole plan to the local emulator
	EHRBASE_LOCAL_STATE=$${EHRBASE_LOCAL_STATE:-$(CURDIR)/.local} ansible-playbook site.yml -i inventories/local

test:  ## Everything CI runs, in two lanes side by side (TEST_LANES); ends with the wall time of each target
	@MAKE="$(MAKE)" bash tools/timed_targets.sh setup setup
	@MAKE="$(MAKE)" bash tools/test_lanes.sh test $(TEST_LANES)

quick: setup  ## Inner loop, not CI: lint, sanity of the files changed since HEAD, package checks but the importer, pure unit tests
	@MAKE="$(MAKE)" bash tools/timed_targets.sh quick lint sanity-changed package-quick unit-quick

lint: setup  ## yamllint + ansible-lint (production profile)
	yamllint -s .
	ansible-lint --profile production

sanity: setup  ## ansible-test sanity, from a tree where the checkout is ansible_collections/medzen/ehrbase
	BIN=$(BIN) bash tests/sanity/run.sh

sanity-changed: setup  ## ansible-test sanity of the files changed since HEAD (tracked or new); nothing changed: nothing run
	@files=$$(git diff --name-only --diff-filter=d HEAD; git ls-files --others --exclude-standard); \
	if [ -z "$$files" ]; then echo "sanity-changed: no file changed since HEAD"; \
	else BIN=$(BIN) bash tests/sanity/run.sh $$files; fi

package-quick: setup  ## The packaging checks without galaxy-importer and the docsite (make package runs both)
	$(PYTEST) tests/packaging -k "not galaxy_importer and not docsite"

unit-quick: setup  ## The unit tests that need no emulator or PostgreSQL
	$(PYTEST) $(QUICK_UNIT)

package: setup  ## galaxy build + galaxy-importer, ansible-doc of every plugin/role, the docsite (-W), links, role READMEs, argument specs, AWX surveys, EE, changelog
	$(PYTEST) tests/packaging

unit: setup  ## pytest unit and module tests (own emulator and PostgreSQL)
	$(TEST_ENV) $(PY) local/localenv.py up
	$(TEST_ENV) $(PYTEST) tests/unit

molecule: setup  ## Molecule scenarios against the test emulator
	$(TEST_ENV) $(PY) local/localenv.py up
	$(TEST_ENV) molecule test --all

integration: setup  ## Every integration suite, in the order tests/integration/conftest.py declares
	$(TEST_ENV) $(PY) local/localenv.py up
	$(TEST_ENV) $(PYTEST_SLOW) tests/integration

integration-shared: setup  ## The integration suites on one shared deployment (built from empty by test_build.py)
	$(TEST_ENV) $(PY) local/localenv.py up
	$(TEST_ENV) $(PYTEST_SLOW) tests/integration $(addprefix --ignore=,$(INTEGRATION_OWN) $(INTEGRATION_TEARDOWN) $(INTEGRATION_STANDBY))

integration-own: setup  ## Preflight and faults from empty, then day-2 reports and backups on what faults converged
	$(TEST_ENV) $(PY) local/localenv.py up
	$(TEST_ENV) $(PYTEST_SLOW) $(INTEGRATION_OWN)

integration-teardown: setup  ## Teardown of a deployment it builds, then the rebuild through killed runs (for awx)
	$(TEST_ENV) $(PY) local/localenv.py up
	$(TEST_ENV) $(PYTEST_SLOW) $(INTEGRATION_TEARDOWN)

integration-standby: setup  ## The warm standby on the deployment it finds (after teardown's rebuild and awx)
	$(TEST_ENV) $(PY) local/localenv.py up
	$(TEST_ENV) $(PYTEST_SLOW) $(INTEGRATION_STANDBY)

awx: setup  ## AWX job templates launched through ansible-runner as AWX 24 starts a job (own emulator)
	$(TEST_ENV) $(PY) local/localenv.py up
	$(TEST_ENV) $(PYTEST_SLOW) tests/awx

bench: setup  ## Time site.yml from empty, no-op and --check on an emulator of its own (BENCH_PEER, BENCH_ROUNDS; not in test)
	$(PY) tools/bench.py

bench-standby: setup  ## The warm standby measured: switchover, failback and failover with a writer running (RPO, RTO; not in test)
	$(PY) tools/bench_standby.py

docs: setup  ## Role README variable tables, docs/catalogue.md, and the docsite (antsibull-docs + Sphinx) in .docsite/build/html
	$(PY) tools/role_docs.py
	$(PY) tools/catalogue_doc.py
	$(PY) tools/docsite.py

clean:  ## Stop the test environments (every lane's) and the bench's, and remove their state
	-@for spec in $(TEST_LANES); do read -r lane offset _ <<<"$$spec"; state=.local-test; \
	  [[ $$offset == 100 ]] || state=.local-test-$$lane; \
	  $(MAKE) --no-print-directory TEST_OFFSET=$$offset TEST_STATE=$(CURDIR)/$$state clean-lane; rm -rf $$state; done
	-AWS_ENDPOINT_URL=http://127.0.0.1:5200 EHRBASE_LOCAL_STATE=$(CURDIR)/.local-bench EHRBASE_LOCAL_PORT_OFFSET=200 \
		$(PY) local/localenv.py down
	rm -rf .local-bench

clean-lane:
	-$(TEST_ENV) $(PY) local/localenv.py down
