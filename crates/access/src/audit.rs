//! The audit log: every query, release and refusal, with who, for which project, what and
//! when, in an append-only hash chain.
//!
//! Each entry's `hash` is the SHA-256 (hex) of its canonical form: the line `aim-audit-v1`,
//! then one line per field in the order `seq, time, account, project, action, object,
//! outcome, reason, prev_hash`, each written as `-` when absent or as its length in bytes,
//! a colon and its UTF-8 bytes (`5:hello`), every line ending in `\n`. `prev_hash` is the
//! previous entry's hash, 64 zeros for the first. Changing, deleting or moving an entry
//! breaks the chain at that entry; [`verify`] walks it and reports the first entry that
//! does not hold. Deleting entries at the *end* leaves a shorter valid chain: an anchor (an
//! entry's sequence number and hash, noted elsewhere, e.g. printed by `aim audit verify`)
//! catches that, and so does rewriting the whole chain after an edit.

use sha2::{Digest, Sha256};

/// The previous hash of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an action ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Allowed and done.
    Done,
    /// Refused, and why.
    Refused(String),
    /// Allowed, but it failed, and why.
    Failed(String),
}

impl Outcome {
    /// `done`, `refused` or `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Refused(_) => "refused",
            Outcome::Failed(_) => "failed",
        }
    }
    /// The reason of a refusal or failure.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Done => None,
            Outcome::Refused(r) | Outcome::Failed(r) => Some(r),
        }
    }
}

/// What to record.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    /// The account's e-mail; `None` when nobody could be identified.
    pub account: Option<String>,
    /// The project it was for, when there is one.
    pub project: Option<String>,
    /// The action, a short stable word (`sql`, `sql --sample`, `table`, `ingest`, …).
    pub action: String,
    /// What it acted on (the query, the request file, the delivery, the account).
    pub object: String,
    /// How it ended.
    pub outcome: Outcome,
}

/// One entry of the log, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// 1, 2, 3, … without gaps.
    pub seq: i64,
    /// UTC, RFC 3339 with milliseconds.
    pub time: String,
    /// The account's e-mail, if any.
    pub account: Option<String>,
    /// The project, if any.
    pub project: Option<String>,
    /// The action.
    pub action: String,
    /// Its object.
    pub object: String,
    /// `done`, `refused` or `failed`.
    pub outcome: String,
    /// Why it was refused or failed.
    pub reason: Option<String>,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

impl AuditEntry {
    /// The hash its fields give (equal to `hash` unless it was tampered with).
    pub fn computed_hash(&self) -> String {
        let seq = self.seq.to_string();
        let fields: [Option<&str>; 9] = [
            Some(&seq),
            Some(&self.time),
            self.account.as_deref(),
            self.project.as_deref(),
            Some(&self.action),
            Some(&self.object),
            Some(&self.outcome),
            self.reason.as_deref(),
            Some(&self.prev_hash),
        ];
        let mut h = Sha256::new();
        h.update(b"aim-audit-v1\n");
        for f in fields {
            match f {
                None => h.update(b"-"),
                Some(v) => {
                    h.update(v.len().to_string().as_bytes());
                    h.update(b":");
                    h.update(v.as_bytes());
                }
            }
            h.update(b"\n");
        }
        hex::encode(h.finalize())
    }
}

/// A point of the chain noted elsewhere: entry `seq` had `hash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The entry.
    pub seq: i64,
    /// Its hash then.
    pub hash: String,
}

impl std::str::FromStr for Anchor {
    type Err = String;
    fn from_str(s: &str) -> Result<Anchor, String> {
        let bad = || format!("'{s}' is not SEQ:HASH (as `aim audit verify` prints it)");
        let (seq, hash) = s.split_once(':').ok_or_else(bad)?;
        let hash = hash.trim().to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Anchor {
            seq: seq.trim().parse().map_err(|_| bad())?,
            hash,
        })
    }
}

/// Where the chain first does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    /// The sequence number at which it breaks.
    pub seq: i64,
    /// What is wrong, in words.
    pub problem: String,
}

/// The result of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries read.
    pub entries: u64,
    /// The last entry (seq, hash): note it to anchor a later verification.
    pub head: Option<(i64, String)>,
    /// The first break, or `None` when the chain holds.
    pub broken: Option<Broken>,
}

impl VerifyReport {
    /// True when the chain holds.
    pub fn holds(&self) -> bool {
        self.broken.is_none()
    }
}

/// Walks the chain as it is read, in `seq` order.
#[derive(Debug)]
pub struct Verifier {
    expected_seq: i64,
    prev_hash: String,
    entries: u64,
    broken: Option<Broken>,
    anchor: Option<Anchor>,
    anchor_seen: bool,
}

impl Verifier {
    /// A verifier from the first entry on, checking `anchor` when given.
    pub fn new(anchor: Option<Anchor>) -> Verifier {
        Verifier {
            expected_seq: 1,
            prev_hash: GENESIS.to_string(),
            entries: 0,
            broken: None,
            anchor,
            anchor_seen: false,
        }
    }

    /// Feeds the next entry; returns false once the chain is broken (stop reading).
    pub fn push(&mut self, e: &AuditEntry) -> bool {
        if self.broken.is_some() {
            return false;
        }
        self.entries += 1;
        let problem = if e.seq != self.expected_seq {
            Some(format!(
                "expected entry {} but found entry {}: entries were deleted or moved",
                self.expected_seq, e.seq
            ))
        } else if e.prev_hash != self.prev_hash {
            Some(format!(
                "its link to the entry before does not match that entry's hash: the entry before it was changed, deleted or moved (stored {}, expected {})",
                short(&e.prev_hash),
                short(&self.prev_hash)
            ))
        } else if e.computed_hash() != e.hash {
            Some("its content does not match its hash: it was changed".to_string())
        } else {
            None
        };
        if let Some(problem) = problem {
            self.broken = Some(Broken {
                seq: self.expected_seq,
                problem,
            });
            return false;
        }
        if let Some(a) = &self.anchor
            && a.seq == e.seq
        {
            self.anchor_seen = true;
            if a.hash != e.hash {
                self.broken = Some(Broken {
                    seq: e.seq,
                    problem: format!(
                        "its hash is not the anchored one ({}): the log was rewritten from here or before",
                        short(&a.hash)
                    ),
                });
                return false;
            }
        }
        self.prev_hash = e.hash.clone();
        self.expected_seq += 1;
        true
    }

    /// The report once every entry was fed.
    pub fn finish(self) -> VerifyReport {
        let mut broken = self.broken;
        if broken.is_none()
            && let Some(a) = &self.anchor
            && !self.anchor_seen
        {
            broken = Some(Broken {
                seq: a.seq,
                problem: format!(
                    "the anchored entry {} is missing: the log ends at entry {}, entries at its end were deleted",
                    a.seq,
                    self.expected_seq - 1
                ),
            });
        }
        let head = (self.expected_seq > 1).then(|| (self.expected_seq - 1, self.prev_hash));
        VerifyReport {
            entries: self.entries,
            head,
            broken,
        }
    }
}

/// Verifies entries given in `seq` order.
pub fn verify<'a>(
    entries: impl IntoIterator<Item = &'a AuditEntry>,
    anchor: Option<Anchor>,
) -> VerifyReport {
    let mut v = Verifier::new(anchor);
    for e in entries {
        if !v.push(e) {
            break;
        }
    }
    v.finish()
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// The entry that follows `prev` (or starts the chain), with its hash.
pub(crate) fn next_entry(prev: Option<(i64, String)>, time: String, ev: &AuditEvent) -> AuditEntry {
    let (seq, prev_hash) = match prev {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let mut e = AuditEntry {
        seq,
        time,
        account: ev.account.clone(),
        project: ev.project.clone(),
        action: ev.action.clone(),
        object: ev.object.clone(),
        outcome: ev.outcome.as_str().to_string(),
        reason: ev.outcome.reason().map(str::to_string),
        prev_hash,
        hash: String::new(),
    };
    e.hash = e.computed_hash();
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let ev = AuditEvent {
                account: (i % 3 != 0).then(|| format!("u{i}@example.be")),
                project: None,
                action: "sql".into(),
                object: format!("SELECT {i}"),
                outcome: if i % 2 == 0 {
                    Outcome::Done
                } else {
                    Outcome::Refused("needs data manager".into())
                },
            };
            let prev = out.last().map(|e| (e.seq, e.hash.clone()));
            out.push(next_entry(prev, format!("2026-12-01T00:00:0{i}.000Z"), &ev));
        }
        out
    }

    #[test]
    fn an_intact_chain_holds_and_reports_its_head() {
        let c = chain(5);
        let r = verify(&c, None);
        assert!(r.holds(), "{r:?}");
        assert_eq!(r.entries, 5);
        assert_eq!(r.head, Some((5, c[4].hash.clone())));
        assert!(
            verify(
                &c,
                Some(Anchor {
                    seq: 3,
                    hash: c[2].hash.clone()
                })
            )
            .holds()
        );
        assert!(verify(&[], None).holds());
    }

    #[test]
    fn the_canonical_form_separates_fields() {
        // Moving a character from one field to the next changes the hash.
        let mut c = chain(1);
        let a = c[0].computed_hash();
        c[0].action = "sqlS".into();
        c[0].object = "ELECT 0".into();
        assert_ne!(a, c[0].computed_hash());
        // Absent and empty differ.
        let mut d = chain(1);
        d[0].project = Some(String::new());
        assert_ne!(a, d[0].computed_hash());
    }

    #[test]
    fn edits_deletions_and_moves_are_found_at_the_first_broken_entry() {
        let c = chain(6);
        let mut edited = c.clone();
        edited[2].object = "SELECT 42".into();
        assert_eq!(verify(&edited, None).broken.unwrap().seq, 3);

        let mut deleted = c.clone();
        deleted.remove(3);
        let b = verify(&deleted, None).broken.unwrap();
        assert_eq!(b.seq, 4);
        assert!(b.problem.contains("deleted or moved"), "{}", b.problem);

        // Renumbered after a deletion: the link to the entry before breaks.
        let mut renumbered = deleted.clone();
        for (i, e) in renumbered.iter_mut().enumerate() {
            e.seq = i as i64 + 1;
        }
        assert_eq!(verify(&renumbered, None).broken.unwrap().seq, 4);

        let mut moved = c.clone();
        moved.swap(1, 4);
        (moved[1].seq, moved[4].seq) = (2, 5);
        assert_eq!(verify(&moved, None).broken.unwrap().seq, 2);

        // Rewriting every hash after an edit: caught by an anchor only.
        let mut rewritten = c.clone();
        rewritten[1].object = "SELECT secret".into();
        for i in 1..rewritten.len() {
            rewritten[i].prev_hash = rewritten[i - 1].hash.clone();
            rewritten[i].hash = rewritten[i].computed_hash();
        }
        assert!(verify(&rewritten, None).holds());
        let anchor = Anchor {
            seq: 6,
            hash: c[5].hash.clone(),
        };
        assert_eq!(
            verify(&rewritten, Some(anchor.clone())).broken.unwrap().seq,
            6
        );

        // Truncated at the end: caught by an anchor only.
        assert!(verify(&c[..4], None).holds());
        let b = verify(&c[..4], Some(anchor)).broken.unwrap();
        assert!(b.problem.contains("missing"), "{}", b.problem);
    }

    #[test]
    fn anchors_parse() {
        let h = "ab".repeat(32);
        assert_eq!(
            format!("12:{h}").parse::<Anchor>().unwrap(),
            Anchor { seq: 12, hash: h }
        );
        assert!("12".parse::<Anchor>().is_err());
        assert!("x:ab".parse::<Anchor>().is_err());
    }
}
