//! The quality-control report of a delivery: JSON for machines, HTML for people, and the
//! comparison with the insurer's previous delivery.

use crate::rules::{Level, Rule, Scope};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every row accepted.
    Accepted,
    /// Accepted; some rows rejected (listed in the feedback file).
    AcceptedWithRejectedRows,
    /// Rejected whole and quarantined; the warehouse is untouched.
    Rejected,
    /// Identical to the delivery already loaded: nothing to do.
    AlreadyLoaded,
    /// A correction that would remove rows of the delivery it replaces (COR-001): not
    /// applied, quarantined, until a data manager confirms it with `aim confirm`.
    Held,
}

impl Verdict {
    /// Human text.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::AcceptedWithRejectedRows => "accepted with rejected rows",
            Verdict::Rejected => "rejected whole (quarantined)",
            Verdict::AlreadyLoaded => "already loaded (unchanged)",
            Verdict::Held => "held: a correction that would lose rows, not applied until confirmed",
        }
    }
}

/// The outcome of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    /// Evaluated, nothing wrong.
    Passed,
    /// Evaluated, some rows or the delivery failed, below the threshold (row rules).
    FailedBelowThreshold,
    /// Evaluated and failed beyond the threshold.
    Failed,
    /// Could not be evaluated (the reason says why): not a pass.
    NotEvaluated,
    /// The rule does not concern this database (e.g. ATC codes in a population file).
    NotApplicable,
}

/// One rule's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleResult {
    /// Rule id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Scope.
    pub scope: Scope,
    /// Level.
    pub level: Level,
    /// Outcome.
    pub status: RuleStatus,
    /// Rows failing (row rules; for delivery rules, the rows concerned if known).
    pub failing_rows: u64,
    /// Failing rows as a percentage of the rows read.
    pub failing_percent: f64,
    /// Threshold as a percentage, where the rule has one.
    pub threshold_percent: Option<f64>,
    /// What was found, in words.
    pub message: String,
    /// Up to five examples (file and line).
    pub examples: Vec<String>,
}

/// What changed since the insurer's previous delivery of the same database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Comparison {
    /// The previous delivery compared with.
    pub previous_delivery: String,
    /// Rules failing now that did not fail then.
    pub new: Vec<String>,
    /// Rules that failed then and pass now.
    pub resolved: Vec<String>,
    /// Rules failing both times.
    pub persisting: Vec<String>,
}

/// How a correction compares with the delivery it replaces (COR-001), shown at the top of
/// its report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CorrectionCheck {
    /// The delivery in force that the correction replaces.
    pub replaces: String,
    /// Rows the replaced delivery delivered.
    pub rows_before: u64,
    /// Rows the correction delivers.
    pub rows_now: u64,
    /// Rows fewer than the replaced delivery (0 when it has as many or more).
    pub rows_lost: u64,
    /// Files with no data row whose namesake in the replaced delivery had rows, with the
    /// rows they had.
    pub files_emptied: Vec<(String, u64)>,
    /// The recorded confirmation that allowed the loss, if any: who, when, why.
    pub confirmed: Option<String>,
}

/// The QC report of one delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QcReport {
    /// Delivery identity (`insurer-DATABASE-period-checksum`), or `unreadable-<folder>`.
    pub delivery_id: String,
    /// The delivery folder as given.
    pub folder: String,
    /// Insurer, if the manifest could be read.
    pub insurer: Option<String>,
    /// Database, if known.
    pub database: Option<String>,
    /// Period, if known.
    pub period: Option<String>,
    /// Sequence (1 = first delivery, 2+ = re-delivery).
    pub sequence: Option<u32>,
    /// Outcome.
    pub verdict: Verdict,
    /// Why the delivery was rejected, in words (empty when accepted).
    pub reasons: Vec<String>,
    /// Data rows read.
    pub rows_read: u64,
    /// Rows accepted into the warehouse.
    pub rows_accepted: u64,
    /// Rows rejected (in the feedback file).
    pub rows_rejected: u64,
    /// Each rule's result, in rule-file order.
    pub rules: Vec<RuleResult>,
    /// Comparison with the previous delivery.
    pub comparison: Option<Comparison>,
    /// For a correction: the comparison with the delivery it replaces.
    #[serde(default)]
    pub correction: Option<CorrectionCheck>,
    /// Feedback file for the insurer (rejected rows with their rule id), if any.
    pub feedback_file: Option<String>,
    /// When the check ran (RFC 3339).
    pub checked_at: String,
    /// Seconds taken.
    pub seconds: f64,
}

impl QcReport {
    /// Ids of the rules that failed (beyond or below threshold).
    pub fn failing_rules(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter(|r| {
                matches!(
                    r.status,
                    RuleStatus::Failed | RuleStatus::FailedBelowThreshold
                )
            })
            .map(|r| r.id.clone())
            .collect()
    }

    /// The result of one rule.
    pub fn rule(&self, id: &str) -> Option<&RuleResult> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Fills in the comparison with a previous report.
    pub fn compare_with(&mut self, previous: &QcReport) {
        let now = self.failing_rules();
        let then = previous.failing_rules();
        self.comparison = Some(Comparison {
            previous_delivery: previous.delivery_id.clone(),
            new: now.iter().filter(|r| !then.contains(r)).cloned().collect(),
            resolved: then.iter().filter(|r| !now.contains(r)).cloned().collect(),
            persisting: now.iter().filter(|r| then.contains(r)).cloned().collect(),
        });
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialises")
    }

    /// A self-contained HTML page for a data manager.
    pub fn to_html(&self) -> String {
        let mut h = String::new();
        let title = format!("QC report {}", self.delivery_id);
        page_start(&mut h, &title);
        let _ = write!(
            h,
            "<h1>{}</h1><p class=\"verdict {}\">Verdict: <strong>{}</strong></p>",
            esc(&title),
            verdict_class(self.verdict),
            esc(self.verdict.label())
        );
        if self.verdict == Verdict::Held {
            h.push_str("<h2>Held: this correction would lose data</h2><ul>");
            for r in &self.reasons {
                let _ = write!(h, "<li>{}</li>", esc(r));
            }
            let _ = write!(
                h,
                "</ul><p>Nothing was applied: the delivery it replaces stays in force. If the loss is intended, confirm it with <code>aim confirm --warehouse WH {} --by NAME --reason TEXT</code> (recorded); otherwise ask the insurer for a complete correction.</p>",
                esc(&self.delivery_id)
            );
        }
        if let Some(c) = &self.correction {
            let _ = write!(
                h,
                "<h2>Compared with the delivery it replaces ({})</h2><table class=\"facts\">\
                 <tr><th>Rows before</th><td>{}</td></tr><tr><th>Rows now</th><td>{}</td></tr>\
                 <tr><th>Rows lost</th><td>{} ({})</td></tr><tr><th>Files emptied</th><td>{}</td></tr>\
                 <tr><th>Loss confirmed</th><td>{}</td></tr></table>",
                esc(&c.replaces),
                c.rows_before,
                c.rows_now,
                c.rows_lost,
                percent(c.rows_lost, c.rows_before),
                if c.files_emptied.is_empty() {
                    "none".to_string()
                } else {
                    esc(&c
                        .files_emptied
                        .iter()
                        .map(|(f, n)| format!("{f} (had {n} rows)"))
                        .collect::<Vec<_>>()
                        .join(", "))
                },
                esc(c.confirmed.as_deref().unwrap_or("no"))
            );
        }
        h.push_str("<table class=\"facts\">");
        for (k, v) in [
            (
                "Insurer",
                self.insurer.clone().unwrap_or_else(|| "unknown".into()),
            ),
            (
                "Database",
                self.database.clone().unwrap_or_else(|| "unknown".into()),
            ),
            (
                "Period",
                self.period.clone().unwrap_or_else(|| "unknown".into()),
            ),
            (
                "Sequence",
                self.sequence
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "unknown".into()),
            ),
            ("Folder", self.folder.clone()),
            ("Rows read", self.rows_read.to_string()),
            (
                "Rows accepted",
                format!(
                    "{} ({})",
                    self.rows_accepted,
                    percent(self.rows_accepted, self.rows_read)
                ),
            ),
            (
                "Rows rejected",
                format!(
                    "{} ({})",
                    self.rows_rejected,
                    percent(self.rows_rejected, self.rows_read)
                ),
            ),
            (
                "Feedback file",
                self.feedback_file.clone().unwrap_or_else(|| "none".into()),
            ),
            ("Checked at", self.checked_at.clone()),
        ] {
            let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
        }
        h.push_str("</table>");
        if !self.reasons.is_empty() && self.verdict != Verdict::Held {
            h.push_str("<h2>Why it was rejected</h2><ul>");
            for r in &self.reasons {
                let _ = write!(h, "<li>{}</li>", esc(r));
            }
            h.push_str("</ul>");
        }
        if let Some(c) = &self.comparison {
            let _ = write!(
                h,
                "<h2>Compared with the previous delivery ({})</h2><ul>",
                esc(&c.previous_delivery)
            );
            for (k, v) in [
                ("New issues", &c.new),
                ("Resolved", &c.resolved),
                ("Persisting", &c.persisting),
            ] {
                let list = if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join(", ")
                };
                let _ = write!(h, "<li>{}: {}</li>", esc(k), esc(&list));
            }
            h.push_str("</ul>");
        }
        h.push_str(
            "<h2>Rules</h2><table class=\"rules\"><thead><tr><th>Rule</th><th>Level</th><th>Status</th>\
             <th>Failing rows</th><th>%</th><th>Threshold</th><th>Finding</th></tr></thead><tbody>",
        );
        for r in &self.rules {
            let _ = write!(
                h,
                "<tr class=\"{}\"><td><strong>{}</strong> {}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td><td>{}{}</td></tr>",
                status_class(r.status),
                esc(&r.id),
                esc(&r.title),
                r.level,
                status_label(r.status),
                r.failing_rows,
                r.failing_percent,
                r.threshold_percent
                    .map(|t| format!("{t:.2} %"))
                    .unwrap_or_default(),
                esc(&r.message),
                if r.examples.is_empty() {
                    String::new()
                } else {
                    format!("<br><small>e.g. {}</small>", esc(&r.examples.join("; ")))
                }
            );
        }
        h.push_str("</tbody></table>");
        page_end(&mut h);
        h
    }
}

/// Builds a rule result.
pub(crate) fn result(
    rule: &Rule,
    status: RuleStatus,
    failing: u64,
    rows: u64,
    message: String,
) -> RuleResult {
    RuleResult {
        id: rule.id.clone(),
        title: rule.title.clone(),
        scope: rule.scope,
        level: rule.level,
        status,
        failing_rows: failing,
        failing_percent: if rows == 0 {
            0.0
        } else {
            100.0 * failing as f64 / rows as f64
        },
        threshold_percent: rule.threshold.map(|t| t * 100.0),
        message,
        examples: Vec::new(),
    }
}

fn percent(a: u64, b: u64) -> String {
    if b == 0 {
        "0 %".into()
    } else {
        format!("{:.2} %", 100.0 * a as f64 / b as f64)
    }
}

fn status_label(s: RuleStatus) -> &'static str {
    match s {
        RuleStatus::Passed => "passed",
        RuleStatus::FailedBelowThreshold => "failed (below threshold)",
        RuleStatus::Failed => "FAILED",
        RuleStatus::NotEvaluated => "not evaluated",
        RuleStatus::NotApplicable => "not applicable",
    }
}

fn status_class(s: RuleStatus) -> &'static str {
    match s {
        RuleStatus::Passed => "passed",
        RuleStatus::FailedBelowThreshold => "warn",
        RuleStatus::Failed => "failed",
        RuleStatus::NotEvaluated | RuleStatus::NotApplicable => "skipped",
    }
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Accepted | Verdict::AlreadyLoaded => "passed",
        Verdict::AcceptedWithRejectedRows => "warn",
        Verdict::Rejected | Verdict::Held => "failed",
    }
}

/// Escapes text for HTML: the platform's one escaper.
pub use aim_model::html::esc;

/// Opens a small self-contained HTML page (shared by the report and the period overview).
pub fn page_start(h: &mut String, title: &str) {
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:1.5rem;max-width:70rem;color:#222}}\
         table{{border-collapse:collapse;margin:.5rem 0}}th,td{{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}}\
         .passed td:nth-child(3),.verdict.passed strong{{color:#17692d}}.failed td:nth-child(3),.verdict.failed strong{{color:#b00020}}\
         .warn td:nth-child(3),.verdict.warn strong{{color:#a35b00}}.skipped td:nth-child(3){{color:#666;font-style:italic}}\
         </style></head><body>",
        esc(title)
    );
}

/// Closes a page opened with [`page_start`].
pub fn page_end(h: &mut String) {
    h.push_str("</body></html>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(failing: &[&str]) -> QcReport {
        let catalog = crate::rules::RuleCatalog::builtin();
        QcReport {
            delivery_id: "d".into(),
            folder: "f".into(),
            insurer: None,
            database: None,
            period: None,
            sequence: None,
            verdict: Verdict::Accepted,
            reasons: vec![],
            rows_read: 10,
            rows_accepted: 10,
            rows_rejected: 0,
            rules: catalog
                .rules
                .iter()
                .map(|r| {
                    let st = if failing.contains(&r.id.as_str()) {
                        RuleStatus::Failed
                    } else {
                        RuleStatus::Passed
                    };
                    result(r, st, 0, 10, String::new())
                })
                .collect(),
            comparison: None,
            correction: None,
            feedback_file: None,
            checked_at: String::new(),
            seconds: 0.0,
        }
    }

    #[test]
    fn comparison_splits_new_resolved_persisting() {
        let prev = report(&["DAT-001", "COD-001"]);
        let mut now = report(&["COD-001", "DUP-001"]);
        now.compare_with(&prev);
        let c = now.comparison.unwrap();
        assert_eq!(c.new, vec!["DUP-001"]);
        assert_eq!(c.resolved, vec!["DAT-001"]);
        assert_eq!(c.persisting, vec!["COD-001"]);
    }

    #[test]
    fn html_escapes_delivery_text() {
        let mut r = report(&[]);
        r.reasons = vec!["<script>alert(1)</script>".into()];
        let html = r.to_html();
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
