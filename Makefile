# Everything the project needs is installed by these targets; nothing is assumed on the machine but python3.
AIRFLOW_VERSION ?= 3.3.2
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed-$(AIRFLOW_VERSION)
DIST_STAMP := $(VENV)/.installed-distributed-$(AIRFLOW_VERSION)
PYTEST_ARGS ?=

.PHONY: install test test-deploy test-deploy-distributed demo bench clean constraints fate2 test-fate2

$(STAMP): setup.py airflow_provider_fateflow/__init__.py constraints/airflow-$(AIRFLOW_VERSION).txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q uv
	rm -f $(VENV)/.installed-*
	$(UV) pip install -q -p $(PY) --compile-bytecode \
	    "apache-airflow==$(AIRFLOW_VERSION)" -c constraints/airflow-$(AIRFLOW_VERSION).txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# A real Airflow (api-server, scheduler, dag-processor, triggerer) on loopback runs the deferrable example,
# then headless Chromium (Debian's, driven by selenium) checks the UI: connection form, Test button, links.
# DEPLOY_ARGS="--no-browser" skips the browser; "--docs-images" refreshes docs/img/.
test-deploy: $(STAMP)
	sh scripts/install_browser.sh
	$(UV) pip install -q -p $(PY) --compile-bytecode \
	    "apache-airflow==$(AIRFLOW_VERSION)" -c constraints/airflow-$(AIRFLOW_VERSION).txt -e ".[test,deploy]"
	$(PY) scripts/deploy_test.py $(DEPLOY_ARGS)

# Airflow's own extras for a production-shaped deployment (CeleryExecutor + PostgreSQL), same constraints.
$(DIST_STAMP): $(STAMP)
	$(UV) pip install -q -p $(PY) --compile-bytecode \
	    "apache-airflow[celery,postgres]==$(AIRFLOW_VERSION)" -c constraints/airflow-$(AIRFLOW_VERSION).txt -e ".[test]"
	touch $(DIST_STAMP)

# PostgreSQL + Redis (Debian packages, installed if missing) + CeleryExecutor with 2 workers, 2 triggerers, a
# scheduler, a dag-processor, an api-server and the sandbox, all on loopback; load and faults, then a report.
# DIST_ARGS="--report-dir DIR --keep" etc.; see scripts/deploy_distributed.py --help.
test-deploy-distributed: $(DIST_STAMP)
	scripts/install_services.sh
	$(PY) scripts/deploy_distributed.py $(DIST_ARGS)

# README's first command: a sandbox FATE Flow, then `airflow dags test` of the example DAGs, and a summary.
# DEMO_ARGS="--fail hetero_lr_0" shows a failed FATE job; see scripts/demo.py.
demo: $(STAMP)
	$(PY) scripts/demo.py $(DEMO_ARGS)

# A real FATE Flow 2.2.0 (pyfate, fate-client, fate-flow from PyPI, CPU torch): installed once into
# ~/.cache/airflow-provider-fateflow/fate2-<hash> (FATE2_CACHE overrides), about 3 min and 1.6 GB.
fate2:
	scripts/fate2/install.sh

# Install (cached), start it on free loopback ports, run tests/v2 against it (FATEFLOW_V2_URL), stop it.
test-fate2: $(STAMP)
	scripts/fate2/run_suite.sh $(PY)

bench: $(STAMP)
	$(PY) bench/run.py

# Regenerate the committed constraints (on purpose only): the date is the day after the Airflow release.
constraints:
	uv pip compile -q -p 3.11 --exclude-newer 2026-09-18 constraints/airflow-3.3.2.in -o constraints/airflow-3.3.2.txt
	uv pip compile -q -p 3.11 --exclude-newer 2026-03-12 constraints/airflow-3.1.8.in -o constraints/airflow-3.1.8.txt

clean:
	rm -rf $(VENV) build *.egg-info
