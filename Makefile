# The two set-up commands (see README): `make demo` and `make test`.
PY ?= python3
VENV := .venv
LANTAI := $(VENV)/bin/lantai
LANTAI_HOME ?= $(CURDIR)/lantai-data
export LANTAI_HOME

.PHONY: demo test lint bench clean viewer staff-assets translations

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

# The IIIF viewer of the public pages (Clover, from the npm registry, bundled with esbuild);
# served by us, no CDN. Skipped with a message where npm is missing.
VIEWER := publisher/static/viewer/dist/viewer.js
$(VIEWER): publisher/static/viewer/package.json publisher/static/viewer/package-lock.json \
           publisher/static/viewer/src/viewer.jsx
	sh scripts/viewer-setup.sh
viewer: $(VIEWER)

# The staff workspace's htmx (and axe-core for the browser tests), from the npm registry.
STAFF_JS := staff/static/vendor/htmx.min.js
$(STAFF_JS): staff/assets/package.json staff/assets/package-lock.json
	sh scripts/staff-assets.sh
staff-assets: $(STAFF_JS)

demo: $(VENV)/.installed viewer staff-assets
	test -f $(LANTAI_HOME)/lantai.toml || $(LANTAI) init --base http://127.0.0.1:5000
	$(LANTAI) demo
	$(LANTAI) serve --host 127.0.0.1 --port 5000

# The suite on every core (pytest-xdist), one test file per worker at a time (a module's
# fixtures are built once); TEST_WORKERS=0 runs it in this process. The 30 slowest tests close
# every log (CI must stay well under its 90 minutes: see where the time goes).
TEST_WORKERS ?= auto
test: $(VENV)/.installed viewer staff-assets
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --durations=30

# The Chinese of the public pages (publisher/ and iiif/), of the staff workspace and of the
# services (services/: 查档 …): extract
# the messages of the templates and the code (gettext, lazy_gettext (or _l), and ui_text/ui_ptext of
# publisher/i18n.py), merge them into each catalog (then write the Chinese of new ones in
# messages.po), compile messages.mo. Both files are committed, so a clean clone needs no build
# step; tests/test_i18n.py, test_staff_i18n.py and test_services_i18n.py check them.
KEYWORDS := -k lazy_gettext -k _l -k lazy_pgettext:1c,2 -k ui_text -k ui_ptext:1c,2
translations: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg $(KEYWORDS) --ignore-dirs='.* _* static' \
	  -o $(VENV)/messages.pot publisher iiif
	$(VENV)/bin/pybabel update -i $(VENV)/messages.pot -d publisher/translations -l zh \
	  --no-fuzzy-matching --width 100
	$(VENV)/bin/pybabel compile -d publisher/translations -l zh
	$(VENV)/bin/pybabel extract -F babel.cfg $(KEYWORDS) --ignore-dirs='.* _* static assets' \
	  -o $(VENV)/staff.pot staff
	test -f staff/translations/zh/LC_MESSAGES/messages.po || \
	  $(VENV)/bin/pybabel init -i $(VENV)/staff.pot -d staff/translations -l zh
	$(VENV)/bin/pybabel update -i $(VENV)/staff.pot -d staff/translations -l zh \
	  --no-fuzzy-matching --width 100
	$(VENV)/bin/pybabel compile -d staff/translations -l zh
	$(VENV)/bin/pybabel extract -F babel.cfg $(KEYWORDS) --ignore-dirs='.* _* static assets' \
	  -o $(VENV)/services.pot services
	test -f services/translations/zh/LC_MESSAGES/messages.po || \
	  $(VENV)/bin/pybabel init -i $(VENV)/services.pot -d services/translations -l zh
	$(VENV)/bin/pybabel update -i $(VENV)/services.pot -d services/translations -l zh \
	  --no-fuzzy-matching --width 100
	$(VENV)/bin/pybabel compile -d services/translations -l zh

clean:
	rm -rf $(VENV) lantai-data
