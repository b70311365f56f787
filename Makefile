.PHONY: demo ui test lint bench setup clean deploy deploy-offline

# Installs everything and runs the offline demo: label → agent → draft PR on the local GitHub stand-in.
demo: setup
	scripts/system-deps.sh demo
	.venv/bin/paid demo

# The Dagster UI on the demo's instance (run `make demo` first).
ui: setup
	.venv/bin/paid ui

# Paid as a Docker deployment on this machine (README: "Deploying with Docker"): paid.yaml and the token and
# model key from this environment; deploy-offline: the same against the forge and the scripted model.
deploy: setup
	scripts/build-sandbox-image.sh
	.venv/bin/paid deploy up

deploy-offline: setup
	scripts/build-sandbox-image.sh
	.venv/bin/paid deploy up --offline

# Installs everything (Python packages, bubblewrap, chromium, PostgreSQL) and runs the whole suite.
test:
	scripts/test.sh

lint: setup
	.venv/bin/ruff check paid_dagster standins tests bench
	.venv/bin/ruff format --check paid_dagster standins tests bench
	.venv/bin/mypy paid_dagster standins/paid_standins

bench: setup
	scripts/system-deps.sh
	PAID_TEST_POSTGRES_URL=$$(scripts/services.sh) PATH=$$PWD/.venv/bin:$$PATH .venv/bin/python -m bench

setup:
	scripts/bootstrap.sh

clean:
	scripts/private-postgres.sh stop 2>/dev/null || true
	rm -rf .paid
