//! `SimStore`, the object store the crash tests take images of: an image keeps exactly the
//! completed requests, is independent of the store, and an engine opens on it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use strata::tier::Store;
use strata::{Engine, ManualClock, Tier, WriteOptions};
use support::sim_store::SimStore;
use support::{HOUR, MIN, Model, Rng, SEC, T0, assert_tier_matches, config};

fn blocking(store: &Arc<SimStore>) -> Store {
    Store::with_object_store(store.clone(), "p", "sim/p", Duration::from_secs(2)).unwrap()
}

#[test]
fn a_crash_image_holds_the_completed_puts_and_deletes_and_nothing_else() {
    let sim = Arc::new(SimStore::new());
    let store = blocking(&sim);
    store.put("a", Bytes::from_static(b"1")).unwrap();
    store.put("b", Bytes::from_static(b"2")).unwrap();
    store.delete("a").unwrap();
    // A conditional create that loses changes nothing.
    assert!(!store.put_new("b", Bytes::from_static(b"3")).unwrap());
    assert_eq!(sim.completed(), ["p/b"]);

    let image = Arc::new(sim.crash());
    let after = blocking(&image);
    assert_eq!(after.list("").unwrap(), [("b".to_owned(), 1)]);
    assert_eq!(after.get("b").unwrap(), Bytes::from_static(b"2"));
    // Independent: a write to either side stays there.
    after.put("c", Bytes::from_static(b"4")).unwrap();
    store.put("d", Bytes::from_static(b"5")).unwrap();
    assert_eq!(image.completed(), ["p/b", "p/c"]);
    assert_eq!(sim.completed(), ["p/b", "p/d"]);
}

#[test]
fn an_engine_reopens_on_a_crash_image_with_its_committed_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0 + 3 * HOUR));
    let sim = Arc::new(SimStore::new());
    let engine =
        Engine::open_with_object_store(config(dir.path()), clock.clone(), sim.clone(), "prefix").unwrap();
    let (mut model, mut rng, mut body) = (Model::default(), Rng(7), String::new());
    for step in 0..(2 * HOUR / (20 * SEC)) {
        let time = T0 + step * 20 * SEC;
        let value = rng.value();
        body.push_str(&format!("cpu_load,hostname=f0101,type=node value={value} {time}\n"));
        model.insert("cpu_load", "f0101", time, value);
    }
    let options = WriteOptions { default_cluster: Some("fritz".into()), ..Default::default() };
    assert!(engine.write_lp(body.as_bytes(), &options).unwrap().rejections.is_empty());
    engine.compact().unwrap();
    let warm_until = engine.manifest().warm_until.unwrap();
    assert!(sim.completed().iter().any(|p| p.starts_with("prefix/_manifest/")));

    // A power loss now: the store keeps what the pass committed; the data directory is kept as
    // it is (the WAL holds the points that are not in the tiers).
    let image = Arc::new(sim.crash());
    drop(engine);
    let engine = Engine::open_with_object_store(config(dir.path()), clock, image, "prefix").unwrap();
    assert_eq!(engine.manifest().warm_until, Some(warm_until));
    assert_tier_matches(&engine, Tier::Warm, "cpu_load", &model, MIN, T0, warm_until);
    engine.close().unwrap();
}
