//! JUnit XML, written by hand: the format is small and a dependency would
//! outweigh it.

use std::fmt::Write;

use crate::report::{Report, Verdict};

pub(super) fn render(report: &Report) -> String {
    let (_, failed, skipped) = report.counts();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"brain-ws-conformance\" tests=\"{}\" failures=\"{failed}\" skipped=\"{skipped}\" time=\"{:.3}\">",
        report.results.len(),
        report.duration.as_secs_f64()
    );
    for (group, results) in super::groups(report) {
        let failures = results.iter().filter(|r| r.verdict.is_fail()).count();
        let skips = results.iter().filter(|r| r.verdict.is_skipped()).count();
        let time: f64 = results.iter().map(|r| r.duration.as_secs_f64()).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skips}\" time=\"{time:.3}\">",
            escape(group),
            results.len()
        );
        for r in results {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                escape(group),
                escape(&r.id),
                r.duration.as_secs_f64()
            );
            match &r.verdict {
                Verdict::Pass => out.push_str("/>\n"),
                Verdict::Skipped { reason } => {
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(reason)
                    );
                }
                Verdict::Fail { reason } => {
                    let mut details = format!("{}\nsee {}\n", r.summary, r.section);
                    if let Some(evidence) = &r.evidence {
                        for line in super::evidence_lines(evidence) {
                            details.push_str(&line);
                            details.push('\n');
                        }
                    }
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"conformance\">{}</failure>\n    </testcase>",
                        escape(reason),
                        escape(&details)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Escapes text for XML attributes and content, dropping the control
/// characters XML 1.0 cannot carry at all.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>\u{1}"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;\u{FFFD}"
        );
    }
}
