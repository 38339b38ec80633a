//! `GenConfig::validate` and the counts a config implies.

use strata_gen::{GenConfig, GenError, Generator, Precision};

#[test]
fn defaults_are_the_documented_ones() {
    let config = GenConfig::default();
    assert_eq!(config.cluster, "fritz");
    assert_eq!(config.hosts, 8);
    assert_eq!(config.start, 1_763_769_600);
    assert_eq!((config.duration_secs, config.interval_secs), (3600, 10));
    assert_eq!(config.seed, 1);
    assert_eq!(config.precision, Precision::Seconds);
    assert_eq!((config.hwthreads, config.sockets), (72, 2));
    assert_eq!((config.memory_domains, config.accelerators), (0, 0));
    assert_eq!((config.idle_fraction, config.spike_rate), (0.0, 1e-5));
    assert!(config.validate().is_ok());
    assert_eq!(config.series_per_host(), 302);
    assert_eq!(config.series(), 8 * 302);
    assert_eq!(config.steps(), 360);
    assert_eq!(config.lines(), 8 * 302 * 360);
}

#[test]
fn the_anchor_workload_has_its_published_counts() {
    let config = GenConfig { hosts: 64, ..GenConfig::default() };
    assert_eq!(config.series(), 19_328);
    assert_eq!(config.lines(), 6_958_080);
}

/// Asserts that `config` is rejected for `field`, with the field and `value` in the message.
fn rejected(config: GenConfig, field: &str, value: &str) {
    let err = config.validate().unwrap_err();
    assert!(matches!(&err, GenError::InvalidConfig { field: f, .. } if *f == field), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(field) && message.contains(value), "{message}");
    // Generator::new checks the same way.
    assert!(matches!(Generator::new(config), Err(GenError::InvalidConfig { .. })));
}

#[test]
fn bad_fields_are_named() {
    let base = GenConfig::default;
    rejected(GenConfig { interval_secs: 0, ..base() }, "interval_secs", "0");
    rejected(GenConfig { hosts: 0, ..base() }, "hosts", "0");
    rejected(GenConfig { idle_fraction: 1.5, ..base() }, "idle_fraction", "1.5");
    rejected(GenConfig { idle_fraction: -0.1, ..base() }, "idle_fraction", "-0.1");
    rejected(GenConfig { idle_fraction: f64::NAN, ..base() }, "idle_fraction", "NaN");
    rejected(GenConfig { spike_rate: 2.0, ..base() }, "spike_rate", "2.0");
    rejected(GenConfig { spike_rate: -1e-9, ..base() }, "spike_rate", "-1e-9");
    rejected(GenConfig { accelerators: 257, ..base() }, "accelerators", "257");
    rejected(GenConfig { cluster: String::new(), ..base() }, "cluster", "\"\"");
    rejected(GenConfig { cluster: "a b".into(), ..base() }, "cluster", "\"a b\"");
    rejected(GenConfig { cluster: "x,y=z".into(), ..base() }, "cluster", "x,y=z");
    rejected(GenConfig { start: i64::MAX, ..base() }, "duration_secs", "3600");
}

#[test]
fn bounds_are_inclusive() {
    let edge = GenConfig {
        idle_fraction: 1.0,
        spike_rate: 1.0,
        accelerators: 256,
        cluster: "alex-2.b_c".into(),
        ..GenConfig::default()
    };
    assert!(edge.validate().is_ok());
    let none = GenConfig { idle_fraction: 0.0, spike_rate: 0.0, ..GenConfig::default() };
    assert!(none.validate().is_ok());
}
