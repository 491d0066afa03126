//! The report's three renderings: text for people (per-section verdicts in
//! the style of h2spec), JSON for programs, JUnit XML for CI systems.

mod junit;
mod text;

use crate::report::Report;

impl Report {
    /// The report for a terminal: one section per scenario group, a line
    /// per scenario, the evidence under each failure, and a closing
    /// `N passed, N failed, N skipped` line.
    pub fn to_text(&self) -> String {
        text::render(self)
    }

    /// The report as JUnit XML: one `testsuite` per scenario group, one
    /// `testcase` per scenario, failures with their evidence.
    pub fn to_junit(&self) -> String {
        junit::render(self)
    }

    /// The report as pretty-printed JSON (the serde form of [`Report`]).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The group of a scenario id: the part before the first dot.
fn group_of(id: &str) -> &str {
    id.split('.').next().unwrap_or(id)
}

/// Consecutive results grouped by their id's group, in report order.
fn groups(report: &Report) -> Vec<(&str, Vec<&crate::report::ScenarioResult>)> {
    let mut groups: Vec<(&str, Vec<&crate::report::ScenarioResult>)> = Vec::new();
    for r in &report.results {
        let group = group_of(&r.id);
        match groups.last_mut() {
            Some((g, items)) if *g == group => items.push(r),
            _ => groups.push((group, vec![r])),
        }
    }
    groups
}

/// Evidence as indented lines: `+0.012s A > {...}`.
fn evidence_lines(evidence: &crate::report::Evidence) -> Vec<String> {
    let mut lines = Vec::new();
    let split = evidence.frames.len().min(60);
    for (i, f) in evidence.frames.iter().enumerate() {
        if i == split && evidence.omitted > 0 {
            lines.push(format!("… {} frames omitted …", evidence.omitted));
        }
        lines.push(format!(
            "+{:.3}s {} {} {}",
            f.at,
            f.conn,
            f.direction.arrow(),
            f.text
        ));
    }
    lines
}
