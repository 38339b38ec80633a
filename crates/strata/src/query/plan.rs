//! The planner: which tier serves which part of a query's range.
//!
//! Hot serves from `evicted_until` on (every point, full resolution), warm below that down to
//! where cold takes over, cold below. Parts meet on warm (hot/warm) and cold (warm/cold)
//! bucket bounds, so every point is counted in exactly one part.

use super::{Query, Resolution};
use crate::config::Config;
use crate::error::Error;
use crate::tier::manifest::Manifest;
use crate::tier::{Tier, bucket};
use crate::units::{Span, format_time};

/// A part of the plan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Part {
    pub(crate) from: i64,
    pub(crate) to: i64,
    pub(crate) tier: Tier,
    pub(crate) resolution: i64,
}

/// What the planner needs to know of one engine's tiers: its manifest, where its hot store
/// starts (`i64::MAX` for a fleet node, whose hot store the fleet view cannot read) and now.
#[derive(Clone, Copy)]
pub(crate) struct Bounds<'a> {
    pub(crate) config: &'a Config,
    pub(crate) manifest: &'a Manifest,
    pub(crate) hot_start: i64,
    pub(crate) now: i64,
}

/// Cuts the range into parts by tier; returns them oldest first with the range, rounded
/// to bucket bounds.
pub(crate) fn plan(
    bounds: &Bounds<'_>,
    query: &Query,
    notes: &mut Vec<String>,
) -> Result<(Vec<Part>, i64, i64), Error> {
    let Bounds { config, manifest, hot_start, now } = *bounds;
    let (warm_res, cold_res) = (Tier::Warm.resolution(config), Tier::Cold.resolution(config));
    let warm_lo = match manifest.cold_until {
        None => i64::MIN,
        Some(cold_until) => {
            let horizon = now.saturating_sub(config.warm.retention.as_nanos_i64());
            round_up(horizon, cold_res).min(cold_until)
        }
    };
    let res = match query.resolution {
        Resolution::Raw => {
            if query.from < hot_start {
                notes.push(format!(
                    "raw points are kept from {} on (hot.retention); ask for a resolution for older data",
                    format_time(hot_start)
                ));
            }
            let part = Part { from: query.from.max(hot_start), to: query.to, tier: Tier::Hot, resolution: 0 };
            let parts = if part.from < part.to { vec![part] } else { Vec::new() };
            return Ok((parts, query.from, query.to));
        }
        Resolution::Every(r) if r <= 0 => {
            return Err(Error::Query(format!("the resolution must be positive, not {r} ns")));
        }
        Resolution::Every(r) => r,
        Resolution::Auto(max) => {
            let span = query.to.saturating_sub(query.from);
            let per = span.div_euclid(i64::from(max.max(1))).saturating_add(1);
            round_up(per, 1_000_000_000).max(1_000_000_000)
        }
    };
    let (from, to) = (bucket(query.from, res), round_up(query.to, res));
    let mut parts = Vec::new();
    // At a whole multiple of cold's resolution, cold answers alike and holds the fewest
    // rows: it serves everything it has rolled up, warm only what lies between.
    let cold_until = manifest.cold_until.unwrap_or(i64::MIN);
    let warm_lo = if res % cold_res == 0 { cold_until.max(warm_lo) } else { warm_lo };
    let coarser = |tier_res: i64, name: &str, notes: &mut Vec<String>| -> i64 {
        if res % tier_res == 0 {
            res
        } else {
            let served = round_up(res, tier_res);
            notes.push(format!(
                "{name} keeps {} buckets; its part of the range is answered at {}",
                Span(std::time::Duration::from_nanos(tier_res as u64)),
                Span(std::time::Duration::from_nanos(served as u64))
            ));
            served
        }
    };
    let cold = Part { from, to: to.min(warm_lo), tier: Tier::Cold, resolution: 0 };
    if cold.from < cold.to {
        let resolution = coarser(cold_res, "cold", notes);
        parts.push(Part { resolution, ..cold });
    }
    // Hot serves from its start, but never what cold already served.
    let hot_lo = hot_start.max(warm_lo);
    let warm = Part { from: from.max(warm_lo), to: to.min(hot_lo), tier: Tier::Warm, resolution: 0 };
    if warm.from < warm.to {
        let resolution = coarser(warm_res, "warm", notes);
        parts.push(Part { resolution, ..warm });
    }
    let hot = Part { from: from.max(hot_lo), to, tier: Tier::Hot, resolution: res };
    if hot.from < hot.to {
        parts.push(hot);
    }
    Ok((parts, from, to))
}

pub(super) fn round_up(t: i64, res: i64) -> i64 {
    let b = bucket(t, res);
    if b == t { t } else { b.saturating_add(res) }
}
