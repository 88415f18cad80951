# Two commands run the whole project (see README, "Quick start"):
#   make book   create .venv if needed, install coursepkg, build the book into _build/html
#   make test   create .venv if needed, run the whole test suite (CI runs this)
# Both create the environment when it is missing, so either can come first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# MathJax, served by the book itself (offline readers, no network in tests)
MATHJAX := _vendor/node_modules/mathjax/es5/tex-chtml.js

.PHONY: book test clean student

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

$(MATHJAX): _vendor/package.json _vendor/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm is needed to install MathJax (Debian: apt-get install npm)" >&2; exit 1; }
	cd _vendor && npm ci --no-audit --no-fund
	touch $@

book: $(STAMP) $(MATHJAX)
	$(BIN)/jupyter-book build . -W -n --keep-going

# The suite builds the book itself (conftest.py) and opens it in Chromium.
test: $(STAMP) $(MATHJAX)
	sh tests/browser/ensure_chromium.sh
	sh tests/grading/ensure_bwrap.sh
	$(BIN)/python -m pytest tests coursepkg book --nbval \
	    --nbval-sanitize-with book/sanitize.cfg \
	    --cov=coursepkg --cov-report=term-missing:skip-covered --cov-fail-under=95

clean:
	rm -rf _build .coverage

# Benchmarks (minutes on a 2-core machine): prints the ratio tables and
# writes coursepkg/bench_results/results.json and .csv (the book's kernels appendix reads them).
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# The student side of the repository (README, "Publishing the student side"):
# every committed file but the instructor's tree (exercises/: solutions and
# hidden tests) and the tests that read it, plus the released starter files in
# starter/.  Push $(STUDENT) to the public repository that _config.yml's
# repository.url names, so that Binder and Colab launches clone no solution.
STUDENT ?= _build/student
student:
	rm -rf $(STUDENT) && mkdir -p $(STUDENT)
	git archive --format=tar HEAD | tar -x -C $(STUDENT) \
	    --exclude=exercises --exclude=tests/grading --exclude=tests/test_packaging.py \
	    --exclude=tests/test_book_solutions.py
	$(BIN)/python -m coursepkg release --source exercises --out $(STUDENT)/starter >/dev/null
