//! A query over the fleet: each node planned and read as one engine's tiers would be (no hot
//! part), the nodes' buckets combined per series, then the answer built as for one engine.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::Fleet;
use super::combine::combine;
use crate::error::Error;
use crate::query::execute::{Buckets, add_tier_part, answer, check, grid};
use crate::query::plan::{Bounds, plan};
use crate::query::{Query, QueryResult, Resolution, Served};
use crate::series::SeriesKey;
use crate::tier::Tier;
use crate::units::format_time;

pub(super) fn run(fleet: &Fleet, query: &Query, cancel: &AtomicBool) -> Result<QueryResult, Error> {
    check(&fleet.config, query)?;
    if query.resolution == Resolution::Raw {
        return Err(Error::Query(
            "the fleet view reads the nodes' warm and cold tiers; raw points are in each node's hot store: \
             ask for a resolution, or query the node itself"
                .into(),
        ));
    }
    let now = fleet.clock.now_nanos();
    let mut notes: Vec<String> = Vec::new();
    let mut served: BTreeSet<(i64, i64, Tier, i64)> = BTreeSet::new();
    let mut bucket_lengths: BTreeMap<i64, i64> = BTreeMap::new();
    let mut per_node: Vec<(&str, BTreeMap<Arc<SeriesKey>, Buckets>)> = Vec::with_capacity(fleet.nodes.len());
    for node in &fleet.nodes {
        let manifest = node.tiers.manifest();
        let bounds = Bounds { config: &fleet.config, manifest: &manifest, hot_start: i64::MAX, now };
        let mut node_notes = Vec::new();
        let (parts, from, to) = plan(&bounds, query, &mut node_notes)?;
        for note in node_notes {
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
        let mut per_series = BTreeMap::new();
        for part in &parts {
            add_tier_part(&node.tiers, query, part, &mut per_series, cancel)?;
            served.insert((part.from, part.to, part.tier, part.resolution));
        }
        let (times, lengths) = grid(&parts, from, to);
        for (t, len) in times.into_iter().zip(lengths) {
            match bucket_lengths.insert(t, len) {
                Some(other) if other != len => {
                    return Err(Error::Query(format!(
                        "nodes answer the bucket at {} at different lengths ({other} and {len} ns): their tiers were rolled up to different times; ask at a multiple of cold.resolution",
                        format_time(t)
                    )));
                }
                _ => {}
            }
        }
        match manifest.warm_until {
            Some(until) if until < to => notes.push(format!(
                "node {}: its tiers hold buckets before {}; its later points are in its hot store, which the fleet view does not read",
                node.id,
                format_time(until)
            )),
            None => notes.push(format!(
                "node {}: it has committed no warm flush yet; its points are in its hot store, which the fleet view does not read",
                node.id
            )),
            _ => {}
        }
        per_node.push((&node.id, per_series));
    }
    if fleet.nodes.is_empty() {
        notes.push(format!("no node under {}/nodes: the fleet is empty", fleet.store.url()));
    }
    let per_series = combine(per_node, &mut notes);
    let (times, lengths): (Vec<i64>, Vec<i64>) = bucket_lengths.into_iter().unzip();
    let series = answer(&fleet.config, query, &(times, lengths), per_series, &mut notes);
    let served = served
        .into_iter()
        .map(|(from, to, tier, resolution)| Served { from, to, tier, resolution })
        .collect();
    Ok(QueryResult { series, served, notes })
}
