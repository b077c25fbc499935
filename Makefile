# Two commands do all the setup on a fresh machine with Python 3.11 and pip:
#   make demo   the instructor demo
#   make test   the whole test suite (what CI runs)
# Each creates or refreshes .venv from the pinned versions first.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Quiet TensorFlow's start-up banners; errors still print.
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONPATH := $(CURDIR):$(CURDIR)/solutions/residual_networks

.PHONY: demo test venv data release lock clean

demo: $(STAMP) data
	$(BIN)/python -m autograder demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

venv: $(STAMP)

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

# Re-pin every transitive dependency after requirements.txt changes.
lock: $(STAMP)
	@{ echo "# Every package the pinned environment holds, as 'pip freeze' printed it on"; \
	   echo "# $$(date +%F) (Python 3.11, $$(uname -m)). Used as constraints by 'make venv'."; \
	   echo "# Regenerate with 'make lock' after changing requirements.txt."; \
	   $(BIN)/python -m pip freeze --exclude-editable; } > requirements-lock.txt

clean:
	rm -rf $(VENV) dist out .pytest_cache
