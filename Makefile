# fte — the two commands README.md opens with: `make demo` and `make test`.
SHELL := /bin/bash
NODE_MAJOR_MIN := 20

.PHONY: all deps build demo test test-unit lint bench clean check-node

all: build

check-node:
	@node -e 'const [maj,min]=process.versions.node.split(".").map(Number); if (maj<20||(maj===20&&min<19)) { console.error("fte needs Node.js >= 20.19, found "+process.versions.node); process.exit(1) }'

# `npm install` rather than `npm ci`: the registry reachable here lacks biome's binaries for other platforms
# (darwin, win32, musl), which the lock lists as optional; npm ci refuses that, npm install skips them and
# otherwise installs exactly the locked versions.
node_modules/.package-lock.json: package-lock.json package.json
	npm install --no-audit --no-fund
	@touch $@

deps: check-node node_modules/.package-lock.json

build: deps
	npx tsc -p tsconfig.json

lint: deps
	npx biome check .

demo: build
	node dist/cli/main.js demo

# All tests, against real servers; installs what it needs first.
test: build
	bash scripts/test-setup.sh
	npx biome check .
	npx vitest run

bench: build
	node dist/bench/run.js

clean:
	rm -rf dist
