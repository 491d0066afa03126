//! Text rendering for terminals and CI logs.

use std::fmt::Write;

use crate::report::{Report, Verdict};
use crate::scenario::group_title;

pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "BRAiN WebSocket conformance: {}", report.target);
    match (&report.server, &report.info_error) {
        (Some(s), _) => {
            let features = if s.features.is_empty() {
                "none".to_owned()
            } else {
                s.features.join(", ")
            };
            let _ = writeln!(
                out,
                "server: {} ({}), heartbeat {}s, optional features: {features}",
                s.name, s.protocol, s.heartbeat_interval
            );
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "server info unavailable: {e}");
        }
        (None, None) => {}
    }
    for (n, (group, results)) in super::groups(report).into_iter().enumerate() {
        let _ = writeln!(out, "\n{}. {} ({group})", n + 1, group_title(group));
        for r in results {
            let ms = r.duration.as_millis();
            match &r.verdict {
                Verdict::Pass => {
                    let _ = writeln!(out, "  ✔ {}: {} ({ms} ms)", r.id, r.summary);
                }
                Verdict::Skipped { reason } => {
                    let _ = writeln!(out, "  - {}: skipped: {reason}", r.id);
                }
                Verdict::Fail { reason } => {
                    let _ = writeln!(out, "  ✖ {}: {} ({ms} ms)", r.id, r.summary);
                    let _ = writeln!(out, "      see {}", r.section);
                    let _ = writeln!(out, "      failed: {reason}");
                    if let Some(evidence) = &r.evidence {
                        let _ = writeln!(out, "      evidence:");
                        for line in super::evidence_lines(evidence) {
                            let _ = writeln!(out, "        {line}");
                        }
                    }
                }
            }
        }
    }
    let (passed, failed, skipped) = report.counts();
    if failed > 0 {
        let _ = writeln!(out, "\nFailed:");
        for id in report.failed_ids() {
            let _ = writeln!(out, "  {id}");
        }
    }
    let _ = writeln!(
        out,
        "\nFinished in {:.2}s, {} scenarios",
        report.duration.as_secs_f64(),
        report.results.len()
    );
    let _ = writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped");
    out
}
