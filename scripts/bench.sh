#!/usr/bin/env bash
# make bench: release builds, then scripts/bench.py measures everything in one run.
set -euo pipefail
source "$(dirname "$0")/services.sh"
cd "$REPO_ROOT"
ensure_redis
ensure_secantus
ensure_wrk
cargo build --release --bins
cargo build --release -p auth-service --example bcrypt_limit
python3 scripts/bench.py
