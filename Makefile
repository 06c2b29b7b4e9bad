# The two commands of the README, and the few helpers around them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench screenshots constraints clean

# Install (or refresh) the virtual environment from pyproject.toml + constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/pip check
	touch $@

# Validate the bundled sample claims; writes out/denial-risk.xlsx and out/findings.csv.
demo: $(STAMP)
	$(BIN)/cleanclaim validate sample_claims/ --config sample_claims/cleanclaim.yaml --as-of 2026-09-30 \
		--report out/denial-risk.xlsx --findings out/findings.csv --exit-zero

# The formatter and the linter, then the whole test suite (CI runs exactly this through .ci/run).
test: lint
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_documentation.py
	$(BIN)/python benchmarks/bench_x12.py
	$(BIN)/python benchmarks/bench_remits.py

# The README's pictures of the workbook, rendered from the sample run by LibreOffice and poppler
# (apt-get install libreoffice-calc-nogui poppler-utils).
screenshots: demo
	rm -rf out/render && soffice -env:UserInstallation=file://$(CURDIR)/out/render/profile --headless \
		--convert-to pdf --outdir out/render out/denial-risk.xlsx >/dev/null
	pdftoppm -png -r 110 -f 1 -l 1 -x 80 -y 90 -W 1150 -H 640 -singlefile out/render/denial-risk.pdf docs/workbook-summary
	pdftoppm -png -r 110 -f 3 -l 3 -x 60 -y 80 -W 1150 -H 380 -singlefile out/render/denial-risk.pdf docs/workbook-claims

constraints: $(STAMP)
	{ sed -n '1,3p' constraints.txt; $(BIN)/pip freeze --exclude-editable; } > constraints.tmp
	mv constraints.tmp constraints.txt

clean:
	rm -rf $(VENV) out .pytest_cache
