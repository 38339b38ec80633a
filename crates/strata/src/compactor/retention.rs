//! Retention: tier files wholly past their tier's retention leave the manifest; hot windows
//! older than `hot.retention` (or forced out by `hot.max_memory`) whose warm rows are
//! committed are evicted.

use super::CompactReport;
use crate::core::Core;
use crate::error::Error;
use crate::tier::{FileEntry, Tier};

pub(super) fn expire(
    core: &Core,
    now: i64,
    early: Option<i64>,
    report: &mut CompactReport,
) -> Result<(), Error> {
    let config = &core.config;
    let manifest = core.tiers.manifest();
    let (warm_res, cold_res) = (Tier::Warm.resolution(config), Tier::Cold.resolution(config));
    let warm_horizon = now.saturating_sub(config.warm.retention.as_nanos_i64());
    let cold_horizon = now.saturating_sub(config.cold.retention.as_nanos_i64());
    let cold_until = manifest.cold_until.unwrap_or(i64::MIN);
    let cold_flushes = manifest.cold_flushes;
    let expired = |f: &FileEntry| match f.tier {
        Tier::Warm => {
            let end = f.max_time.saturating_add(warm_res);
            end <= warm_horizon && f.flush <= cold_flushes && end <= cold_until
        }
        Tier::Cold => f.max_time.saturating_add(cold_res) <= cold_horizon,
        Tier::Hot => false,
    };
    let count = manifest.files.iter().filter(|f| expired(f)).count();
    if count > 0 {
        core.tiers.publish(&[], ["retention-uploaded", "retention-committed"], |next| {
            next.files.retain(|f| !expired(f));
        })?;
        report.expired_files += count as u64;
    }
    // Hot: evict what is older than hot.retention, or what max_memory forced out, once its
    // warm rows are committed.
    let warm_until = core.tiers.manifest().warm_until.unwrap_or(i64::MIN);
    let horizon = now.saturating_sub(config.hot.retention.as_nanos_i64());
    let mut until = horizon.min(warm_until);
    if let Some(early) = early {
        until = until.max(early.min(warm_until));
    }
    if until > core.hot.evicted_until() {
        let dropped = {
            let _order = core.log.hold();
            core.hot.evict(until)
        };
        report.evicted_points += dropped;
        if until > horizon {
            report.evicted_early += dropped;
        }
        crate::failpoint::failpoint("hot-evicted")?;
    }
    Ok(())
}
