# Tierwise — every target sets up what it needs; nothing to install by hand.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.spark-installed
DATA   ?= data
PARTNERS ?= 2000
YEARS  ?= 2
SEED   ?= 7

.PHONY: setup demo test test-fast lint typecheck bench lock clean browser java serve

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

## demo: simulate a program, validate it, build features, train, plan the week, serve
demo: $(STAMP)
	$(BIN)/python -m tierwise.shell.demo --data $(DATA) --partners $(PARTNERS) --years $(YEARS) --seed $(SEED)

## spark: the optional Spark engine (pyspark extra, once) and Java 17 when `java` is missing
$(SPARK_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,spark]'
	touch $(SPARK_STAMP)

java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "installing Debian openjdk-17-jre-headless for the Spark tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null) \
	  || { if [ -n "$$TIERWISE_REQUIRE_SPARK" ]; then echo "error: could not install Java 17" >&2; exit 1; \
	       else echo "warning: could not install Java 17; Spark tests will be skipped"; fi; }; }

## test: lint, types and the whole suite (slow, PostgreSQL, browser and Spark tests included)
test: $(STAMP) $(SPARK_STAMP) browser java
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadgroup

test-fast: $(STAMP)
	$(BIN)/pytest -n 2 -m "not slow and not browser"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## browser: Debian's Chromium for the review-page tests (Playwright drives it)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || { if [ -n "$$TIERWISE_REQUIRE_BROWSER" ]; then echo "error: could not install chromium" >&2; exit 1; \
	       else echo "warning: could not install chromium; browser tests will be skipped"; fi; }; }

bench: $(STAMP)
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f; done

serve: $(STAMP)
	$(BIN)/tierwise serve --data $(DATA)

## lock: re-pin every dependency into constraints.txt
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet --upgrade pip
	.lockenv/bin/pip install --quiet -e '.[dev]'
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^tierwise' > constraints.txt
	rm -rf .lockenv

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache .mypy_cache .ruff_cache
