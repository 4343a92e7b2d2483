//! Cross-crate simulation tests: determinism of the simulator, and that the
//! shipped scenarios behave as CI expects (smoke passes, negatives fail).

use rustydb_sim::{Scenario, run_seed};

fn scenario(path: &str) -> Scenario {
    Scenario::load(&format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).expect("shipped scenarios parse")
}

#[test]
fn same_seed_same_trace_and_different_seeds_differ() {
    let smoke = scenario("scenarios/smoke.toml");
    let first = run_seed(&smoke, 7, false);
    let again = run_seed(&smoke, 7, false);
    let other = run_seed(&smoke, 8, false);
    assert_eq!(first.trace_digest, again.trace_digest);
    assert_eq!(first.faults, again.faults);
    assert_eq!(first.sim_millis, again.sim_millis);
    assert_ne!(first.trace_digest, other.trace_digest);
}

#[test]
fn smoke_seeds_pass_with_faults_injected() {
    let smoke = scenario("scenarios/smoke.toml");
    for seed in 1..=5 {
        let report = run_seed(&smoke, seed, false);
        assert!(report.ok(), "seed {seed}: {:?}", report.failure);
        assert!(report.faults.total() > 0, "seed {seed} injected no faults");
        assert!(report.progress > 0, "seed {seed} made no progress");
    }
}

#[test]
fn lying_fsync_loses_an_acknowledged_write() {
    let lying = scenario("scenarios/negative/lying-fsync.toml");
    let report = run_seed(&lying, 1, false);
    let failure = report.failure.expect("a disk that lies about sync must lose acknowledged writes");
    assert!(failure.contains("acknowledged write lost"), "{failure}");
}

#[test]
fn every_shipped_scenario_parses() {
    let root = format!("{}/scenarios", env!("CARGO_MANIFEST_DIR"));
    let mut pending = vec![std::path::PathBuf::from(root)];
    let mut parsed = 0;
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "toml") {
                Scenario::load(path.to_str().unwrap()).unwrap();
                parsed += 1;
            }
        }
    }
    assert!(parsed >= 2);
}
