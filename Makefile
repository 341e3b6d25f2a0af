.PHONY: dev lint test demo bench clean

dev:            ## install everything (apt packages, .venv, pinned Go tools)
	scripts/bootstrap

lint:           ## ruff + mypy strict
	.venv/bin/ruff check supplychain tests benchmarks
	.venv/bin/mypy

test:           ## the full test suite, with every service it needs
	scripts/test

demo:           ## build, push, sign, attest, verify and promote examples/hello locally
	scripts/demo

bench:          ## side-by-side benchmarks against peer tools
	benchmarks/run

clean:
	rm -rf dist .pytest_cache .mypy_cache .ruff_cache
