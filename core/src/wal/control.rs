//! The control file: where recovery starts.
//!
//! `control` holds two 512-byte slots (one sector each, so a torn write can
//! damage only the slot being written). Each slot is: magic `RCTL`, a
//! sequence number (u64), the LSN of the last complete checkpoint's
//! `CheckpointBegin` (u64), zeros, and a CRC-32 of the rest in its last four
//! bytes. A write goes to the slot the newest valid one is not in, then syncs,
//! so the previous checkpoint pointer stays intact until the new one is
//! durable. Reading takes the valid slot with the highest sequence; no valid
//! slot means "no checkpoint yet": analysis starts at the log's first record.

use crate::env::{Env, File, OpenMode};
use crate::error::Result;
use crate::wal::Lsn;

/// The control file's name.
pub const CONTROL_FILE: &str = "control";
const SLOT_BYTES: usize = 512;
const MAGIC: &[u8; 4] = b"RCTL";
const CRC_AT: usize = SLOT_BYTES - 4;

/// The open control file and what it last said.
pub struct ControlFile {
    file: Box<dyn File>,
    /// Sequence number and slot of the newest valid record, if any.
    newest: Option<(u64, usize)>,
    checkpoint: Option<Lsn>,
}

impl ControlFile {
    /// Opens (creating if missing) and reads the newest valid slot.
    pub async fn open(env: &Env) -> Result<ControlFile> {
        let file = env.storage.open(CONTROL_FILE, OpenMode::CreateIfMissing).await?;
        let mut bytes = vec![0u8; 2 * SLOT_BYTES];
        let read = file.read_at(0, &mut bytes).await?;
        bytes.truncate(read);
        let mut newest: Option<(u64, usize, Lsn)> = None;
        for slot in 0..2 {
            let Some(record) = bytes.get(slot * SLOT_BYTES..(slot + 1) * SLOT_BYTES) else { continue };
            if let Some((sequence, lsn)) = decode(record)
                && newest.is_none_or(|(best, _, _)| sequence > best)
            {
                newest = Some((sequence, slot, lsn));
            }
        }
        Ok(ControlFile {
            file,
            newest: newest.map(|(sequence, slot, _)| (sequence, slot)),
            checkpoint: newest.map(|(_, _, lsn)| lsn),
        })
    }

    /// The `CheckpointBegin` LSN of the last complete checkpoint, if any.
    pub fn checkpoint(&self) -> Option<Lsn> {
        self.checkpoint
    }

    /// Durably records `lsn` as the last complete checkpoint.
    pub async fn set_checkpoint(&mut self, lsn: Lsn) -> Result<()> {
        let (sequence, slot) = match self.newest {
            Some((sequence, slot)) => (sequence + 1, 1 - slot),
            None => (1, 0),
        };
        self.file.write_at((slot * SLOT_BYTES) as u64, &encode(sequence, lsn)).await?;
        self.file.sync().await?;
        self.newest = Some((sequence, slot));
        self.checkpoint = Some(lsn);
        Ok(())
    }
}

fn encode(sequence: u64, lsn: Lsn) -> Vec<u8> {
    let mut record = vec![0u8; SLOT_BYTES];
    record[..4].copy_from_slice(MAGIC);
    record[4..12].copy_from_slice(&sequence.to_le_bytes());
    record[12..20].copy_from_slice(&lsn.0.to_le_bytes());
    let crc = crc32fast::hash(&record[..CRC_AT]);
    record[CRC_AT..].copy_from_slice(&crc.to_le_bytes());
    record
}

fn decode(record: &[u8]) -> Option<(u64, Lsn)> {
    let crc = u32::from_le_bytes(record[CRC_AT..].try_into().ok()?);
    if &record[..4] != MAGIC || crc32fast::hash(&record[..CRC_AT]) != crc {
        return None;
    }
    let sequence = u64::from_le_bytes(record[4..12].try_into().ok()?);
    Some((sequence, Lsn(u64::from_le_bytes(record[12..20].try_into().ok()?))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_round_trip_and_damage_is_rejected() {
        let record = encode(7, Lsn(99));
        assert_eq!(decode(&record), Some((7, Lsn(99))));
        let mut torn = record.clone();
        torn[13] ^= 1;
        assert_eq!(decode(&torn), None);
        assert_eq!(decode(&[0u8; SLOT_BYTES]), None);
    }
}
