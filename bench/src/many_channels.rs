//! The many-channels shape (issue 17): each connection opens `/ws/connect`
//! and subscribes with messages to several channels, as a dashboard does
//! (`missions`, `agents`, `tasks`, a few per-mission channels), and
//! publishers spread events over all the channels.
//!
//! This module decides who subscribes to what ([`dials`]) and how many
//! deliveries each channel's publish makes ([`subscribers_per_channel`]);
//! the throughput ramp in `run.rs` does the publishing and timing, and
//! [`p99_passed_at`] reads off the rate where the tail gave out.
//!
//! ```text
//! brain-ws-bench -n 10000 --throughput --subscriptions 10 --channels 1000 --p99-limit 100ms
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use crate::client::Dial;
use crate::options::Options;
use crate::report::{ThroughputReport, ThroughputStep};
use crate::stream::Connector;

/// `k` distinct channels of `channels` for client `i`, spread with a stride
/// of `channels.len() / k` from `i`: with n a multiple of the channel count
/// every channel gets exactly `n * k / channels.len()` subscribers.
pub fn spread(i: usize, k: usize, channels: &[String]) -> Vec<String> {
    let c = channels.len();
    if c == 0 {
        return Vec::new();
    }
    let k = k.min(c);
    let stride = (c / k.max(1)).max(1);
    (0..k)
        .map(|j| channels[(i + j * stride) % c].clone())
        .collect()
}

/// The filler channels of latency and hold modes with --subscriptions:
/// `{channel}-0..{channel}-(channels-1)`.
pub fn filler_channels(opts: &Options) -> Vec<String> {
    (0..opts.channels.max(1))
        .map(|i| format!("{}-{i}", opts.channel))
        .collect()
}

/// One dial per client when the clients subscribe with messages
/// (`--subscriptions k`, `/ws/connect`); `None` when they subscribe by
/// path. In throughput mode every subscription is spread over `channels`;
/// otherwise the first is `--channel` (which the timed broadcasts use) and
/// the other `k - 1` are spread over the filler channels.
pub fn dials(
    opts: &Options,
    connector: &Connector,
    channels: &[String],
    n: usize,
) -> Option<Vec<Arc<Dial>>> {
    let k = opts.subscriptions;
    if k == 0 {
        return None;
    }
    let filler = filler_channels(opts);
    Some(
        (0..n)
            .map(|i| {
                let subscribe = if opts.throughput {
                    spread(i, k, channels)
                } else {
                    let mut s = vec![opts.channel.clone()];
                    s.extend(spread(i, k - 1, &filler));
                    s
                };
                Arc::new(Dial {
                    connector: connector.clone(),
                    path: "/ws/connect".to_owned(),
                    wait_subscribed: !opts.no_wait_subscribed,
                    subscribe,
                })
            })
            .collect(),
    )
}

/// Deliveries one publish to each of `channels` makes: how many of
/// `clients` receive that channel.
pub fn subscribers_per_channel(channels: &[String], clients: &[Arc<Dial>]) -> Vec<u64> {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for dial in clients {
        for c in dial.channels() {
            *counts.entry(c).or_default() += 1;
        }
    }
    channels
        .iter()
        .map(|c| counts.get(c.as_str()).copied().unwrap_or(0))
        .collect()
}

/// The target publish rate from which the delivery p99 stayed above the
/// report's limit (the first over-limit step after the last step within
/// it: one early step spoiled by a neighbour's burst does not count when a
/// later, faster step came back under the limit), with the deliveries/s of
/// that step; `None` if the last step was within the limit.
pub fn p99_passed_at(t: &ThroughputReport) -> Option<(f64, f64)> {
    let over = |s: &&ThroughputStep| s.p99_us > t.p99_limit_us;
    let from = t.steps.iter().rposition(|s| !over(&s)).map_or(0, |i| i + 1);
    t.steps
        .get(from..)?
        .iter()
        .find(over)
        .map(|s| (s.target_rate, s.deliveries_per_s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c-{i}")).collect()
    }

    #[test]
    fn spread_gives_distinct_channels_and_even_counts() {
        let channels = names(1000);
        let mut per: HashMap<String, usize> = HashMap::new();
        for i in 0..10_000 {
            let mine = spread(i, 10, &channels);
            let mut unique = mine.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), 10, "client {i}: {mine:?}");
            for c in mine {
                *per.entry(c).or_default() += 1;
            }
        }
        assert_eq!(per.len(), 1000);
        assert!(per.values().all(|&v| v == 100));
    }

    fn ramp(p99_ms: &[u64]) -> ThroughputReport {
        ThroughputReport {
            p99_limit_us: 100_000,
            steps: p99_ms
                .iter()
                .enumerate()
                .map(|(i, &ms)| ThroughputStep {
                    target_rate: 100.0 * (i + 1) as f64,
                    deliveries_per_s: 1000.0 * (i + 1) as f64,
                    p99_us: ms * 1000,
                    ..ThroughputStep::default()
                })
                .collect(),
            ..ThroughputReport::default()
        }
    }

    #[test]
    fn p99_passes_the_limit_where_it_stays_above() {
        assert_eq!(
            p99_passed_at(&ramp(&[130, 60, 200, 280])),
            Some((300.0, 3000.0))
        );
        assert_eq!(p99_passed_at(&ramp(&[150, 200])), Some((100.0, 1000.0)));
        assert_eq!(p99_passed_at(&ramp(&[150, 20])), None);
        assert_eq!(p99_passed_at(&ramp(&[10, 100])), None);
        assert_eq!(p99_passed_at(&ramp(&[])), None);
    }

    #[test]
    fn spread_clamps_to_the_channel_count() {
        assert_eq!(spread(3, 5, &names(2)), vec!["c-1", "c-0"]);
        assert!(spread(0, 3, &[]).is_empty());
    }
}
