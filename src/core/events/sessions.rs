//! Sessions: a key's events split where more than `gap` passes between two of them.

use super::{Event, SortedLog};

/// One session of one key.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub key: u32,
    /// 1, 2, ... within the key.
    pub number: u64,
    pub start: i64,
    pub end: i64,
    pub events: u64,
    /// Name ids of the first and last event by (ts, name); NO_NAME for NULL.
    pub first_name: u32,
    pub last_name: u32,
}

/// The sessions of one key's events (sorted by time): a session starts at the first
/// event and at every event more than `gap` microseconds after the one before.
pub fn split(events: &[Event], gap: i64) -> impl Iterator<Item = &[Event]> + '_ {
    events.chunk_by(move |a, b| i128::from(b.ts) - i128::from(a.ts) <= i128::from(gap))
}

pub fn sessions(log: &SortedLog, gap: i64, interrupt: &mut dyn FnMut()) -> Vec<Session> {
    let mut sessions = Vec::new();
    for (done, events) in log.by_key().enumerate() {
        if done % 4096 == 0 {
            interrupt();
        }
        for (number, session) in split(events, gap).enumerate() {
            let (first, last) = (session[0], session[session.len() - 1]);
            sessions.push(Session {
                key: first.key,
                number: number as u64 + 1,
                start: first.ts,
                end: last.ts,
                events: session.len() as u64,
                first_name: first.name,
                last_name: last.name,
            });
        }
    }
    sessions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::log_of;

    #[test]
    fn a_gap_longer_than_the_limit_starts_a_session() {
        let log = log_of(&[
            ("a", 0, Some("home")),
            ("a", 30, Some("cart")),
            // exactly the gap after the last event: same session
            ("a", 60, Some("buy")),
            ("a", 91, Some("home")),
            ("b", 5, None),
        ]);
        let found = sessions(&log, 30, &mut || ());
        let summary: Vec<_> = found
            .iter()
            .map(|s| {
                (
                    log.key(s.key),
                    s.number,
                    s.start,
                    s.end,
                    s.events,
                    log.name(s.first_name),
                    log.name(s.last_name),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("a", 1, 0, 60, 3, Some("home"), Some("buy")),
                ("a", 2, 91, 91, 1, Some("home"), Some("home")),
                ("b", 1, 5, 5, 1, None, None),
            ]
        );
    }

    #[test]
    fn gaps_compare_without_overflow() {
        let log = log_of(&[("a", i64::MIN + 1, Some("x")), ("a", i64::MAX - 1, Some("y"))]);
        assert_eq!(sessions(&log, i64::MAX, &mut || ()).len(), 2);
    }
}
