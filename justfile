# Quick Connect Chat tasks. `just --list` shows them.

# Serve on :2530 (SQLite file, one node; dev tokens printed when no secret is set)
run:
    cargo run --release

# Every test (SQLite, no services needed)
test:
    cargo test --workspace

# The persistence, broker and integration tests against a local PostgreSQL and Redis
test-services pg="postgres://postgres@127.0.0.1:5432/test" redis="redis://127.0.0.1:6379":
    QC_TEST_POSTGRES_URL={{pg}} QC_TEST_REDIS_URL={{redis}} cargo test -p qc-persistence -p qc-broker-redis -p qc-tests -p quickconnect -- --include-ignored

# Clippy with warnings denied
lint:
    cargo clippy --workspace --all-targets -- -D warnings

# Format the code
fmt:
    cargo fmt --all

# What CI runs: fmt check, clippy, layering guard, tests on SQLite and PostgreSQL
ci:
    bash .ci/run

# Benchmarks: texts, open-loop rate, typing, idle connections (see docs/benchmarks.md)
bench:
    cargo build --release -p quickconnect -p qc-bench
    ./target/release/qc-bench all
