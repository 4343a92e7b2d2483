//! The simulated disk and its fault model.
//!
//! Each node has one directory of files. Every file keeps two images: what
//! the node reads now (`current`) and what would survive a crash (`durable`),
//! plus the writes and truncates since the last sync (`pending`). The
//! directory likewise keeps current and durable name tables and the name
//! changes since the last `sync_dir`.
//!
//! The model is the complement of the contract in `core/src/env/storage.rs`:
//!
//! * **At a crash** each pending write independently survives, is lost
//!   (`unsynced_loss_probability`) or survives torn, only some of its
//!   512-byte sectors reaching the platter (`torn_write_probability`). A
//!   survivor after a lost write is counted as a reordered write. Pending
//!   name changes survive as a random in-order prefix.
//! * **While running**: reads, writes and syncs fail with their configured
//!   probabilities (a failed write changes nothing; a failed sync persists
//!   nothing); any operation may take a latency spike; a write may land at a
//!   wrong sector-aligned offset (misdirected); a read may find a bit flipped
//!   in what it reads, permanently (bit rot). Misdirected writes and bit rot
//!   share a per-node `corruption_budget` so a workload with redundancy can
//!   always recover: the bound TigerBeetle's storage simulator also keeps.
//! * **`sync_lies`** (negative scenarios only) acknowledges syncs without
//!   persisting anything; with `sync_lies_only = "name"`, only syncs of that
//!   file lie (a data file whose checkpoint writes never land).

use std::collections::BTreeMap;

use rustydb_core::env::{BoxFuture, File, OpenMode, Storage};
use rustydb_core::{Error, IoErrorKind, Result};

use crate::env::Handle;
use crate::faults::FaultKind;
use crate::runtime::{NodeId, World, lock};

/// Sector size: the unit a torn write tears at and misdirection aligns to.
pub const SECTOR_BYTES: u64 = 512;

/// The largest simulated file, so a wild offset is an error, not an OOM.
pub const FILE_BYTES_MAX: u64 = 1 << 30;

#[derive(Default)]
pub(crate) struct SimDisk {
    inodes: BTreeMap<u64, Inode>,
    next_inode: u64,
    names: BTreeMap<String, u64>,
    durable_names: BTreeMap<String, u64>,
    pending_names: Vec<NameChange>,
    corruption_used: u64,
}

#[derive(Default)]
struct Inode {
    current: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<PendingOp>,
}

enum PendingOp {
    Write { offset: u64, data: Vec<u8> },
    Truncate { len: u64 },
}

enum NameChange {
    Link { name: String, inode: u64 },
    Unlink { name: String },
    Rename { from: String, to: String },
}

impl NameChange {
    fn apply(&self, names: &mut BTreeMap<String, u64>) {
        match self {
            NameChange::Link { name, inode } => {
                names.insert(name.clone(), *inode);
            }
            NameChange::Unlink { name } => {
                names.remove(name);
            }
            NameChange::Rename { from, to } => {
                if let Some(inode) = names.remove(from) {
                    names.insert(to.clone(), inode);
                }
            }
        }
    }
}

fn write_into(image: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let end = offset as usize + data.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[offset as usize..end].copy_from_slice(data);
}

impl PendingOp {
    fn apply(&self, image: &mut Vec<u8>) {
        match self {
            PendingOp::Write { offset, data } => write_into(image, *offset, data),
            PendingOp::Truncate { len } => image.resize(*len as usize, 0),
        }
    }
}

/// Applies the crash model to `node`'s disk (see the module doc).
pub(crate) fn crash_disk(world: &mut World, node: NodeId) {
    let loss = world.options.disk.unsynced_loss_probability;
    let torn = world.options.disk.torn_write_probability;
    let mut disk = std::mem::take(&mut world.nodes[node].disk);
    for (inode_id, inode) in disk.inodes.iter_mut() {
        let mut lost_earlier = false;
        for op in std::mem::take(&mut inode.pending) {
            if world.unit() < loss {
                world.fault(FaultKind::LostWrite, node, *inode_id);
                lost_earlier = true;
                continue;
            }
            if lost_earlier {
                world.fault(FaultKind::ReorderedWrite, node, *inode_id);
            }
            match op {
                PendingOp::Write { offset, data } if world.unit() < torn => {
                    world.fault(FaultKind::TornWrite, node, offset);
                    apply_torn(world, &mut inode.durable, offset, &data);
                }
                op => op.apply(&mut inode.durable),
            }
        }
        inode.current = inode.durable.clone();
    }
    let survivors = world.below(disk.pending_names.len() as u64 + 1) as usize;
    for change in disk.pending_names.drain(..).take(survivors) {
        change.apply(&mut disk.durable_names);
    }
    disk.names = disk.durable_names.clone();
    let live: Vec<u64> = disk.names.values().copied().collect();
    disk.inodes.retain(|id, _| live.contains(id));
    world.nodes[node].disk = disk;
}

/// Writes a random non-empty, non-full subset of `data`'s sectors (all of it
/// if it fits in one sector: then the tear is a prefix of random length).
fn apply_torn(world: &mut World, image: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let sectors = (data.len() as u64).div_ceil(SECTOR_BYTES).max(1);
    if sectors == 1 {
        let keep = world.below(data.len().max(1) as u64) as usize;
        write_into(image, offset, &data[..keep]);
        return;
    }
    let skipped = world.below(sectors);
    for sector in 0..sectors {
        if sector == skipped || world.below(2) == 0 && sector != (skipped + 1) % sectors {
            continue;
        }
        let start = (sector * SECTOR_BYTES) as usize;
        let end = (start + SECTOR_BYTES as usize).min(data.len());
        write_into(image, offset + start as u64, &data[start..end]);
    }
}

/// The latency of one disk operation, with a possible spike.
fn latency(world: &mut World, node: NodeId, mean_micros: u64) -> u64 {
    let mut nanos = world.jitter_nanos(mean_micros * 1_000);
    if world.chance(world.options.disk.spike_probability) {
        let spike = world.jitter_nanos(world.options.disk.spike_ms * 1_000_000);
        world.fault(FaultKind::DiskLatencySpike, node, spike);
        nanos += spike;
    }
    nanos
}

fn corruption_allowed(world: &mut World, node: NodeId, probability: f64) -> bool {
    let budget = world.options.disk.corruption_budget;
    world.nodes[node].disk.corruption_used < budget && world.chance(probability)
}

fn device_error(what: &str, name: &str) -> Error {
    Error::io(IoErrorKind::Device, format!("{what} of {name} (injected)"))
}

fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(Error::io(IoErrorKind::InvalidInput, format!("bad file name {name:?}")));
    }
    Ok(())
}

/// A node's view of its simulated directory.
pub(crate) struct SimStorage {
    handle: Handle,
}

impl SimStorage {
    pub fn new(handle: Handle) -> Self {
        SimStorage { handle }
    }

    /// Runs `action` against this node's disk after a jittered latency.
    fn disk_op<T: Send + 'static>(
        &self,
        mean_micros_of: fn(&World) -> u64,
        action: impl FnOnce(&mut World, NodeId) -> T + Send + 'static,
    ) -> crate::env::Completion<T> {
        let node = self.handle.node;
        let mut world = lock(&self.handle.shared.world);
        let mean = mean_micros_of(&world);
        let delay = latency(&mut world, node, mean);
        self.handle.after(&mut world, delay, "disk", move |world| action(world, node))
    }
}

fn op_latency(world: &World) -> u64 {
    world.options.disk.latency_us
}

fn sync_latency(world: &World) -> u64 {
    world.options.disk.sync_latency_us
}

impl Storage for SimStorage {
    fn open<'a>(&'a self, name: &'a str, mode: OpenMode) -> BoxFuture<'a, Result<Box<dyn File>>> {
        let name = name.to_string();
        Box::pin(async move {
            validate_name(&name)?;
            let handle = self.handle.clone();
            let label = name.clone();
            let inode = self
                .disk_op(op_latency, move |world, node| open_inode(&mut world.nodes[node].disk, &name, mode))
                .await?;
            Ok(Box::new(SimFile { handle, inode, name: label }) as Box<dyn File>)
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(async move {
            Ok(self.disk_op(op_latency, |world, node| world.nodes[node].disk.names.keys().cloned().collect()).await)
        })
    }

    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<()>> {
        let name = name.to_string();
        Box::pin(async move {
            validate_name(&name)?;
            self.disk_op(op_latency, move |world, node| {
                let disk = &mut world.nodes[node].disk;
                if disk.names.remove(&name).is_none() {
                    return Err(Error::io(IoErrorKind::NotFound, format!("remove {name}")));
                }
                disk.pending_names.push(NameChange::Unlink { name });
                Ok(())
            })
            .await
        })
    }

    fn rename<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, Result<()>> {
        let (from, to) = (from.to_string(), to.to_string());
        Box::pin(async move {
            validate_name(&from)?;
            validate_name(&to)?;
            self.disk_op(op_latency, move |world, node| {
                let disk = &mut world.nodes[node].disk;
                let Some(inode) = disk.names.remove(&from) else {
                    return Err(Error::io(IoErrorKind::NotFound, format!("rename {from}")));
                };
                disk.names.insert(to.clone(), inode);
                disk.pending_names.push(NameChange::Rename { from, to });
                Ok(())
            })
            .await
        })
    }

    fn sync_dir(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.disk_op(sync_latency, |world, node| {
                if world.chance(world.options.disk.sync_error_probability) {
                    world.fault(FaultKind::SyncError, node, 0);
                    return Err(device_error("sync", "directory"));
                }
                if world.options.disk.sync_lies && world.options.disk.sync_lies_only.is_none() {
                    return Ok(());
                }
                let disk = &mut world.nodes[node].disk;
                for change in std::mem::take(&mut disk.pending_names) {
                    change.apply(&mut disk.durable_names);
                }
                Ok(())
            })
            .await
        })
    }
}

fn open_inode(disk: &mut SimDisk, name: &str, mode: OpenMode) -> Result<u64> {
    match (disk.names.get(name), mode) {
        (Some(_), OpenMode::CreateNew) => Err(Error::io(IoErrorKind::AlreadyExists, format!("create {name}"))),
        (Some(inode), _) => Ok(*inode),
        (None, OpenMode::Existing) => Err(Error::io(IoErrorKind::NotFound, format!("open {name}"))),
        (None, _) => {
            let inode = disk.next_inode;
            disk.next_inode += 1;
            disk.inodes.insert(inode, Inode::default());
            disk.names.insert(name.to_string(), inode);
            disk.pending_names.push(NameChange::Link { name: name.to_string(), inode });
            Ok(inode)
        }
    }
}

/// An open simulated file.
struct SimFile {
    handle: Handle,
    inode: u64,
    name: String,
}

impl SimFile {
    fn op<T: Send + 'static>(
        &self,
        mean_micros_of: fn(&World) -> u64,
        action: impl FnOnce(&mut World, NodeId, &mut Inode, &str) -> T + Send + 'static,
    ) -> crate::env::Completion<T> {
        let inode_id = self.inode;
        let name = self.name.clone();
        SimStorage { handle: self.handle.clone() }.disk_op(mean_micros_of, move |world, node| {
            let mut inode = world.nodes[node].disk.inodes.remove(&inode_id).unwrap_or_default();
            let result = action(world, node, &mut inode, &name);
            world.nodes[node].disk.inodes.insert(inode_id, inode);
            result
        })
    }
}

impl File for SimFile {
    fn read_at<'a>(&'a self, offset: u64, buf: &'a mut [u8]) -> BoxFuture<'a, Result<usize>> {
        let len = buf.len() as u64;
        Box::pin(async move {
            let bytes = self
                .op(op_latency, move |world, node, inode, name| read_inode(world, node, inode, name, offset, len))
                .await?;
            buf[..bytes.len()].copy_from_slice(&bytes);
            Ok(bytes.len())
        })
    }

    fn write_at<'a>(&'a self, offset: u64, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        let data = data.to_vec();
        Box::pin(async move {
            if offset.saturating_add(data.len() as u64) > FILE_BYTES_MAX {
                return Err(Error::io(IoErrorKind::InvalidInput, format!("write past {FILE_BYTES_MAX} bytes")));
            }
            self.op(op_latency, move |world, node, inode, name| write_inode(world, node, inode, name, offset, data))
                .await
        })
    }

    fn sync(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.op(sync_latency, |world, node, inode, name| {
                if world.chance(world.options.disk.sync_error_probability) {
                    world.fault(FaultKind::SyncError, node, 0);
                    return Err(device_error("sync", name));
                }
                let disk = &world.options.disk;
                let lies = disk.sync_lies && disk.sync_lies_only.as_deref().is_none_or(|only| only == name);
                if !lies {
                    for op in std::mem::take(&mut inode.pending) {
                        op.apply(&mut inode.durable);
                    }
                }
                Ok(())
            })
            .await
        })
    }

    fn truncate(&self, len: u64) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            if len > FILE_BYTES_MAX {
                return Err(Error::io(IoErrorKind::InvalidInput, format!("truncate past {FILE_BYTES_MAX} bytes")));
            }
            self.op(op_latency, move |_, _, inode, _| {
                inode.current.resize(len as usize, 0);
                inode.pending.push(PendingOp::Truncate { len });
                Ok(())
            })
            .await
        })
    }

    fn len(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move { Ok(self.op(op_latency, |_, _, inode, _| inode.current.len() as u64).await) })
    }
}

fn read_inode(
    world: &mut World,
    node: NodeId,
    inode: &mut Inode,
    name: &str,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>> {
    if world.chance(world.options.disk.read_error_probability) {
        world.fault(FaultKind::ReadError, node, offset);
        return Err(device_error("read", name));
    }
    let start = (offset as usize).min(inode.current.len());
    let end = (offset.saturating_add(len) as usize).min(inode.current.len());
    if end > start && corruption_allowed(world, node, world.options.disk.bit_rot_probability) {
        let bit = world.below(((end - start) * 8) as u64) as usize;
        let at = start + bit / 8;
        inode.current[at] ^= 1 << (bit % 8);
        if at < inode.durable.len() {
            inode.durable[at] ^= 1 << (bit % 8);
        }
        world.nodes[node].disk.corruption_used += 1;
        world.fault(FaultKind::BitRot, node, at as u64);
    }
    Ok(inode.current[start..end].to_vec())
}

fn write_inode(
    world: &mut World,
    node: NodeId,
    inode: &mut Inode,
    name: &str,
    offset: u64,
    data: Vec<u8>,
) -> Result<()> {
    if world.chance(world.options.disk.write_error_probability) {
        world.fault(FaultKind::WriteError, node, offset);
        return Err(device_error("write", name));
    }
    let mut target = offset;
    if corruption_allowed(world, node, world.options.disk.misdirected_write_probability) {
        let span_sectors = (inode.current.len() as u64).max(offset + data.len() as u64).div_ceil(SECTOR_BYTES);
        target = world.below(span_sectors.max(1) + 1) * SECTOR_BYTES;
        if target == offset {
            target += SECTOR_BYTES;
        }
        world.nodes[node].disk.corruption_used += 1;
        world.fault(FaultKind::MisdirectedWrite, node, target);
    }
    write_into(&mut inode.current, target, &data);
    inode.pending.push(PendingOp::Write { offset: target, data });
    Ok(())
}
