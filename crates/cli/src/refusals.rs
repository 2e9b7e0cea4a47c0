//! Refusals of writes that carried no valid token, kept visible but
//! bounded: anyone who can connect can send them, and each would be an
//! audit record (on PostgreSQL one that can never be deleted). In each
//! window an address's first refusal is recorded on its own, up to
//! [`MAX_RECORDED`] in all; the rest are counted, with when they were first
//! and last seen, and recorded as one summary when the window ends. So an
//! unauthenticated flood adds at most `MAX_RECORDED + 1` records a window,
//! whatever its rate or number of addresses. docs/serve.md, "Limits".

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Refusals recorded one by one in a window, from all addresses.
pub(crate) const MAX_RECORDED: usize = 20;
/// Addresses a summary counts one by one; the rest are added up.
const MAX_TRACKED: usize = 1024;
/// Addresses a summary names.
const NAMED: usize = 5;

/// What to do with one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Record it in the audit log.
    Record,
    /// Count it for the window's summary.
    Count,
}

/// Counts for one address in a window.
#[derive(Debug, Clone, Copy)]
struct Seen {
    count: u64,
    first: i64,
    last: i64,
}

#[derive(Default)]
struct Window {
    recorded: HashSet<IpAddr>,
    counted: BTreeMap<IpAddr, Seen>,
    /// Counted refusals from addresses past [`MAX_TRACKED`].
    others: u64,
}

/// The bounded record of unauthenticated refusals.
pub(crate) struct Refusals {
    window: Duration,
    state: Mutex<(Instant, Window)>,
}

impl Refusals {
    pub(crate) fn new(window: Duration) -> Self {
        Refusals {
            window,
            state: Mutex::new((Instant::now(), Window::default())),
        }
    }

    /// How long a window lasts.
    pub(crate) fn window(&self) -> Duration {
        self.window
    }

    /// Whether a refusal from `peer` (at `now_ms`) is recorded or counted.
    pub(crate) fn decide(&self, peer: IpAddr, now_ms: i64) -> Decision {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let w = &mut state.1;
        if w.recorded.len() < MAX_RECORDED && w.recorded.insert(peer) {
            return Decision::Record;
        }
        if w.counted.len() < MAX_TRACKED || w.counted.contains_key(&peer) {
            let seen = w.counted.entry(peer).or_insert(Seen {
                count: 0,
                first: now_ms,
                last: now_ms,
            });
            seen.count += 1;
            seen.last = now_ms;
        } else {
            w.others += 1;
        }
        Decision::Count
    }

    /// Ends the window: the summary of what was counted in it, if anything
    /// was.
    pub(crate) fn close_window(&self) -> Option<String> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (_, w) = std::mem::replace(&mut *state, (Instant::now(), Window::default()));
        summary(&w, self.window)
    }
}

fn summary(w: &Window, window: Duration) -> Option<String> {
    let total: u64 = w.counted.values().map(|s| s.count).sum::<u64>() + w.others;
    if total == 0 {
        return None;
    }
    let first = w
        .counted
        .values()
        .map(|s| s.first)
        .min()
        .unwrap_or_default();
    let last = w.counted.values().map(|s| s.last).max().unwrap_or_default();
    let mut busiest: Vec<(&IpAddr, &Seen)> = w.counted.iter().collect();
    busiest.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    let named: Vec<String> = busiest
        .iter()
        .take(NAMED)
        .map(|(ip, s)| format!("{ip} ×{}", s.count))
        .collect();
    let addresses = w.counted.len() + usize::from(w.others > 0);
    Some(format!(
        "{total} more writes without a valid token were refused from {addresses} address(es) \
         between {} and {} ({}{}); each address's first refusal in a {} s window is recorded \
         on its own, at most {MAX_RECORDED} a window",
        time(first),
        time(last),
        named.join(", "),
        if w.others > 0 {
            format!(", {} from other addresses", w.others)
        } else {
            String::new()
        },
        window.as_secs()
    ))
}

fn time(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_is_recorded_once_a_window_and_the_rest_summarized() {
        let r = Refusals::new(Duration::from_secs(60));
        let a: IpAddr = "127.0.0.2".parse().expect("ip");
        let b: IpAddr = "::1".parse().expect("ip");
        assert_eq!(r.decide(a, 1_000), Decision::Record);
        assert_eq!(r.decide(b, 1_000), Decision::Record);
        for t in 0..500 {
            assert_eq!(r.decide(a, 2_000 + t), Decision::Count);
        }
        assert_eq!(r.decide(b, 9_000), Decision::Count);
        let text = r.close_window().expect("a summary");
        assert!(text.starts_with("501 more writes"), "{text}");
        assert!(text.contains("127.0.0.2 ×500, ::1 ×1"), "{text}");
        assert!(r.close_window().is_none(), "nothing counted since");
        assert_eq!(r.decide(a, 10_000), Decision::Record, "a new window");
    }

    #[test]
    fn many_addresses_record_at_most_the_limit_a_window() {
        let r = Refusals::new(Duration::from_secs(60));
        let mut recorded = 0;
        for i in 0..5000u32 {
            let ip = IpAddr::from(std::net::Ipv6Addr::from(u128::from(i) + 1));
            if r.decide(ip, 1) == Decision::Record {
                recorded += 1;
            }
        }
        assert_eq!(recorded, MAX_RECORDED);
        let text = r.close_window().expect("a summary");
        assert!(text.starts_with("4980 more writes"), "{text}");
        assert!(text.contains("from other addresses"), "{text}");
    }
}
