use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

/// Where test streams put their first record. The bytes before it stand in for the stream
/// header, because LSN 0 is never a record.
const STREAM_START: usize = 16;
const HEADER_FILLER: u8 = 0xA5;

fn record(lsn: usize, body: LogBody) -> LogRecord {
    LogRecord { lsn: Lsn(lsn as u64), prev_lsn: Lsn(3), txn: TxnId(42), body }
}

fn slot_insert(data: Vec<u8>) -> PageOp {
    PageOp::SlotInsert { slot: 2, data }
}

/// The record alone, as encoded.
fn frame_of(record: &LogRecord) -> Vec<u8> {
    let mut frame = Vec::new();
    record.encode(&mut frame).expect("test record encodes");
    frame
}

/// A stream holding just `record`, at the offset its LSN names.
fn stream_of(record: &LogRecord) -> Vec<u8> {
    let mut stream = vec![HEADER_FILLER; record.lsn.0 as usize];
    record.encode(&mut stream).expect("test record encodes");
    stream
}

/// Rewrites a frame's length and checksum to match its bytes, so a test can reach the checks
/// made after the checksum.
fn reseal(frame: &mut [u8]) {
    let length = u32::try_from(frame.len()).expect("test frame fits u32");
    frame[0..4].copy_from_slice(&length.to_le_bytes());
    let checksum = crc32fast::hash(&frame[8..]);
    frame[4..8].copy_from_slice(&checksum.to_le_bytes());
}

/// Decodes from `offset` until the log ends, returning the records and how it ended.
fn decode_all(buf: &[u8], offset: usize) -> (Vec<LogRecord>, Decoded) {
    let mut records = Vec::new();
    let mut offset = offset;
    // Each record is at least HEADER_BYTES long, so this bound is never reached by a correct decoder.
    for _ in 0..=buf.len() / HEADER_BYTES + 1 {
        match decode_next(buf, offset) {
            Decoded::Record(record, next_offset) => {
                assert!(next_offset >= offset + HEADER_BYTES, "decoding must move forward");
                records.push(record);
                offset = next_offset;
            }
            end => return (records, end),
        }
    }
    panic!("decode_next returned more records than the buffer can hold");
}

fn torn_reason(buf: &[u8], offset: usize) -> TornReason {
    match decode_next(buf, offset) {
        Decoded::TornTail { offset: torn_offset, reason } => {
            assert_eq!(torn_offset, offset);
            reason
        }
        other => panic!("expected a torn tail at {offset}, got {other:?}"),
    }
}

fn example_bodies() -> Vec<LogBody> {
    let page = PageId(9);
    let write = PageOp::WriteBytes { offset: 100, before: vec![1, 2, 3], after: vec![4, 5, 6] };
    vec![
        LogBody::Begin,
        LogBody::Commit,
        LogBody::Abort,
        LogBody::End,
        LogBody::Update { file: 1, page, op: PageOp::Format { page_type: 7 } },
        LogBody::Update { file: 1, page, op: write.clone() },
        LogBody::Update { file: 1, page, op: slot_insert(b"row".to_vec()) },
        LogBody::Update { file: 1, page, op: PageOp::SlotDelete { slot: 0, before: b"old".to_vec() } },
        LogBody::Update { file: 1, page, op: PageOp::SlotUpdate { slot: 5, before: vec![1], after: vec![2, 3] } },
        LogBody::Update { file: 1, page, op: slot_insert(Vec::new()) },
        LogBody::Clr { file: 2, page, op: write, undo_next_lsn: Lsn(2) },
        LogBody::CheckpointBegin,
        LogBody::CheckpointEnd { dirty_pages: Vec::new(), active_txns: Vec::new() },
        LogBody::CheckpointEnd {
            dirty_pages: vec![(1, PageId(4), Lsn(5)), (2, PageId(u64::MAX), Lsn(0))],
            active_txns: vec![
                (TxnId(1), TxnStatus::Active, Lsn(7)),
                (TxnId(2), TxnStatus::Committed, Lsn(8)),
                (TxnId(3), TxnStatus::Aborting, Lsn(9)),
            ],
        },
        LogBody::PageImage { file: 1, page, page_type: 3, body: vec![7; 4036] },
        LogBody::Update { file: 3, page, op: PageOp::MapSet { bit: 9 } },
        LogBody::Update { file: 3, page, op: PageOp::MapClear { bit: u16::MAX } },
        LogBody::Update { file: 3, page, op: PageOp::SetPageType { before: 4, after: 5 } },
        LogBody::Update { file: 3, page, op: PageOp::EntryInsert { index: 2, entry: vec![1, 2, 3] } },
        LogBody::Update { file: 3, page, op: PageOp::EntryDelete { index: 0, entry: Vec::new() } },
        LogBody::Update { file: 3, page, op: PageOp::EntriesRemoveTail { from: 4, entries: vec![vec![1], vec![]] } },
        LogBody::Update { file: 3, page, op: PageOp::EntriesAppend { at: 0, entries: Vec::new() } },
    ]
}

#[test]
fn every_record_type_round_trips() {
    for body in example_bodies() {
        let original = record(STREAM_START, body);
        let stream = stream_of(&original);
        assert_eq!(decode_next(&stream, STREAM_START), Decoded::Record(original.clone(), stream.len()), "{original:?}");
        assert_eq!(decode_next(&stream, stream.len()), Decoded::End);
    }
}

#[test]
fn encoded_sizes_follow_the_layout() {
    let page = PageId(1);
    let cases = [
        (LogBody::Begin, HEADER_BYTES),
        (LogBody::Update { file: 1, page, op: PageOp::MapSet { bit: 1 } }, HEADER_BYTES + 12 + 3),
        (LogBody::Update { file: 1, page, op: PageOp::Format { page_type: 1 } }, HEADER_BYTES + 12 + 2),
        (LogBody::Update { file: 1, page, op: slot_insert(vec![0; 10]) }, HEADER_BYTES + 12 + 1 + 2 + 2 + 10),
        (
            LogBody::Clr {
                file: 1,
                page,
                op: PageOp::WriteBytes { offset: 0, before: vec![1; 4], after: vec![2; 4] },
                undo_next_lsn: Lsn(1),
            },
            HEADER_BYTES + 12 + 8 + 1 + 2 + 2 + 4 + 4,
        ),
        (
            LogBody::CheckpointEnd {
                dirty_pages: vec![(1, page, Lsn(1)); 3],
                active_txns: vec![(TxnId(1), TxnStatus::Active, Lsn(1)); 2],
            },
            HEADER_BYTES + 4 + 3 * DIRTY_PAGE_ENTRY_BYTES + 4 + 2 * ACTIVE_TXN_ENTRY_BYTES,
        ),
    ];
    for (body, expected_bytes) in cases {
        assert_eq!(frame_of(&record(STREAM_START, body.clone())).len(), expected_bytes, "{body:?}");
    }
}

#[test]
fn header_bytes_are_little_endian_in_documented_order() {
    let original = LogRecord { lsn: Lsn(0x1122), prev_lsn: Lsn(0x33), txn: TxnId(0x0102_0304), body: LogBody::Commit };
    let frame = frame_of(&original);
    let mut expected = Vec::new();
    expected.extend_from_slice(&33u32.to_le_bytes());
    expected.extend_from_slice(&crc32fast::hash(&frame[8..]).to_le_bytes());
    expected.extend_from_slice(&0x1122u64.to_le_bytes());
    expected.extend_from_slice(&0x33u64.to_le_bytes());
    expected.extend_from_slice(&0x0102_0304u64.to_le_bytes());
    expected.push(TAG_COMMIT);
    assert_eq!(frame, expected);
}

#[test]
fn undo_inverts_each_page_op() {
    let insert = slot_insert(b"abc".to_vec());
    let delete = PageOp::SlotDelete { slot: 2, before: b"abc".to_vec() };
    assert_eq!(insert.undo(), Some(delete.clone()));
    assert_eq!(delete.undo(), Some(insert));
    let update = PageOp::SlotUpdate { slot: 1, before: vec![1], after: vec![2] };
    assert_eq!(update.undo(), Some(PageOp::SlotUpdate { slot: 1, before: vec![2], after: vec![1] }));
    let write = PageOp::WriteBytes { offset: 8, before: vec![1, 1], after: vec![2, 2] };
    assert_eq!(write.undo(), Some(PageOp::WriteBytes { offset: 8, before: vec![2, 2], after: vec![1, 1] }));
    assert_eq!(PageOp::Format { page_type: 3 }.undo(), None);
}

#[test]
fn record_of_exactly_the_limit_encodes_and_one_byte_more_does_not() {
    // Header, file and page, op tag, position and count; then strings of 2 + 60,000 bytes and a
    // last one that makes up the rest.
    let overhead_bytes = HEADER_BYTES + 12 + 1 + 2 + 2;
    let body = |extra: usize| {
        let mut entries = Vec::new();
        let mut left = MAX_RECORD_BYTES - overhead_bytes + extra;
        while left > 0 {
            let length = (left - 2).min(60_000);
            entries.push(vec![7; length]);
            left -= 2 + length;
        }
        LogBody::Update { file: 1, page: PageId(1), op: PageOp::EntriesAppend { at: 0, entries } }
    };
    let at_limit = record(STREAM_START, body(0));
    let stream = stream_of(&at_limit);
    assert_eq!(stream.len() - STREAM_START, MAX_RECORD_BYTES);
    assert_eq!(decode_next(&stream, STREAM_START), Decoded::Record(at_limit, stream.len()));

    let over_limit = record(STREAM_START, body(1));
    let mut out = vec![1, 2, 3];
    assert!(matches!(over_limit.encode(&mut out), Err(Error::InvalidInput(_))));
    assert_eq!(out, [1, 2, 3], "a failed encode leaves the buffer as it was");
}

#[test]
fn oversized_strings_and_checkpoints_are_refused() {
    let huge_string =
        record(STREAM_START, LogBody::Update { file: 1, page: PageId(1), op: slot_insert(vec![0; 70_000]) });
    let huge_checkpoint = record(
        STREAM_START,
        LogBody::CheckpointEnd { dirty_pages: vec![(1, PageId(1), Lsn(1)); 14_000], active_txns: Vec::new() },
    );
    for oversized in [huge_string, huge_checkpoint] {
        let mut out = Vec::new();
        assert!(matches!(oversized.encode(&mut out), Err(Error::InvalidInput(_))));
        assert!(out.is_empty());
    }
}

#[test]
fn records_the_decoder_would_refuse_are_refused_at_encode() {
    let page = PageId(1);
    let zero_lsn = LogRecord { lsn: Lsn::ZERO, prev_lsn: Lsn::ZERO, txn: TxnId(1), body: LogBody::Begin };
    let prev_not_before = LogRecord { prev_lsn: Lsn(STREAM_START as u64), ..record(STREAM_START, LogBody::Commit) };
    let clr_forward = record(
        STREAM_START,
        LogBody::Clr { file: 1, page, op: PageOp::Format { page_type: 1 }, undo_next_lsn: Lsn(99) },
    );
    let checkpoint_forward = record(
        STREAM_START,
        LogBody::CheckpointEnd { dirty_pages: Vec::new(), active_txns: vec![(TxnId(1), TxnStatus::Active, Lsn(17))] },
    );
    let unequal_halves = record(
        STREAM_START,
        LogBody::Update { file: 1, page, op: PageOp::WriteBytes { offset: 0, before: vec![1], after: vec![1, 2] } },
    );
    for refused in [zero_lsn, prev_not_before, clr_forward, checkpoint_forward, unequal_halves] {
        let mut out = vec![9];
        assert!(matches!(refused.encode(&mut out), Err(Error::InvalidInput(_))), "{refused:?}");
        assert_eq!(out, [9]);
    }
}

#[test]
fn empty_buffer_and_zero_padding_are_a_clean_end() {
    assert_eq!(decode_next(&[], 0), Decoded::End);
    assert_eq!(decode_next(&[0; 3], 0), Decoded::End);
    assert_eq!(decode_next(&[0; 100], 0), Decoded::End);
    let mut stream = stream_of(&record(STREAM_START, LogBody::Begin));
    let end_offset = stream.len();
    stream.resize(end_offset + 4096, 0);
    assert_eq!(decode_next(&stream, end_offset), Decoded::End);
}

#[test]
fn bad_lengths_are_torn_tails() {
    assert_eq!(torn_reason(&[0; 4], 5), TornReason::OffsetPastEnd { buffer_bytes: 4 });
    assert_eq!(torn_reason(&[0, 1, 0], 0), TornReason::LengthFieldCut { bytes_left: 3 });
    assert_eq!(torn_reason(&[0, 0, 0, 0, 1], 0), TornReason::LengthImpossible { length: 0 });
    assert_eq!(torn_reason(&[32, 0, 0, 0], 0), TornReason::LengthImpossible { length: 32 });
    let too_long = u32::try_from(MAX_RECORD_BYTES + 1).expect("limit fits u32");
    assert_eq!(torn_reason(&too_long.to_le_bytes(), 0), TornReason::LengthImpossible { length: too_long });
    let stream = stream_of(&record(STREAM_START, LogBody::Begin));
    let cut = &stream[..stream.len() - 1];
    assert_eq!(torn_reason(cut, STREAM_START), TornReason::LengthPastEnd { length: 33, bytes_left: 32 });
}

#[test]
fn changed_bytes_fail_the_checksum() {
    let mut stream =
        stream_of(&record(STREAM_START, LogBody::Update { file: 1, page: PageId(2), op: slot_insert(vec![1; 8]) }));
    let last = stream.len() - 1;
    stream[last] ^= 0x40;
    assert!(matches!(torn_reason(&stream, STREAM_START), TornReason::ChecksumMismatch { .. }));
}

#[test]
fn a_record_found_away_from_its_lsn_is_refused() {
    let original = record(STREAM_START, LogBody::Commit);
    let frame = frame_of(&original);
    let mut moved = vec![HEADER_FILLER; STREAM_START + 8];
    moved.extend_from_slice(&frame);
    assert_eq!(torn_reason(&moved, STREAM_START + 8), TornReason::LsnMismatch { lsn: Lsn(STREAM_START as u64) });

    // A record at stream byte 0 cannot be told from "no record", so it is never accepted.
    let mut at_zero = frame.clone();
    at_zero[8..16].copy_from_slice(&0u64.to_le_bytes());
    reseal(&mut at_zero);
    assert_eq!(torn_reason(&at_zero, 0), TornReason::LsnMismatch { lsn: Lsn::ZERO });
}

/// A Begin frame at STREAM_START with `body` in place of its (empty) body, resealed.
fn checksummed_frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut frame = vec![HEADER_FILLER; STREAM_START];
    frame.extend_from_slice(&frame_of(&record(STREAM_START, LogBody::Begin))[..HEADER_BYTES - 1]);
    frame.push(tag);
    frame.extend_from_slice(body);
    reseal(&mut frame[STREAM_START..]);
    frame
}

#[test]
fn checksummed_but_malformed_bodies_are_torn_tails() {
    let page_fields = [1u8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0];
    let mut unknown_op = page_fields.to_vec();
    unknown_op.push(0);
    let mut bad_status = vec![0, 0, 0, 0, 1, 0, 0, 0];
    bad_status.extend_from_slice(&[5; 8]);
    bad_status.push(9);
    bad_status.extend_from_slice(&[1; 8]);
    let mut huge_count = vec![0xFF; 4];
    huge_count.extend_from_slice(&[0; 8]);
    let cases = [
        (0, Vec::new(), TornReason::UnknownBodyTag { tag: 0 }),
        (11, Vec::new(), TornReason::UnknownBodyTag { tag: 11 }),
        (TAG_UPDATE, unknown_op, TornReason::UnknownPageOpTag { tag: 0 }),
        (TAG_CHECKPOINT_END, bad_status, TornReason::UnknownTxnStatus { status: 9 }),
        (TAG_CHECKPOINT_END, huge_count, TornReason::FieldPastRecordEnd),
        (TAG_PAGE_IMAGE, page_fields[..11].to_vec(), TornReason::FieldPastRecordEnd),
        (TAG_COMMIT, vec![0], TornReason::TrailingBytes { count: 1 }),
    ];
    for (tag, body, expected) in cases {
        assert_eq!(torn_reason(&checksummed_frame(tag, &body), STREAM_START), expected, "tag {tag}");
    }
}

#[test]
fn checksummed_forward_pointers_are_torn_tails() {
    let mut stream = stream_of(&record(STREAM_START, LogBody::Abort));
    stream[STREAM_START + 16..STREAM_START + 24].copy_from_slice(&(STREAM_START as u64).to_le_bytes());
    reseal(&mut stream[STREAM_START..]);
    assert_eq!(
        torn_reason(&stream, STREAM_START),
        TornReason::PointerNotBackward { pointer: Lsn(STREAM_START as u64) }
    );
}

#[test]
fn torn_reasons_read_as_sentences() {
    let reason = TornReason::LengthPastEnd { length: 40, bytes_left: 3 };
    assert_eq!(reason.to_string(), "record length 40 runs past the 3 bytes left");
}

// ---- Property tests ----

fn byte_string() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..48)
}

fn page_op() -> impl Strategy<Value = PageOp> {
    let equal_halves = (0..48usize).prop_flat_map(|length| (vec(any::<u8>(), length), vec(any::<u8>(), length)));
    prop_oneof![
        any::<u8>().prop_map(|page_type| PageOp::Format { page_type }),
        (any::<u16>(), equal_halves).prop_map(|(offset, (before, after))| PageOp::WriteBytes { offset, before, after }),
        (any::<u16>(), byte_string()).prop_map(|(slot, data)| PageOp::SlotInsert { slot, data }),
        (any::<u16>(), byte_string()).prop_map(|(slot, before)| PageOp::SlotDelete { slot, before }),
        (any::<u16>(), byte_string(), byte_string()).prop_map(|(slot, before, after)| PageOp::SlotUpdate {
            slot,
            before,
            after
        }),
        (any::<u16>(), byte_string()).prop_map(|(index, entry)| PageOp::EntryInsert { index, entry }),
        (any::<u16>(), byte_string()).prop_map(|(index, entry)| PageOp::EntryDelete { index, entry }),
        (any::<u16>(), vec(byte_string(), 0..5))
            .prop_map(|(from, entries)| PageOp::EntriesRemoveTail { from, entries }),
        (any::<u16>(), vec(byte_string(), 0..5)).prop_map(|(at, entries)| PageOp::EntriesAppend { at, entries }),
        any::<u16>().prop_map(|bit| PageOp::MapSet { bit }),
        any::<u16>().prop_map(|bit| PageOp::MapClear { bit }),
        (any::<u8>(), any::<u8>()).prop_map(|(before, after)| PageOp::SetPageType { before, after }),
    ]
}

fn txn_status() -> impl Strategy<Value = TxnStatus> {
    prop_oneof![Just(TxnStatus::Active), Just(TxnStatus::Committed), Just(TxnStatus::Aborting)]
}

fn log_body() -> impl Strategy<Value = LogBody> {
    let page = || any::<u64>().prop_map(PageId);
    let lsn = || any::<u64>().prop_map(Lsn);
    let dirty_pages = vec((any::<u32>(), page(), lsn()), 0..6);
    let active_txns = vec((any::<u64>().prop_map(TxnId), txn_status(), lsn()), 0..6);
    prop_oneof![
        Just(LogBody::Begin),
        Just(LogBody::Commit),
        Just(LogBody::Abort),
        Just(LogBody::End),
        (any::<u32>(), page(), page_op()).prop_map(|(file, page, op)| LogBody::Update { file, page, op }),
        (any::<u32>(), page(), page_op(), lsn()).prop_map(|(file, page, op, undo_next_lsn)| LogBody::Clr {
            file,
            page,
            op,
            undo_next_lsn
        }),
        Just(LogBody::CheckpointBegin),
        (any::<u32>(), page(), any::<u8>(), byte_string())
            .prop_map(|(file, page, page_type, body)| LogBody::PageImage { file, page, page_type, body }),
        (dirty_pages, active_txns)
            .prop_map(|(dirty_pages, active_txns)| LogBody::CheckpointEnd { dirty_pages, active_txns }),
    ]
}

/// Any record. Its LSNs are arbitrary: [`place`] makes them valid for a position in a stream.
fn log_record() -> impl Strategy<Value = LogRecord> {
    (any::<u64>(), any::<u64>(), any::<u64>(), log_body()).prop_map(|(lsn, prev_lsn, txn, body)| LogRecord {
        lsn: Lsn(lsn),
        prev_lsn: Lsn(prev_lsn),
        txn: TxnId(txn),
        body,
    })
}

/// Gives `record` the LSN `offset` and pulls every LSN it carries below that.
fn place(mut record: LogRecord, offset: usize) -> LogRecord {
    let lsn = offset as u64;
    let below = |pointer: &mut Lsn| pointer.0 %= lsn;
    record.lsn = Lsn(lsn);
    below(&mut record.prev_lsn);
    match &mut record.body {
        LogBody::Clr { undo_next_lsn, .. } => below(undo_next_lsn),
        LogBody::CheckpointEnd { dirty_pages, active_txns } => {
            dirty_pages.iter_mut().for_each(|(_, _, recovery_lsn)| below(recovery_lsn));
            active_txns.iter_mut().for_each(|(_, _, last_lsn)| below(last_lsn));
        }
        _ => {}
    }
    record
}

#[derive(Debug, Clone)]
struct Stream {
    bytes: Vec<u8>,
    records: Vec<LogRecord>,
    /// Where each record starts; one more entry than records, the stream's end.
    offsets: Vec<usize>,
}

/// A log stream of records laid end to end, each with LSN = its offset.
fn log_stream() -> impl Strategy<Value = Stream> {
    vec(log_record(), 1..8).prop_map(|unplaced| {
        let mut stream = Stream { bytes: vec![HEADER_FILLER; STREAM_START], records: Vec::new(), offsets: Vec::new() };
        for record in unplaced {
            let placed = place(record, stream.bytes.len());
            stream.offsets.push(stream.bytes.len());
            placed.encode(&mut stream.bytes).expect("generated records fit the limit");
            stream.records.push(placed);
        }
        stream.offsets.push(stream.bytes.len());
        stream
    })
}

/// A body tag and fields to seal under a valid checksum: random bytes, or a valid record's fields
/// with one byte perhaps changed, so the parser's checks behind the checksum are reached.
fn checksummed_body() -> impl Strategy<Value = (u8, Vec<u8>)> {
    let random = (0..12u8, vec(any::<u8>(), 0..64));
    let near_valid = (log_record(), any::<prop::sample::Index>(), any::<u8>(), any::<bool>()).prop_map(
        |(record, position, value, change)| {
            let record = place(record, STREAM_START);
            let mut fields = Vec::new();
            record.body.encode_fields(&mut fields).expect("generated bodies fit the limit");
            if change && !fields.is_empty() {
                let changed_at = position.index(fields.len());
                fields[changed_at] = value;
            }
            (record.body.tag(), fields)
        },
    );
    prop_oneof![random, near_valid]
}

proptest! {
    #[test]
    fn undo_of_undo_is_the_op(op in page_op()) {
        match op.undo() {
            Some(inverse) => prop_assert_eq!(inverse.undo(), Some(op)),
            None => prop_assert!(matches!(op, PageOp::Format { .. }), "only Format has no undo"),
        }
    }

    #[test]
    fn a_stream_decodes_to_its_records(stream in log_stream()) {
        let (records, end) = decode_all(&stream.bytes, STREAM_START);
        prop_assert_eq!(records, stream.records);
        prop_assert_eq!(end, Decoded::End);
    }

    #[test]
    fn zero_padding_after_a_stream_is_a_clean_end(stream in log_stream(), padding_bytes in 0..600usize) {
        let mut padded = stream.bytes.clone();
        padded.resize(padded.len() + padding_bytes, 0);
        let (records, end) = decode_all(&padded, STREAM_START);
        prop_assert_eq!(records, stream.records);
        prop_assert_eq!(end, Decoded::End);
    }

    #[test]
    fn a_cut_stream_yields_the_whole_records_before_the_cut(
        stream in log_stream(),
        cut in any::<prop::sample::Index>(),
    ) {
        let cut_at = STREAM_START + cut.index(stream.bytes.len() - STREAM_START + 1);
        let (records, end) = decode_all(&stream.bytes[..cut_at], STREAM_START);
        let whole_count = stream.offsets[1..].iter().filter(|end_offset| **end_offset <= cut_at).count();
        prop_assert_eq!(&records[..], &stream.records[..whole_count]);
        let cut_record_start = stream.offsets[whole_count];
        match end {
            // A cut inside a length field whose surviving bytes are zero looks like padding.
            Decoded::End => {
                prop_assert!(stream.bytes[cut_record_start..cut_at].iter().all(|byte| *byte == 0));
            }
            Decoded::TornTail { offset, .. } => prop_assert_eq!(offset, cut_record_start),
            Decoded::Record(..) => prop_assert!(false, "decode_all stops only at End or TornTail"),
        }
    }

    #[test]
    fn a_flipped_bit_stops_decoding_at_its_record(
        stream in log_stream(),
        record_choice in any::<prop::sample::Index>(),
        bit_choice in any::<prop::sample::Index>(),
    ) {
        let damaged = record_choice.index(stream.records.len());
        let (start, end) = (stream.offsets[damaged], stream.offsets[damaged + 1]);
        let bit = bit_choice.index((end - start) * 8);
        let mut bytes = stream.bytes.clone();
        bytes[start + bit / 8] ^= 1 << (bit % 8);
        let (records, end) = decode_all(&bytes, STREAM_START);
        prop_assert_eq!(&records[..], &stream.records[..damaged]);
        prop_assert!(matches!(end, Decoded::TornTail { offset, .. } if offset == start), "{:?}", end);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512), offset in 0..600usize) {
        let _ = decode_all(&bytes, offset);
    }

    #[test]
    fn a_checksummed_record_decodes_only_to_its_own_encoding((tag, body) in checksummed_body()) {
        let buf = checksummed_frame(tag, &body);
        match decode_next(&buf, STREAM_START) {
            Decoded::Record(decoded, next_offset) => {
                prop_assert_eq!(next_offset, buf.len());
                prop_assert_eq!(frame_of(&decoded), &buf[STREAM_START..]);
            }
            Decoded::TornTail { offset, .. } => prop_assert_eq!(offset, STREAM_START),
            Decoded::End => prop_assert!(false, "a nonzero frame is never the end"),
        }
    }
}
