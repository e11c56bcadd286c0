//! Live voice on a loudspeaker: the chunks of a live emergency, taken only
//! when they are the hub's own and belong to the stream the device airs.
//!
//! A live entry in the plan ([`Part::Live`](hub_proto::Part::Live)) waits
//! for its stream like an emergency waits for its file: the device starts
//! the airing at the first chunk that verifies, plays what arrives, skips
//! over chunks that never came, and finishes at the chunk that ends the
//! stream (or when the hub stops it, or its slot ends). Every chunk is
//! counted: taken, lost, or refused by reason; a refused chunk changes
//! nothing and is not reported (anyone can publish on the broker, and one
//! forged publish must not make a commune answer).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hub_proto::live::{LiveGuard, VerifiedChunks};
use hub_proto::Message;
use tracing::debug;

use crate::player::Player;

/// What a device did with live chunks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveCounters {
    /// Chunks taken (verified, of the stream aired, in order).
    pub chunks: u64,
    /// Opus packets in the chunks taken: 20 ms of sound each.
    pub packets: u64,
    /// Chunks of a stream that never arrived (gaps in the numbering).
    pub lost: u64,
    /// Chunks refused, by [`hub_proto::live::LiveRefusal::code`].
    pub refused: BTreeMap<&'static str, u64>,
}

/// A loudspeaker's ear for live chunks.
pub struct LiveListener {
    guard: LiveGuard,
}

impl LiveListener {
    /// Takes the chunks `guard` lets through (it holds the hub's key).
    pub fn new(guard: LiveGuard) -> Self {
        Self { guard }
    }

    /// Shares signature checks with the other listeners holding `verified`
    /// (a fleet: one verification per chunk, not one per device).
    pub fn sharing(self, verified: VerifiedChunks) -> Self {
        Self {
            guard: self.guard.sharing(verified),
        }
    }

    /// Takes one chunk payload from the downlink topic at the device's time
    /// `now`: the proof of play it causes (the airing started, or finished).
    pub fn take(
        &mut self,
        device: &str,
        payload: &[u8],
        player: &mut Player,
        counters: &mut LiveCounters,
        now: DateTime<Utc>,
    ) -> Vec<Message> {
        match self.guard.check(payload, player.listening(now)) {
            Ok(accepted) => {
                counters.chunks += 1;
                counters.lost += accepted.lost;
                counters.packets += accepted.chunk.packets.len() as u64;
                let chunk = accepted.chunk;
                player.hear_live(&chunk.stream, chunk.end, now)
            }
            Err(refusal) => {
                debug!(device, reason = %refusal, "live chunk refused");
                *counters.refused.entry(refusal.code()).or_default() += 1;
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use hub_proto::live::LiveChunk;
    use hub_proto::{Class, CommandSigner, Directive, Outcome, Part, PlanEntry, PROTOCOL_VERSION};

    use super::*;

    fn at(hms: &str) -> DateTime<Utc> {
        format!("2026-11-23T{hms}Z").parse().unwrap()
    }

    fn entry(bulletin: &str, class: Class, part: Part, start: &str, end: &str) -> PlanEntry {
        serde_json::from_value(serde_json::json!({
            "bulletin": bulletin, "occurrence": 0, "language": "vi",
            "class": class, "part": part, "start": at(start), "end": at(end),
        }))
        .unwrap()
    }

    fn chunk(seq: u64, end: bool) -> LiveChunk {
        LiveChunk {
            v: PROTOCOL_VERSION,
            stream: "live-1".into(),
            seq,
            position_ms: (seq - 1) * 200,
            packets: vec![vec![0xf8, 0xff, 0xfe]; 10],
            end,
        }
    }

    /// A loudspeaker playing a priority bulletin when the live emergency
    /// is planned from 10:01 to 10:11.
    fn setup() -> (CommandSigner, LiveListener, Player) {
        let signer = CommandSigner::new(SigningKey::from_bytes(&[7; 32]));
        let listener = LiveListener::new(LiveGuard::new(signer.verifying_key()));
        let mut player = Player::new();
        let plan = vec![
            entry("tin", Class::Priority, Part::Audio, "10:00:00", "10:01:00"),
            entry(
                "live-1",
                Class::Emergency,
                Part::Live,
                "10:01:00",
                "10:11:00",
            ),
        ];
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        player.apply(
            Directive::Schedule {
                date,
                entries: plan,
            },
            at("10:00:00"),
        );
        assert_eq!(player.playing().unwrap().bulletin, "tin");
        (signer, listener, player)
    }

    fn outcomes(messages: &[Message]) -> Vec<(String, Outcome)> {
        messages
            .iter()
            .filter_map(|m| match m {
                Message::Played {
                    airing, outcome, ..
                } => Some((airing.bulletin.clone(), *outcome)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_airing_starts_at_the_first_verified_chunk_and_finishes_at_the_last() {
        let (signer, mut listener, mut player) = setup();
        let mut counters = LiveCounters::default();
        // The bulletin ends; the live entry is due but nothing was heard
        // yet, so nothing starts.
        let ended = player.advance(at("10:01:00"));
        assert_eq!(outcomes(&ended), [("tin".into(), Outcome::Finished)]);
        assert_eq!(player.playing(), None);
        assert_eq!(player.listening(at("10:01:00")), Some("live-1"));

        let first = signer.sign_chunk(&chunk(1, false));
        let started = listener.take("d", &first, &mut player, &mut counters, at("10:01:02"));
        assert_eq!(outcomes(&started), [("live-1".into(), Outcome::Started)]);
        assert_eq!(player.timeline().last().unwrap().start, at("10:01:02"));

        // Chunks 2 and 3 are lost; 4 plays on; the end finishes.
        let fourth = signer.sign_chunk(&chunk(4, false));
        assert!(listener
            .take("d", &fourth, &mut player, &mut counters, at("10:01:03"))
            .is_empty());
        let last = signer.sign_chunk(&chunk(5, true));
        let finished = listener.take("d", &last, &mut player, &mut counters, at("10:01:04"));
        assert_eq!(outcomes(&finished), [("live-1".into(), Outcome::Finished)]);
        assert_eq!(
            (counters.chunks, counters.lost, counters.packets),
            (3, 2, 30)
        );
        assert_eq!(player.listening(at("10:01:05")), None, "the stream is over");
        let after = listener.take("d", &first, &mut player, &mut counters, at("10:01:05"));
        assert!(after.is_empty());
        assert_eq!(counters.refused.get("out_of_stream"), Some(&1));
    }

    #[test]
    fn forged_replayed_and_early_chunks_change_nothing() {
        let (signer, mut listener, mut player) = setup();
        let mut counters = LiveCounters::default();
        // Before the live entry is due, even a genuine chunk is not taken.
        let early = signer.sign_chunk(&chunk(1, false));
        assert!(listener
            .take("d", &early, &mut player, &mut counters, at("10:00:30"))
            .is_empty());
        assert_eq!(player.playing().unwrap().bulletin, "tin");

        let intruder = CommandSigner::new(SigningKey::from_bytes(&[9; 32]));
        let forged = intruder.sign_chunk(&chunk(2, false));
        player.advance(at("10:01:00"));
        assert!(listener
            .take("d", &forged, &mut player, &mut counters, at("10:01:01"))
            .is_empty());
        assert_eq!(player.playing(), None, "a forged chunk starts nothing");

        let genuine = signer.sign_chunk(&chunk(2, false));
        assert_eq!(
            outcomes(&listener.take("d", &genuine, &mut player, &mut counters, at("10:01:02"))),
            [("live-1".into(), Outcome::Started)]
        );
        assert!(listener
            .take("d", &genuine, &mut player, &mut counters, at("10:01:03"))
            .is_empty());
        let refused: Vec<_> = counters.refused.keys().copied().collect();
        assert_eq!(refused, ["bad_signature", "out_of_stream", "replayed"]);
        assert_eq!(counters.chunks, 1);
    }

    #[test]
    fn listeners_sharing_checks_still_refuse_a_forged_chunk_numbered_as_a_genuine_one() {
        let (signer, first, mut first_player) = setup();
        let (_, second, mut second_player) = setup();
        let verified = VerifiedChunks::default();
        let (mut first, mut second) = (
            first.sharing(verified.clone()),
            second.sharing(verified.clone()),
        );
        let mut counters = LiveCounters::default();
        first_player.advance(at("10:01:00"));
        second_player.advance(at("10:01:00"));
        let genuine = signer.sign_chunk(&chunk(1, false));
        let now = at("10:01:01");
        for (listener, player) in [
            (&mut first, &mut first_player),
            (&mut second, &mut second_player),
        ] {
            let started = listener.take("d", &genuine, player, &mut counters, now);
            assert_eq!(outcomes(&started), [("live-1".into(), Outcome::Started)]);
        }
        assert_eq!(verified.len(), 1, "verified once for both");

        // Chunk 2 ends the stream on the first device; a forged chunk 2
        // (the same number, other bytes) ends nothing on the second.
        let intruder = CommandSigner::new(SigningKey::from_bytes(&[9; 32]));
        let forged = intruder.sign_chunk(&chunk(2, true));
        let genuine_end = signer.sign_chunk(&chunk(2, true));
        let now = at("10:01:02");
        let finished = first.take("d", &genuine_end, &mut first_player, &mut counters, now);
        assert_eq!(outcomes(&finished), [("live-1".into(), Outcome::Finished)]);
        assert!(second
            .take("d", &forged, &mut second_player, &mut counters, now)
            .is_empty());
        assert_eq!(counters.refused.get("bad_signature"), Some(&1));
        assert_eq!(second_player.playing().unwrap().bulletin, "live-1");
    }

    #[test]
    fn a_stream_never_heard_fails_when_its_slot_ends() {
        let (_, _, mut player) = setup();
        player.advance(at("10:01:00"));
        let over = player.advance(at("10:11:00"));
        assert_eq!(outcomes(&over), [("live-1".into(), Outcome::Failed)]);
    }
}
