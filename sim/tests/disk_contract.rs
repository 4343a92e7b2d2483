//! The storage contract as the simulator enforces it: synced data survives
//! any crash; with certain loss, unsynced data never does; a lying sync
//! persists nothing; unsynced names may vanish. Driven through the public
//! Simulator API with a node program written against the Env traits only.

use std::sync::{Arc, Mutex};

use rustydb_core::env::{Env, OpenMode};
use rustydb_sim::Scenario;
use rustydb_sim::runtime::{NodeProgram, Simulator};

const BASE: &str = "workload = \"mirrored-log\"\nduration_ms = 1000\n";

/// What the program saw on each boot: the file's contents, if it existed.
type Seen = Arc<Mutex<Vec<Option<Vec<u8>>>>>;

/// On first boot: writes "synced" and syncs, then writes "+unsynced" after
/// it without syncing. On later boots: records what the file holds.
fn program(seen: Seen, sync_dir: bool) -> NodeProgram {
    Arc::new(move |env: Env| {
        let seen = seen.clone();
        Box::pin(async move {
            let boot = seen.lock().unwrap().len();
            if boot > 0 {
                let contents = match env.storage.open("f", OpenMode::Existing).await {
                    Ok(file) => {
                        let mut buf = vec![0u8; file.len().await? as usize];
                        file.read_at(0, &mut buf).await?;
                        Some(buf)
                    }
                    Err(_) => None,
                };
                seen.lock().unwrap().push(contents);
                return Ok(());
            }
            let file = env.storage.open("f", OpenMode::CreateNew).await?;
            if sync_dir {
                env.storage.sync_dir().await?;
            }
            file.write_at(0, b"synced").await?;
            file.sync().await?;
            file.write_at(6, b"+unsynced").await?;
            seen.lock().unwrap().push(None);
            Ok(())
        })
    })
}

fn crash_and_reboot(disk_section: &str, sync_dir: bool, seed: u64) -> Option<Vec<u8>> {
    let text = format!("{BASE}[disk]\nlatency_us = 10\n{disk_section}\n");
    let options = Scenario::parse("test.toml", &text).unwrap().draw(seed);
    let mut sim = Simulator::new(options, false);
    let seen: Seen = Arc::default();
    let node = sim.add_node("n", true, program(seen.clone(), sync_dir));
    sim.run_until(100_000_000, &|| false);
    assert_eq!(seen.lock().unwrap().len(), 1, "first boot finished");
    sim.crash(node, false, None);
    sim.restart_now(node);
    sim.run_until(200_000_000, &|| false);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "second boot finished");
    seen[1].clone()
}

#[test]
fn synced_data_survives_and_certain_loss_drops_unsynced() {
    for seed in 0..20 {
        let contents = crash_and_reboot("unsynced_loss_probability = 1.0", true, seed);
        assert_eq!(contents.as_deref(), Some(&b"synced"[..]), "seed {seed}");
    }
}

#[test]
fn unsynced_writes_may_survive_whole_or_torn() {
    let mut outcomes = std::collections::BTreeSet::new();
    for seed in 0..60 {
        let contents = crash_and_reboot("unsynced_loss_probability = 0.5\ntorn_write_probability = 0.5", true, seed);
        let contents = contents.expect("the name was synced");
        assert!(contents.starts_with(b"synced"), "seed {seed}: synced prefix kept");
        outcomes.insert(contents);
    }
    assert!(outcomes.len() >= 3, "lost, whole and torn outcomes all occur: {outcomes:?}");
}

#[test]
fn lying_sync_persists_nothing_and_unsynced_names_may_vanish() {
    let vanished = (0..20).any(|seed| crash_and_reboot("unsynced_loss_probability = 1.0", false, seed).is_none());
    assert!(vanished, "a created name that was never dir-synced can vanish");
    // A lying sync_dir may also lose the name; where the file survives, it
    // must hold none of the "synced" bytes, and some seed must show that.
    let mut survived = 0;
    for seed in 0..40 {
        if let Some(contents) = crash_and_reboot("unsynced_loss_probability = 1.0\nsync_lies = true", true, seed) {
            survived += 1;
            assert!(contents.iter().all(|b| *b == 0), "seed {seed}: nothing was really synced: {contents:?}");
        }
    }
    assert!(survived > 0, "no seed kept the file, so the lying sync was never observed");
}
