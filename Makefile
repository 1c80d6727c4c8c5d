# The two set-up commands (see README): `make demo` and `make test`.
PY ?= python3
VENV := .venv
LANTAI := $(VENV)/bin/lantai
LANTAI_HOME ?= $(CURDIR)/lantai-data
export LANTAI_HOME

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	test -f $(LANTAI_HOME)/lantai.toml || $(LANTAI) init --base http://127.0.0.1:5000
	$(LANTAI) demo
	$(LANTAI) serve --host 127.0.0.1 --port 5000

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) lantai-data
