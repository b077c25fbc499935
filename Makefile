# Two commands do all the setup on a fresh machine with Python 3.11 and pip:
#   make demo   the instructor demo
#   make test   the test suite (what CI runs): everything but the full training
#   make check  the fast loop: everything but the slow and browser tests
#   make test-training  the notebook's full 18-epoch training to 95%
# Each creates or refreshes .venv from the pinned versions first.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Quiet TensorFlow's start-up banners; errors still print.
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONPATH := $(CURDIR):$(CURDIR)/solutions/residual_networks

.PHONY: demo test check test-training venv data release lock clean sandbox lab

# Two pytest-xdist workers, each running one test file at a time, so that a
# file's shared fixtures (a graded batch, say) are built once; tests/conftest.py
# hands out the longest files first.
# TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

demo: $(STAMP) data sandbox
	$(BIN)/python -m autograder demo

test: $(STAMP) sandbox
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not training" $(PYTEST_ARGS)

# Alone, on every core: the one test that trains for real (30 to 75 min).
test-training: $(STAMP) sandbox
	$(BIN)/python -m pytest -m training $(PYTEST_ARGS)

check: $(STAMP) sandbox
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not slow and not browser" $(PYTEST_ARGS)

venv: $(STAMP)

# Students' kernels run in a bubblewrap sandbox (Debian's bubblewrap package).
# Installed here when missing and we may (root with apt-get); otherwise the
# grader falls back to a memory cap only and says so in every report.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing bubblewrap for the grading sandbox"; \
	    apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null; }; \
	  else \
	    echo "note: bubblewrap is not installed and cannot be installed here;" \
	         "kernels will be graded without a sandbox"; \
	  fi; }

# Rebuilt whenever a pin changes. The lock file holds every transitive pin,
# so two machines get the same environment, not just the same direct pins.
$(STAMP): requirements.txt requirements-lock.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c requirements-lock.txt
	@touch $@

# Regenerate the student release in assignment/ after editing solutions/.
release: $(STAMP)
	$(BIN)/python -m autograder release

data: $(STAMP)
	@test -f data/train_signs.h5 -a -f data/test_signs.h5 || $(BIN)/python data/make_signs.py

# JupyterLab as a student meets the assignment, with nbgrader's Validate button:
# a fresh copy of the release (assignment/residual_networks/) in out/lab/. A copy,
# because JupyterLab writes into the folder it serves (notebook metadata on every
# save or autosave, .ipynb_checkpoints/) and the release must stay exactly as
# generated; work done there is replaced at the next `make lab`. The release has
# no data/, so the notebook finds the data through SIGNS_DATA_DIR; PYTHONPATH is
# emptied so that, as for a student, only the release's own resnet_helpers is
# importable. More options: make lab LAB_ARGS="--port=8890"
LAB_DIR := out/lab/residual_networks
lab: $(STAMP) data
	rm -rf $(LAB_DIR) && mkdir -p $(dir $(LAB_DIR))
	cp -r assignment/residual_networks $(LAB_DIR)
	cd $(LAB_DIR) && PYTHONPATH= SIGNS_DATA_DIR=$(CURDIR)/data \
	  $(CURDIR)/$(BIN)/python -m jupyter lab --no-browser --ServerApp.ip=127.0.0.1 \
	  --allow-root $(LAB_ARGS)

# Re-pin every transitive dependency after requirements.txt changes.
lock: $(STAMP)
	@{ echo "# Every package the pinned environment holds, as 'pip freeze' printed it on"; \
	   echo "# $$(date +%F) (Python 3.11, $$(uname -m)). Used as constraints by 'make venv'."; \
	   echo "# Regenerate with 'make lock' after changing requirements.txt."; \
	   $(BIN)/python -m pip freeze --exclude-editable; } > requirements-lock.txt

clean:
	rm -rf $(VENV) dist out .pytest_cache
