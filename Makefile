# fte — the two commands README.md opens with: `make demo` and `make test`.
SHELL := /bin/bash
NODE_MAJOR_MIN := 20

.PHONY: all deps build demo test test-unit lint bench clean check-node base-image image mutate

all: build

check-node:
	@node -e 'const [maj,min]=process.versions.node.split(".").map(Number); if (maj<20||(maj===20&&min<19)) { console.error("fte needs Node.js >= 20.19, found "+process.versions.node); process.exit(1) }'

# A fresh clone gets `npm ci`: exactly the lock, or a loud failure when package.json and the lock disagree.
# An existing node_modules gets `npm install` (it may be a symlink several worktrees share; `npm ci` would
# delete it under them), which installs the locked versions. Either way a step that rewrote package.json or
# the lock fails the build: commit a complete lock (`npm install` then commit package-lock.json) instead.
node_modules/.package-lock.json: package-lock.json package.json
	@before=$$(cat package.json package-lock.json | sha256sum); \
	if [ -e node_modules ]; then npm install --no-audit --no-fund; else npm ci --no-audit --no-fund; fi || exit 1; \
	if [ "$$before" != "$$(cat package.json package-lock.json | sha256sum)" ]; then \
	  echo "make: npm rewrote package.json or package-lock.json (git diff shows how); the committed lock is incomplete or stale: run npm install and commit package-lock.json" >&2; \
	  git diff --stat -- package.json package-lock.json >&2; exit 1; fi
	@touch $@

deps: check-node node_modules/.package-lock.json

build: deps
	npx tsc -p tsconfig.json
	npx tsc -p dashboard/tsconfig.json
	npx vite build --config dashboard/vite.config.ts

lint: deps
	npx biome check .

demo: build
	node dist/cli/main.js demo

# All tests, against real servers; installs what it needs first.
test: build
	bash scripts/test-setup.sh
	npx biome check .
	bash scripts/test-lanes.sh

# Mutation testing of the safety-critical modules (Stryker; the groups in mutation-groups.mjs; docs/mutation.md).
# Slow; incremental: a second run re-tests only what changed. `make mutate GROUPS=executor` runs one group,
# `make mutate CONCURRENCY=1` one test runner (on a machine busy with other work).
# Reports in reports/mutation/. Not part of `make test`.
mutate: deps
	FTE_MUTATE_CONCURRENCY=$(CONCURRENCY) node scripts/mutate.mjs $(GROUPS)

bench: build
	node dist/bench/run.js

# The container image (amd64 + arm64) from local Debian + Node.js bases; see docs/image.md.
base-image:
	bash scripts/build-base-image.sh

image:
	bash scripts/build-image.sh

clean:
	rm -rf dist
