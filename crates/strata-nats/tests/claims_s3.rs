//! The partition claims over S3 (an s3s-fs server in the process, with conditional creates as S3
//! has them): of claimers racing for a free partition one wins, a takeover waits for the lease
//! and its margin, and the old owner's renewal learns it lost.

#[allow(dead_code, unreachable_pub, reason = "the shared support module serves several test crates")]
#[path = "../../strata/tests/support/s3.rs"]
mod s3;

use std::time::Duration;

use strata::ObjectStoreConfig;
use strata::tier::Store;
use strata_nats::claims::{Claim, Claims, Renewal};

const LEASE: Duration = Duration::from_secs(10);
const MARGIN: Duration = Duration::from_secs(1);

fn claims(server: &s3::S3Server) -> Claims {
    let os = ObjectStoreConfig {
        url: Some(format!("s3://{}/fleet", server.bucket)),
        endpoint: Some(server.endpoint.clone()),
        region: Some("us-east-1".into()),
        access_key_id: Some(server.access_key.clone()),
        secret_access_key: Some(server.secret_key.clone()),
        allow_http: true,
        ..ObjectStoreConfig::default()
    };
    Claims::new(Store::open(&os, std::path::Path::new("unused")).unwrap(), "metrics", "strata-p", MARGIN)
}

#[test]
fn claims_on_s3_give_a_partition_to_one_node_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let server = s3::spawn(dir.path(), "strata");
    // Four nodes race for the free partition 0: one wins epoch 1.
    let racers: Vec<_> = ["a", "b", "c", "d"]
        .into_iter()
        .map(|node| {
            let claims = claims(&server);
            std::thread::spawn(move || claims.claim(0, node, 1_000, LEASE).unwrap())
        })
        .collect();
    let outcomes: Vec<Claim> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    let winners: Vec<_> =
        outcomes.iter().filter_map(|c| if let Claim::Won(h) = c { Some(h) } else { None }).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let claims = claims(&server);
    let mut first = winners[0].clone();
    assert_eq!((claims.holder(0).unwrap().unwrap().owner, first.epoch), (first.owner.clone(), 1));
    assert!(
        dir.path().join("strata/fleet/partitions/metrics/strata-p/0/epoch-00000000000000000001").is_file()
    );

    // Another node waits for the lease and the margin, then takes it over at epoch 2.
    let other = if first.owner == "a" { "b" } else { "a" };
    assert!(matches!(claims.claim(0, other, 11_500, LEASE).unwrap(), Claim::Held(_)));
    let Claim::Won(second) = claims.claim(0, other, 12_001, LEASE).unwrap() else { panic!("no takeover") };
    assert_eq!((second.epoch, second.owner.as_str()), (2, other));
    // The first owner's renewal by its old epoch learns it lost.
    first.lease_until = 30_000;
    assert!(matches!(claims.renew(0, &first).unwrap(), Renewal::Lost(h) if h.epoch == 2 && h.owner == other));
    assert_eq!(claims.holder(0).unwrap().unwrap().owner, other);
}
