//! `PageFile` on the simulated disk: pages round-trip, and a page
//! overwritten by foreign bytes or written at the wrong place is reported as
//! `CorruptPage` naming file and page, never returned.

use std::sync::{Arc, Mutex};

use rustydb_core::env::{Env, OpenMode};
use rustydb_core::storage::PageId;
use rustydb_core::storage::file::PageFile;
use rustydb_core::storage::page::{PAGE_SIZE, Page, PageRead, PageType};
use rustydb_core::{Error, Result};
use rustydb_sim::Scenario;
use rustydb_sim::runtime::Simulator;

async fn exercise(env: Env) -> Result<Vec<String>> {
    let mut outcomes = Vec::new();
    let file = PageFile::open(&env, "heap.0", OpenMode::CreateNew).await?;
    assert_eq!(file.extend(3).await?, PageId(0));
    for id in 0..3u64 {
        let mut page = Page::new(PageId(id), PageType::Heap);
        page.body_mut()[0] = id as u8 + 10;
        file.write_page(&mut page).await?;
    }
    file.sync().await?;
    for id in 0..3u64 {
        match file.read_page(PageId(id)).await? {
            PageRead::Written(page) => outcomes.push(format!("page {id} body {}", page.body()[0])),
            PageRead::Unwritten => outcomes.push(format!("page {id} unwritten")),
        }
    }
    // Page 0's image copied over page 2: what a misdirected write leaves.
    let raw = env.storage.open("heap.0", OpenMode::Existing).await?;
    let mut image = vec![0u8; PAGE_SIZE];
    raw.read_at(0, &mut image).await?;
    raw.write_at(2 * PAGE_SIZE as u64, &image).await?;
    raw.write_at(PAGE_SIZE as u64 + 100, b"rot").await?;
    for id in 1..3u64 {
        match file.read_page(PageId(id)).await {
            Err(Error::CorruptPage { file, page, reason }) => outcomes.push(format!("{file} {page}: {reason}")),
            other => outcomes.push(format!("page {id} not detected: {:?}", other.map(|_| ()))),
        }
    }
    outcomes.push(format!("past end: {}", file.read_page(PageId(3)).await.is_err()));
    Ok(outcomes)
}

#[test]
fn pages_round_trip_and_corruption_is_reported_not_returned() {
    let text = "workload = \"mirrored-log\"\nduration_ms = 1000\n[disk]\nlatency_us = 10\n";
    let mut sim = Simulator::new(Scenario::parse("t.toml", text).unwrap().draw(1), false);
    let outcomes: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = outcomes.clone();
    sim.add_node(
        "n",
        true,
        Arc::new(move |env| {
            let sink = sink.clone();
            Box::pin(async move {
                let result = exercise(env).await?;
                *sink.lock().unwrap() = result;
                Ok(())
            })
        }),
    );
    sim.run_until(1_000_000_000, &|| false);
    let outcomes = outcomes.lock().unwrap();
    assert_eq!(outcomes.len(), 6, "{outcomes:?}");
    assert_eq!(outcomes[..3], ["page 0 body 10", "page 1 body 11", "page 2 body 12"]);
    assert!(outcomes[3].starts_with("heap.0 1: ") && outcomes[3].contains("checksum"), "{}", outcomes[3]);
    assert!(outcomes[4].starts_with("heap.0 2: ") && outcomes[4].contains("misdirected"), "{}", outcomes[4]);
    assert_eq!(outcomes[5], "past end: true");
}
