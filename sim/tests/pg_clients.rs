//! The `pg-clients` scenarios: the wire-protocol server under misbehaving
//! clients passes its positive scenario, replays exactly, and each negative
//! scenario trips the check it was written for.

use rustydb_sim::{Scenario, run_seed};

fn scenario(path: &str) -> Scenario {
    Scenario::load(&format!("{}/../scenarios/{path}", env!("CARGO_MANIFEST_DIR"))).expect("shipped scenarios parse")
}

#[test]
fn misbehaving_clients_leave_no_session_lock_or_lost_commit() {
    let positive = scenario("pg-clients.toml");
    for seed in 1..=3 {
        let report = run_seed(&positive, seed, false);
        assert!(report.ok(), "seed {seed}: {:?}", report.failure);
        assert!(report.progress > 0, "seed {seed} acknowledged no transfer");
        let misbehaviours = report.counters.iter().find(|(name, _)| *name == "misbehaviours").map(|(_, n)| *n);
        assert!(misbehaviours > Some(0), "seed {seed}: no client misbehaved");
        let again = run_seed(&positive, seed, false);
        assert_eq!(report.trace_digest, again.trace_digest, "seed {seed} does not replay");
    }
}

#[test]
fn a_hung_client_is_reported_as_a_session_not_cleaned_up() {
    let report = run_seed(&scenario("negative/pg-clients-hung-client.toml"), 1, false);
    let failure = report.failure.expect("a client hanging in a transaction keeps its session");
    assert!(failure.contains("sessions not cleaned up"), "{failure}");
}

#[test]
fn lying_fsync_under_the_server_fails_the_durability_check() {
    let lying = scenario("negative/pg-clients-lying-fsync.toml");
    let failures: Vec<String> = (1..=5).filter_map(|seed| run_seed(&lying, seed, false).failure).collect();
    assert_eq!(failures.len(), 5, "every seed must fail: {failures:?}");
}
