# The session store's everyday commands. `make run` and `make test` are all a newcomer needs.
.PHONY: help run test demo bench bench-parts profile soak build lint fmt deploy-check
.DEFAULT_GOAL := help

## help: list these targets (what `make` alone prints)
help:
	@echo "usage: make TARGET"
	@awk '/^## [a-z-]+: / { line = substr($$0, 4); name = line; sub(/: .*/, "", name); \
		sub(/^[^:]*: /, "", line); printf "  %-13s %s\n", name, line }' $(firstword $(MAKEFILE_LIST))

## run: build release binaries and run Redis, SecantusDB and both services (Ctrl-C stops all)
run:
	bash scripts/run.sh

## test: the whole test suite against a private Redis and SecantusDB it starts itself
test:
	bash scripts/test.sh

## demo: walk the seed's story with curl against a running stack (make run in another terminal)
demo:
	bash scripts/demo.sh

## build: release binaries of both services
build:
	cargo build --release --bins

## lint: formatting and clippy, as CI runs them
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

## fmt: format the workspace
fmt:
	cargo fmt --all

## deploy-check: the deployment checks (pytest deploy/checks: compose, Dockerfile, k8s, Redis ACLs, gateways, Grafana)
deploy-check:
	bash scripts/check-deploy.sh

.PHONY: check-deploy
# The same, by the script's name.
check-deploy: deploy-check

.PHONY: images-test
## images-test: build both images with Docker (installed and started if missing) on Debian-made bases, run them read-only, walk the story
images-test:
	bash scripts/images-test.sh

## soak: 50 connections on /me for 60 s; reports requests, errors and RSS growth
soak:
	bash scripts/soak.sh

## bench: our figures against the machine's limits (Redis GET rate, bcrypt rate); table + JSON in bench/results/
bench:
	bash bench/bench.sh

## bench-parts: our hand-made parts against the crates that could replace them, one run (release); PARTS_REPS (11), PARTS_ONLY=log,trace,spans,jwt,hex
bench-parts:
	cargo bench -p parts-bench --bench parts

## profile: perf + inferno flamegraphs of GET /me under load (plain, cached, at info); in bench/results/
profile:
	bash bench/profile.sh

.PHONY: sessionctl
## sessionctl: build the operator CLI, target/release/sessionctl (see docs/operations.md, "sessionctl")
sessionctl:
	cargo build --release -p sessionctl
