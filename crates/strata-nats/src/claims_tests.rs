//! The claim rules over a local object store: two claimers, one wins; a stale epoch's renewal
//! fails; a takeover only after the lease and the margin ran out.

#![allow(clippy::unwrap_used, reason = "tests may panic")]

use std::path::Path;
use std::time::Duration;

use strata::tier::Store;

use super::*;

const LEASE: Duration = Duration::from_secs(10);
const MARGIN: Duration = Duration::from_secs(1);

fn claims(dir: &Path) -> Claims {
    let os = strata::ObjectStoreConfig {
        url: Some(format!("file://{}", dir.display())),
        ..strata::ObjectStoreConfig::default()
    };
    Claims::new(Store::open(&os, dir).unwrap(), "metrics", "strata-p", MARGIN)
}

fn won(claim: Claim) -> Holder {
    match claim {
        Claim::Won(holder) => holder,
        Claim::Held(holder) => panic!("held by {holder:?}"),
    }
}

#[test]
fn of_two_claimers_of_a_free_partition_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (claims(dir.path()), claims(dir.path()));
    let threads: Vec<_> = [("a", a), ("b", b)]
        .into_iter()
        .map(|(node, claims)| std::thread::spawn(move || claims.claim(0, node, 1_000, LEASE).unwrap()))
        .collect();
    let outcomes: Vec<Claim> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let winners: Vec<&Holder> =
        outcomes.iter().filter_map(|c| if let Claim::Won(h) = c { Some(h) } else { None }).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let holder = claims(dir.path()).holder(0).unwrap().unwrap();
    assert_eq!((&holder.owner, holder.epoch), (&winners[0].owner, 1));
    assert!(dir.path().join("partitions/metrics/strata-p/0/epoch-00000000000000000001").is_file());
}

#[test]
fn a_takeover_waits_for_the_lease_and_the_margin_and_the_old_owner_learns_it_lost() {
    let dir = tempfile::tempdir().unwrap();
    let claims = claims(dir.path());
    let mut a = won(claims.claim(3, "a", 1_000, LEASE).unwrap());
    a.from_sequence = Some(1);
    assert!(matches!(claims.renew(3, &a).unwrap(), Renewal::Renewed(_)));
    // Inside the lease, and inside the margin after it: held.
    for now in [5_000, 11_000, 12_000] {
        assert!(
            matches!(claims.claim(3, "b", now, LEASE).unwrap(), Claim::Held(h) if h.owner == "a"),
            "{now}"
        );
    }
    // A renewal moves the lease on.
    a.lease_until = 21_000;
    assert!(matches!(claims.renew(3, &a).unwrap(), Renewal::Renewed(_)));
    assert!(matches!(claims.claim(3, "b", 13_000, LEASE).unwrap(), Claim::Held(_)));
    assert_eq!(claims.fence(3, "b").unwrap(), Some(1), "b's open fences a's partition at a's start");
    // Past it and the margin: b takes over at epoch 2.
    let mut b = won(claims.claim(3, "b", 22_001, LEASE).unwrap());
    assert_eq!(b.epoch, 2);
    assert!(matches!(claims.fence(3, "a"), Err(ClaimError::FromSequencePending { .. })));
    b.from_sequence = Some(40);
    assert!(matches!(claims.renew(3, &b).unwrap(), Renewal::Renewed(_)));
    assert_eq!(claims.fence(3, "a").unwrap(), Some(40));
    assert_eq!(claims.fence(3, "b").unwrap(), None);
    // The old owner's renewal by its stale epoch fails, and does not change the holder.
    a.lease_until = 40_000;
    assert!(matches!(claims.renew(3, &a).unwrap(), Renewal::Lost(h) if h.owner == "b" && h.epoch == 2));
    assert_eq!(claims.holder(3).unwrap().unwrap(), b);
    assert_eq!(claims.holder_at(3, 1).unwrap().unwrap().lease_until, 40_000, "a's own lease, superseded");
    assert_eq!(claims.holder_at(3, 9).unwrap(), None);
    // Back while b's lease runs, a does not take it back.
    assert!(matches!(claims.claim(3, "a", 33_000, LEASE).unwrap(), Claim::Held(h) if h.owner == "b"));
    // A release lets anyone claim at once.
    b.released = true;
    assert!(matches!(claims.renew(3, &b).unwrap(), Renewal::Renewed(_)));
    assert_eq!(won(claims.claim(3, "a", 23_000, LEASE).unwrap()).epoch, 3);
}

#[test]
fn a_node_reclaims_its_own_partition_at_a_new_epoch_and_a_bad_claim_names_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let claims = claims(dir.path());
    assert_eq!(claims.holder(1).unwrap(), None);
    assert_eq!(claims.fence(1, "a").unwrap(), None);
    won(claims.claim(1, "a", 1_000, LEASE).unwrap());
    assert_eq!(won(claims.claim(1, "a", 2_000, LEASE).unwrap()).epoch, 2);
    let bad = dir.path().join("partitions/metrics/strata-p/1/epoch-00000000000000000003");
    std::fs::write(&bad, b"{not json").unwrap();
    let err = claims.holder(1).unwrap_err();
    assert!(err.to_string().contains("epoch-00000000000000000003"), "{err}");
}
