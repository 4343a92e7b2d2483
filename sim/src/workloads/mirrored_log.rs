//! The mirrored-log workload: a durable append-only log service written
//! only against the Env traits, and clients that drive it over datagrams
//! and streams. It exercises every part of the simulator before the storage
//! engine exists.
//!
//! **Server** (each crashable node): keeps two copies of the log,
//! `log.a` and `log.b`, in fixed 64-byte slots:
//!
//! ```text
//! 0..4 magic "RLOG" | 4..12 slot | 12..20 request id | 20 payload length
//! 21..60 payload (zero padded) | 60..64 CRC-32 of bytes 0..60
//! ```
//!
//! An append writes the slot in both copies, syncs both, then acknowledges.
//! Recovery reads both copies and takes, per slot, a copy whose CRC holds
//! and whose slot field names that slot (so a misdirected write is not
//! mistaken for the record it overwrote); it repairs the other copy. Two
//! copies survive one corruption per node, which is what the disk's
//! `corruption_budget` allows. Any I/O error is fatal: the node restarts
//! and recovers, because after a failed write or sync nothing is known.
//!
//! **Clients** (non-crashable nodes): request loops pick a server, send
//! `request id + payload`, and retry the same request on timeout; the
//! server deduplicates by request id, so retries and duplicated datagrams
//! are harmless. Even-numbered loops use datagrams, odd ones streams.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use rustydb_core::env::{DatagramSocket, Env, File, NetAddr, OpenMode, Stream, timeout};
use rustydb_core::{Error, Result};

use super::Workload;
use crate::checkers::durable_log::{LogHistory, RecoveredRecord};
use crate::options::RunOptions;
use crate::runtime::{NodeProgram, Simulator, lock};

pub const SLOT_BYTES: usize = 64;
pub const PAYLOAD_BYTES_MAX: usize = 39;
const MAGIC: &[u8; 4] = b"RLOG";
const LOG_FILES: [&str; 2] = ["log.a", "log.b"];
const DATAGRAM_PORT: u16 = 7000;
const STREAM_PORT: u16 = 7001;
const CLIENT_PORT_BASE: u16 = 9000;
/// Appends a server runs at once; more are answered "busy".
const APPENDS_IN_FLIGHT_MAX: usize = 64;
/// The largest stream frame, in bytes (request id + payload).
const FRAME_BYTES_MAX: usize = 8 + PAYLOAD_BYTES_MAX;
/// Bytes read from a log file per read call during recovery.
const RECOVERY_READ_BYTES: usize = 64 * 1024;

type History = Arc<Mutex<LogHistory>>;

/// Encodes one slot.
pub fn encode_record(slot: u64, request: u64, payload: &[u8]) -> [u8; SLOT_BYTES] {
    assert!(payload.len() <= PAYLOAD_BYTES_MAX, "payload too long");
    let mut record = [0u8; SLOT_BYTES];
    record[0..4].copy_from_slice(MAGIC);
    record[4..12].copy_from_slice(&slot.to_le_bytes());
    record[12..20].copy_from_slice(&request.to_le_bytes());
    record[20] = payload.len() as u8;
    record[21..21 + payload.len()].copy_from_slice(payload);
    let crc = crc32fast::hash(&record[..60]);
    record[60..64].copy_from_slice(&crc.to_le_bytes());
    record
}

/// Decodes slot `slot` from `bytes`; `None` if it is empty, torn, rotten or
/// belongs to another slot.
pub fn decode_record(slot: u64, bytes: &[u8]) -> Option<RecoveredRecord> {
    if bytes.len() < SLOT_BYTES || &bytes[0..4] != MAGIC {
        return None;
    }
    let stored_crc = u32::from_le_bytes(bytes[60..64].try_into().ok()?);
    if crc32fast::hash(&bytes[..60]) != stored_crc {
        return None;
    }
    let stored_slot = u64::from_le_bytes(bytes[4..12].try_into().ok()?);
    let length = usize::from(bytes[20]);
    if stored_slot != slot || length > PAYLOAD_BYTES_MAX {
        return None;
    }
    let request = u64::from_le_bytes(bytes[12..20].try_into().ok()?);
    Some(RecoveredRecord { slot, request, payload: bytes[21..21 + length].to_vec() })
}

/// The server's log: two mirrored files and the in-memory index.
struct MirroredLog {
    files: [Box<dyn File>; 2],
    state: Mutex<LogState>,
}

#[derive(Default)]
struct LogState {
    next_slot: u64,
    done: BTreeMap<u64, u64>,
    in_flight: BTreeSet<u64>,
}

/// What an append request got.
enum AppendOutcome {
    Appended { slot: u64 },
    Busy,
}

async fn read_all(file: &dyn File) -> Result<Vec<u8>> {
    let len = usize::try_from(file.len().await?).map_err(|_| Error::Corrupt("log too large".into()))?;
    let mut bytes = vec![0u8; len];
    let mut offset = 0;
    while offset < len {
        let end = (offset + RECOVERY_READ_BYTES).min(len);
        let read = file.read_at(offset as u64, &mut bytes[offset..end]).await?;
        if read == 0 {
            bytes.truncate(offset);
            break;
        }
        offset += read;
    }
    Ok(bytes)
}

impl MirroredLog {
    /// Opens both copies, recovers the records, repairs divergent copies.
    async fn recover(env: &Env) -> Result<(MirroredLog, Vec<RecoveredRecord>)> {
        let a = env.storage.open(LOG_FILES[0], OpenMode::CreateIfMissing).await?;
        let b = env.storage.open(LOG_FILES[1], OpenMode::CreateIfMissing).await?;
        env.storage.sync_dir().await?;
        let images = [read_all(a.as_ref()).await?, read_all(b.as_ref()).await?];
        let files = [a, b];
        let slots = images.iter().map(|image| image.len().div_ceil(SLOT_BYTES)).max().unwrap_or(0);
        let mut records = Vec::new();
        let mut repaired = false;
        for slot in 0..slots as u64 {
            let range = |image: &Vec<u8>| {
                let start = (slot as usize * SLOT_BYTES).min(image.len());
                image[start..(start + SLOT_BYTES).min(image.len())].to_vec()
            };
            let copies = [decode_record(slot, &range(&images[0])), decode_record(slot, &range(&images[1]))];
            let Some(record) = copies[0].clone().or_else(|| copies[1].clone()) else { continue };
            for (copy, file) in copies.iter().zip(files.iter()) {
                if copy.is_none() {
                    let bytes = encode_record(slot, record.request, &record.payload);
                    file.write_at(slot * SLOT_BYTES as u64, &bytes).await?;
                    repaired = true;
                }
            }
            records.push(record);
        }
        if repaired {
            for file in &files {
                file.sync().await?;
            }
        }
        let state = LogState {
            next_slot: records.last().map_or(0, |record| record.slot + 1),
            done: records.iter().map(|record| (record.request, record.slot)).collect(),
            in_flight: BTreeSet::new(),
        };
        Ok((MirroredLog { files, state: Mutex::new(state) }, records))
    }

    async fn append(&self, request: u64, payload: &[u8]) -> Result<AppendOutcome> {
        let slot = {
            let mut state = lock(&self.state);
            if let Some(slot) = state.done.get(&request) {
                return Ok(AppendOutcome::Appended { slot: *slot });
            }
            if state.in_flight.contains(&request) || state.in_flight.len() >= APPENDS_IN_FLIGHT_MAX {
                return Ok(AppendOutcome::Busy);
            }
            state.in_flight.insert(request);
            state.next_slot += 1;
            state.next_slot - 1
        };
        let record = encode_record(slot, request, payload);
        for file in &self.files {
            file.write_at(slot * SLOT_BYTES as u64, &record).await?;
        }
        for file in &self.files {
            file.sync().await?;
        }
        let mut state = lock(&self.state);
        state.in_flight.remove(&request);
        state.done.insert(request, slot);
        Ok(AppendOutcome::Appended { slot })
    }
}

/// Request: request id then payload. Reply: request id, slot, status.
fn encode_reply(request: u64, outcome: &AppendOutcome) -> [u8; 17] {
    let mut reply = [0u8; 17];
    reply[0..8].copy_from_slice(&request.to_le_bytes());
    if let AppendOutcome::Appended { slot } = outcome {
        reply[8..16].copy_from_slice(&slot.to_le_bytes());
        reply[16] = 1;
    }
    reply
}

fn decode_request(bytes: &[u8]) -> Option<(u64, &[u8])> {
    if bytes.len() < 8 || bytes.len() > FRAME_BYTES_MAX {
        return None;
    }
    Some((u64::from_le_bytes(bytes[0..8].try_into().ok()?), &bytes[8..]))
}

/// Returns (request, slot) for a successful reply.
fn decode_reply(bytes: &[u8]) -> Option<(u64, Option<u64>)> {
    if bytes.len() != 17 {
        return None;
    }
    let request = u64::from_le_bytes(bytes[0..8].try_into().ok()?);
    let slot = u64::from_le_bytes(bytes[8..16].try_into().ok()?);
    Some((request, (bytes[16] == 1).then_some(slot)))
}

async fn server_main(env: Env, name: String, history: History) -> Result<()> {
    let (log, records) = MirroredLog::recover(&env).await?;
    lock(&history).recovered(&name, &records);
    let log = Arc::new(log);
    let (fatal, mut fatal_errors) = mpsc::channel::<Error>(4);
    let socket: Arc<dyn DatagramSocket> = Arc::from(env.network.bind_datagram(DATAGRAM_PORT).await?);
    let listener = env.network.listen(STREAM_PORT).await?;
    env.spawn("datagram-server", serve_datagrams(env.clone(), socket, log.clone(), fatal.clone()));
    let spawner = env.clone();
    spawner.spawn("stream-server", async move {
        let mut fatal_accept = fatal.clone();
        loop {
            match listener.accept().await {
                Ok((stream, _)) => drop(env.spawn("connection", serve_stream(stream, log.clone(), fatal.clone()))),
                Err(error) => {
                    let _ = fatal_accept.try_send(error);
                    return;
                }
            }
        }
    });
    match fatal_errors.next().await {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

async fn serve_datagrams(
    env: Env,
    socket: Arc<dyn DatagramSocket>,
    log: Arc<MirroredLog>,
    mut fatal: mpsc::Sender<Error>,
) {
    loop {
        let (bytes, from) = match socket.recv_from().await {
            Ok(datagram) => datagram,
            Err(error) => {
                let _ = fatal.try_send(error);
                return;
            }
        };
        let Some((request, payload)) = decode_request(&bytes) else { continue };
        let payload = payload.to_vec();
        let (socket, log, mut fatal) = (socket.clone(), log.clone(), fatal.clone());
        env.spawn("append", async move {
            match log.append(request, &payload).await {
                Ok(outcome) => {
                    let _ = socket.send_to(&from, &encode_reply(request, &outcome)).await;
                }
                Err(error) => {
                    let _ = fatal.try_send(error);
                }
            }
        });
    }
}

async fn read_exact(stream: &mut dyn Stream, buf: &mut [u8]) -> Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        let read = stream.read(&mut buf[filled..]).await?;
        if read == 0 {
            return Ok(false);
        }
        filled += read;
    }
    Ok(true)
}

async fn read_frame(stream: &mut dyn Stream) -> Result<Option<Vec<u8>>> {
    let mut header = [0u8; 2];
    if !read_exact(stream, &mut header).await? {
        return Ok(None);
    }
    let length = usize::from(u16::from_le_bytes(header));
    if length > FRAME_BYTES_MAX.max(17) {
        return Err(Error::InvalidInput(format!("frame of {length} bytes")));
    }
    let mut body = vec![0u8; length];
    if !read_exact(stream, &mut body).await? {
        return Ok(None);
    }
    Ok(Some(body))
}

async fn write_frame(stream: &mut dyn Stream, body: &[u8]) -> Result<()> {
    let mut frame = (body.len() as u16).to_le_bytes().to_vec();
    frame.extend_from_slice(body);
    stream.write_all(&frame).await
}

async fn serve_stream(mut stream: Box<dyn Stream>, log: Arc<MirroredLog>, mut fatal: mpsc::Sender<Error>) {
    // A broken or malformed connection ends just this connection.
    while let Ok(Some(frame)) = read_frame(stream.as_mut()).await {
        let Some((request, payload)) = decode_request(&frame) else { return };
        match log.append(request, payload).await {
            Ok(outcome) => {
                if write_frame(stream.as_mut(), &encode_reply(request, &outcome)).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                let _ = fatal.try_send(error);
                return;
            }
        }
    }
}

/// One client request loop's transport.
enum Transport {
    Datagram { socket: Box<dyn DatagramSocket> },
    Stream { connections: BTreeMap<String, Box<dyn Stream>> },
}

struct ClientLoop {
    env: Env,
    history: History,
    servers: Vec<String>,
    id_prefix: u64,
    request_timeout: Duration,
    retries_max: u64,
}

impl ClientLoop {
    async fn run(self, mut transport: Transport) -> Result<()> {
        for sequence in 0u64.. {
            let server = self.servers[self.env.random.below(self.servers.len() as u64) as usize].clone();
            let request = self.id_prefix | sequence;
            let mut payload = vec![0u8; 1 + self.env.random.below(PAYLOAD_BYTES_MAX as u64) as usize];
            self.env.random.fill(&mut payload);
            lock(&self.history).invoke(request, &payload);
            for _ in 0..=self.retries_max {
                if let Ok(Some(slot)) = self.call(&mut transport, &server, request, &payload).await {
                    lock(&self.history).ack(&server, request, slot);
                    break;
                }
                self.env.clock.sleep(self.request_timeout / 4).await;
            }
        }
        Ok(())
    }

    /// Sends one attempt; `Ok(Some(slot))` when acknowledged.
    async fn call(&self, transport: &mut Transport, server: &str, request: u64, payload: &[u8]) -> Result<Option<u64>> {
        let mut body = request.to_le_bytes().to_vec();
        body.extend_from_slice(payload);
        let clock = self.env.clock.as_ref();
        match transport {
            Transport::Datagram { socket } => {
                socket.send_to(&NetAddr::new(server, DATAGRAM_PORT), &body).await?;
                let wait_for_reply = async {
                    loop {
                        let (bytes, _) = socket.recv_from().await?;
                        if let Some((replied, slot)) = decode_reply(&bytes)
                            && replied == request
                        {
                            return Ok::<_, Error>(slot);
                        }
                    }
                };
                timeout(clock, self.request_timeout, wait_for_reply).await?
            }
            Transport::Stream { connections } => {
                let result = timeout(clock, self.request_timeout, self.call_stream(connections, server, &body)).await;
                let outcome = result.and_then(|inner| inner);
                if outcome.is_err() {
                    connections.remove(server); // the framing may be out of step
                }
                outcome
            }
        }
    }

    async fn call_stream(
        &self,
        connections: &mut BTreeMap<String, Box<dyn Stream>>,
        server: &str,
        body: &[u8],
    ) -> Result<Option<u64>> {
        if !connections.contains_key(server) {
            let stream = self.env.network.connect(&NetAddr::new(server, STREAM_PORT)).await?;
            connections.insert(server.to_string(), stream);
        }
        let stream = connections.get_mut(server).expect("inserted above");
        write_frame(stream.as_mut(), body).await?;
        let reply = read_frame(stream.as_mut())
            .await?
            .ok_or_else(|| Error::io(rustydb_core::IoErrorKind::ConnectionReset, "closed"))?;
        Ok(decode_reply(&reply).and_then(|(_, slot)| slot))
    }
}

/// The workload: servers, clients and the shared history.
pub struct MirroredLogWorkload {
    options: RunOptions,
    history: History,
}

impl MirroredLogWorkload {
    pub fn new(options: &RunOptions) -> Self {
        MirroredLogWorkload { options: options.clone(), history: Arc::new(Mutex::new(LogHistory::default())) }
    }

    fn server_program(&self, name: String) -> NodeProgram {
        let history = self.history.clone();
        Arc::new(move |env| Box::pin(server_main(env, name.clone(), history.clone())))
    }

    fn client_program(&self, client: u64, servers: Vec<String>) -> NodeProgram {
        let history = self.history.clone();
        let options = self.options.client.clone();
        Arc::new(move |env: Env| {
            let (history, servers, options) = (history.clone(), servers.clone(), options.clone());
            Box::pin(async move {
                for task in 0..options.tasks {
                    let port = CLIENT_PORT_BASE + task as u16;
                    let transport = if task % 2 == 0 {
                        Transport::Datagram { socket: env.network.bind_datagram(port).await? }
                    } else {
                        Transport::Stream { connections: BTreeMap::new() }
                    };
                    let client_loop = ClientLoop {
                        env: env.clone(),
                        history: history.clone(),
                        servers: servers.clone(),
                        id_prefix: (client << 48) | (task << 32),
                        request_timeout: Duration::from_millis(options.request_timeout_ms),
                        retries_max: options.retries_max,
                    };
                    drop(env.spawn("client", client_loop.run(transport)));
                }
                Ok(())
            })
        })
    }
}

impl Workload for MirroredLogWorkload {
    fn install(&self, sim: &mut Simulator) {
        let servers: Vec<String> = (0..self.options.servers).map(|i| format!("server{i}")).collect();
        for name in &servers {
            sim.add_node(name, true, self.server_program(name.clone()));
        }
        for client in 0..self.options.clients {
            sim.add_node(&format!("client{client}"), false, self.client_program(client, servers.clone()));
        }
    }

    fn progress(&self) -> u64 {
        lock(&self.history).acks_total()
    }

    fn recoveries(&self) -> u64 {
        lock(&self.history).recoveries_total()
    }

    fn violation(&self) -> Option<String> {
        lock(&self.history).first_violation().map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn record_round_trips_and_rejects_any_bit_flip(slot in 0u64..1_000_000, request: u64,
                payload in proptest::collection::vec(any::<u8>(), 0..=PAYLOAD_BYTES_MAX), bit in 0usize..512) {
            let bytes = encode_record(slot, request, &payload);
            let decoded = decode_record(slot, &bytes).unwrap();
            prop_assert_eq!(decoded, RecoveredRecord { slot, request, payload: payload.clone() });
            prop_assert!(decode_record(slot + 1, &bytes).is_none());
            let mut flipped = bytes;
            flipped[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(decode_record(slot, &flipped).is_none());
        }
    }
}
