//! `strata compact`: one compaction pass now, as the background compactor would run it.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use crate::args::{EngineArgs, parse_time};
use crate::say;

#[derive(Debug, Args)]
pub(crate) struct CompactArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// Run the pass as of this time instead of now (Unix seconds, RFC 3339 or now-1h):
    /// for backfills and tests. Buckets, lateness and retention are measured from it.
    #[arg(long, value_parser = parse_time)]
    now: Option<i64>,
}

pub(crate) fn run(args: CompactArgs) -> anyhow::Result<ExitCode> {
    // With --now, the engine's clock reads it too, so the background pass agrees with this one.
    let engine = args.engine.open(args.now)?;
    let dir = engine.data_dir().to_owned();
    // What a failed pass committed stays committed; a warm flush it cut is retried next time
    // (the WAL still holds its points), so dropping the engine without a checkpoint is safe.
    let report =
        engine.compact().with_context(|| format!("the compaction pass in {} failed", dir.display()))?;
    say!("{report}");
    engine.close().with_context(|| format!("cannot close the engine in {}", dir.display()))?;
    Ok(ExitCode::SUCCESS)
}
