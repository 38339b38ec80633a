//! Arguments shared by the commands: where the engine's data and config are, times, durations.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context as _;
use clap::Args;
use strata::{Config, Engine, ManualClock};

/// Where the data lives: `--data-dir`, else the config's `data_dir`, else the default.
#[derive(Debug, Args)]
pub(crate) struct EngineArgs {
    /// Data directory (overrides the config's data_dir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// TOML config file (docs/CONFIG.md).
    #[arg(long)]
    config: Option<PathBuf>,
}

impl EngineArgs {
    pub(crate) fn config(&self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            // The file strata serve reads: its [server] section is checked and not used here.
            #[cfg(feature = "serve")]
            Some(path) => strata_server::FileConfig::from_file(path)?.engine,
            // A build without the server (`cargo demo`) cannot check [server] and [nats]: it
            // skips them and reads the rest as the server would.
            #[cfg(not(feature = "serve"))]
            Some(path) => engine_config_without_server(path)?,
            None => Config::default(),
        };
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        Ok(config)
    }

    /// Opens the engine; its clock reads `now` (Unix seconds) when given, else the wall clock.
    pub(crate) fn open(&self, now: Option<i64>) -> anyhow::Result<Engine> {
        open(self.config()?, now)
    }

    /// Opens the engine read-only ([`open_read_only`]).
    pub(crate) fn open_read_only(&self) -> anyhow::Result<Engine> {
        open_read_only(self.config()?)
    }
}

#[cfg(not(feature = "serve"))]
fn engine_config_without_server(path: &std::path::Path) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut table: toml::Table = text.parse().with_context(|| format!("{} is not TOML", path.display()))?;
    table.remove("server");
    table.remove("nats");
    let text = toml::to_string(&table).context("re-encoding the config without [server] and [nats]")?;
    Config::from_toml(&text).with_context(|| format!("invalid config {}", path.display()))
}

/// Opens the engine on `config` read-only (`Engine::open_read_only`), as the commands that
/// only read do (`query`, `inspect`): they change nothing in the data directory, work beside a
/// live engine that holds it (answering as of the open) and on a directory that is not
/// writable. A torn WAL tail or damage is reported and left for the next writing open.
pub(crate) fn open_read_only(config: Config) -> anyhow::Result<Engine> {
    let dir = config.data_dir.clone();
    let engine = Engine::open_read_only(config)
        .with_context(|| format!("cannot open the engine in {} (read-only)", dir.display()))?;
    if let Some(damage) = &engine.recovery().damage {
        eprintln!(
            "warning: the WAL is damaged at segment {} offset {} ({}): {} bytes ({} whole records) of acknowledged writes after it are left out (wal.on_damage = \"truncate\"); this read-only command changed nothing, a writing one cuts them",
            damage.segment, damage.offset, damage.reason, damage.dropped_bytes, damage.dropped_records
        );
    }
    if let Some(torn) = &engine.recovery().truncated {
        eprintln!(
            "note: the WAL ends in a torn tail (a crash, or a live engine's write in progress): {} bytes at segment {} offset {}, never acknowledged, left out and left in place",
            torn.dropped_bytes, torn.segment, torn.offset
        );
    }
    Ok(engine)
}

/// Opens the engine on `config`, reporting a torn WAL tail that opening cut off.
pub(crate) fn open(config: Config, now: Option<i64>) -> anyhow::Result<Engine> {
    let dir = config.data_dir.clone();
    let engine = match now {
        Some(secs) => {
            Engine::open_with_clock(config, Arc::new(ManualClock::new(secs.saturating_mul(1_000_000_000))))
        }
        None => Engine::open(config),
    };
    let engine = engine.with_context(|| format!("cannot open the engine in {}", dir.display()))?;
    if let Some(damage) = &engine.recovery().damage {
        eprintln!(
            "warning: wal.on_damage = \"truncate\" cut acknowledged writes: the WAL was damaged at segment {} offset {} ({}); {} bytes ({} whole records) dropped, {} segments removed",
            damage.segment,
            damage.offset,
            damage.reason,
            damage.dropped_bytes,
            damage.dropped_records,
            damage.removed_segments.len()
        );
    }
    if let Some(cut) = &engine.recovery().truncated {
        eprintln!(
            "note: cut a torn WAL tail left by a crash: {} bytes at segment {} offset {} (never acknowledged)",
            cut.dropped_bytes, cut.segment, cut.offset
        );
    }
    Ok(engine)
}

/// A point in time given as Unix seconds (`1763769600`), RFC 3339 (`2025-11-22T00:00:00Z`),
/// `now` or `now-<duration>` (`now-1h`); returns Unix seconds.
pub(crate) fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<i64>() {
        return Ok(secs);
    }
    if let Some(rest) = s.strip_prefix("now") {
        let now =
            std::time::SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs();
        let now = i64::try_from(now).map_err(|e| e.to_string())?;
        return match rest.strip_prefix('-') {
            None if rest.is_empty() => Ok(now),
            Some(ago) => Ok(now - i64::try_from(parse_duration(ago)?.as_secs()).map_err(|e| e.to_string())?),
            None => Err(format!("{s:?}: expected now or now-<duration> such as now-1h")),
        };
    }
    let t = humantime::parse_rfc3339_weak(s)
        .map_err(|e| format!("{s:?} is neither Unix seconds nor an RFC 3339 time ({e})"))?;
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()),
        Err(e) => i64::try_from(e.duration().as_secs()).map(|s| -s),
    };
    secs.map_err(|_| format!("{s:?} is out of range"))
}

/// A duration written as `90s`, `10m`, `2h`, `30d` or a bare number of seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration such as 10s, 5m, 2h or 30d ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1763769600"), Ok(1_763_769_600));
        assert_eq!(parse_time("2025-11-22T00:00:00Z"), Ok(1_763_769_600));
        let now = parse_time("now").unwrap();
        assert_eq!(parse_time("now-1h").unwrap(), now - 3600);
        assert!(parse_time("now+1h").is_err());
        assert!(parse_time("yesterday").unwrap_err().contains("neither Unix seconds nor an RFC 3339 time"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86400)));
        assert!(parse_duration("ten").is_err());
    }
}
