# The two entry points: `make run` serves the whole system locally, `make test` runs every test.
.PHONY: install run test bench eval clean

install:
	@bash scripts/bootstrap.sh

run: install
	@.venv/bin/python -m infra.local.stack

test: install
	@.venv/bin/python -m pytest -q tests

bench: install
	@.venv/bin/python -m bench.origin

clean:
	rm -rf .prism .edge-build
