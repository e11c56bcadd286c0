//! Grouping a stream's packets into chunks: a chunk goes out when it holds
//! [`CHUNK_PACKETS`] packets (200 ms of speech), or earlier when the relay
//! flushes it because packets stopped coming for a moment, so a pause never
//! holds back what was said before it. Pure: the relay decides when.

use hub_proto::live::{LiveChunk, PACKET_MS};
use hub_proto::PROTOCOL_VERSION;

/// Packets per chunk: 200 ms. Shorter chunks mean less delay and more
/// publishes (one per targeted commune each); at 24 kbit/s a chunk is
/// about 600 bytes of audio.
pub const CHUNK_PACKETS: usize = 10;

/// The chunks of one stream, numbered from 1.
pub struct Chunker {
    stream: String,
    /// Packets waiting for the next chunk.
    pending: Vec<Vec<u8>>,
    next_seq: u64,
    /// Packets put in chunks so far.
    packets: u64,
}

impl Chunker {
    pub fn new(stream: impl Into<String>) -> Self {
        Self {
            stream: stream.into(),
            pending: Vec::with_capacity(CHUNK_PACKETS),
            next_seq: 1,
            packets: 0,
        }
    }

    /// Adds a checked packet; the chunk it completes, if it does.
    pub fn push(&mut self, packet: Vec<u8>) -> Option<LiveChunk> {
        self.pending.push(packet);
        (self.pending.len() >= CHUNK_PACKETS).then(|| self.take(false))
    }

    /// Whether packets wait for a chunk.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The waiting packets as a chunk now, if there are any.
    pub fn flush(&mut self) -> Option<LiveChunk> {
        self.has_pending().then(|| self.take(false))
    }

    /// The last chunk: the waiting packets, possibly none, marked as the end.
    pub fn finish(&mut self) -> LiveChunk {
        self.take(true)
    }

    /// Chunks made so far.
    pub fn chunks(&self) -> u64 {
        self.next_seq - 1
    }

    fn take(&mut self, end: bool) -> LiveChunk {
        let packets = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK_PACKETS));
        let chunk = LiveChunk {
            v: PROTOCOL_VERSION,
            stream: self.stream.clone(),
            seq: self.next_seq,
            position_ms: self.packets * PACKET_MS,
            packets,
            end,
        };
        self.next_seq += 1;
        self.packets += chunk.packets.len() as u64;
        chunk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_chunks_go_out_numbered_with_their_position() {
        let mut chunker = Chunker::new("live-1");
        let mut made = Vec::new();
        for i in 0..25u8 {
            made.extend(chunker.push(vec![i]));
        }
        assert_eq!(made.len(), 2);
        assert_eq!((made[0].seq, made[0].position_ms), (1, 0));
        assert_eq!((made[1].seq, made[1].position_ms), (2, 200));
        assert_eq!(made[1].packets[0], vec![10]);
        assert!(made.iter().all(|c| !c.end && c.stream == "live-1"));
        assert!(chunker.has_pending());
        let flushed = chunker.flush().unwrap();
        assert_eq!((flushed.seq, flushed.packets.len()), (3, 5));
        assert_eq!(chunker.flush(), None, "nothing waits");
        let last = chunker.finish();
        assert!(last.end && last.packets.is_empty());
        assert_eq!((last.seq, last.position_ms), (4, 500));
        assert_eq!(chunker.chunks(), 4);
    }
}
