# Two commands set omo up on a fresh machine: `make demo` and `make test` (see README.md).

.PHONY: demo test lint bootstrap help screenshots

help:
	@echo "make demo    install what is missing, then run omo with demo data on http://127.0.0.1:8000"
	@echo "make test    install what is missing, then run the whole test suite"
	@echo "make lint    ruff check, ruff format --check, the layer contracts (lint-imports) and mypy"
	@echo "make screenshots  take docs/screenshots/*.png again from a fresh demo (SHOTS=\"clerk-app\" for some)"

## Install what is missing, then run omo for a first look (DEMO_ARGS="--port 9000" to change).
demo: bootstrap
	.venv/bin/omo demo $(DEMO_ARGS)

## Install what is missing, then run the whole suite (PYTEST_ARGS="-k healthz" to narrow it).
test:
	bash scripts/test.sh $(PYTEST_ARGS)

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports
	.venv/bin/mypy

## Take the README's and the docs' screenshots from a fresh demo on a free port (Debian's Chromium).
screenshots: bootstrap
	.venv/bin/python scripts/screenshots.py $(if $(SHOTS),--only $(SHOTS))

bootstrap:
	@bash scripts/bootstrap.sh
