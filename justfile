# strata's one runner for people and CI. `just --list` shows the recipes.

# Run every test (what CI runs).
test:
    cargo test

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Benchmarks against the peers (slow: builds criterion and the peer parser).
bench:
    cargo bench -p strata-benches

# Fuzz the line parser for a bounded time (seconds). Needs `cargo install cargo-fuzz`.
fuzz seconds="60":
    mkdir -p fuzz/corpus/parse_lp
    cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run parse_lp corpus/parse_lp seeds -- -max_total_time={{seconds}} -max_len=4096 -rss_limit_mb=2048

# strata's main job on an embedded default: generate, write, reopen, query.
demo:
    cargo demo

# Generate the anchors' workload (64 hosts, 1 h) and time the parser on it.
parse-demo:
    cargo build --release -p strata-cli
    target/release/strata gen --hosts 64 --duration 1h -v -o target/fritz-64h.lp
    target/release/strata lp parse --precision s --summary target/fritz-64h.lp
