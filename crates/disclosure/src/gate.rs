//! The gate: the one door by which a result leaves the agency. Opened once on a warehouse, it
//! loads the release ledger (every release, whoever asked, and every published Atlas table);
//! each release through it is tabulated by the gate (it counts distinct coded persons), gets
//! primary, magnitude (contributors, providers) and secondary suppression with its table's
//! LP audit, is audited against every earlier release and every other release of the same
//! session so that no combination pins down a small group of persons ([`crate::cross`]), is
//! recorded in the ledger, and only then written. No other public path reaches suppression
//! or the ledger.

use crate::DisclosureError;
use crate::cross::Earlier;
use crate::ledger;
use crate::release::{self, Release, Source};
use crate::request::TableRequest;
use crate::suppress::{Policy, Status};
use crate::table::{Cell, Dimension};
use aim_access::{Capability, Grant};
use aim_warehouse::Warehouse;
use std::path::{Path, PathBuf};

/// How a release is asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Raise the source's threshold (never lower it).
    pub min_units: Option<i64>,
}

/// What left through the gate: counts for the person who asked, never a hidden value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Release id (in the ledger and the metadata).
    pub id: String,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Cells in the table (margins included).
    pub cells: usize,
    /// Small cells.
    pub primary: usize,
    /// Cells hidden to protect others.
    pub secondary: usize,
    /// Cells hidden so that no combination with other releases pins a small group.
    pub differencing: usize,
    /// Cells hidden by the contributor rule (one person's amount dominating a sum).
    pub contributor: usize,
    /// Cells hidden by the provider rule.
    pub provider: usize,
    /// Earlier releases it was audited against.
    pub audited_against: usize,
}

impl Outcome {
    /// Cells hidden, for whatever reason (small, protecting others, contributor or provider
    /// rule, combination with other releases).
    pub fn hidden(&self) -> usize {
        self.primary + self.secondary + self.differencing + self.contributor + self.provider
    }

    fn of(release: &Release, files: Vec<PathBuf>) -> Outcome {
        Outcome {
            id: release.id.clone(),
            files,
            cells: release.table.cells.len(),
            primary: release.pattern.count(Status::Primary),
            secondary: release.pattern.count(Status::Secondary),
            differencing: release.pattern.count(Status::Differencing),
            contributor: release.pattern.count(Status::Contributor),
            provider: release.pattern.count(Status::Provider),
            audited_against: release.audited_against.len(),
        }
    }
}

/// A table published by the agency itself (the Atlas): the released cells only.
#[derive(Debug, Clone)]
pub struct Published {
    /// Release id.
    pub id: String,
    /// The table's dimensions (codes and hierarchies).
    pub dimensions: Vec<Dimension>,
    /// Per cell, its values when released (`None` when hidden).
    pub cells: Vec<Option<Cell>>,
    /// What the gate did.
    pub outcome: Outcome,
    strides: Vec<usize>,
}

impl Published {
    /// Cell index of a combination of nodes (one per dimension).
    pub fn index(&self, nodes: &[usize]) -> usize {
        crate::table::index_of(&self.strides, nodes)
    }

    /// Nodes (one per dimension) of a cell index.
    pub fn nodes(&self, index: usize) -> Vec<usize> {
        crate::table::nodes_of(&self.strides, index)
    }
}

/// The source a grant opens: tables on the sample or on the whole population; any other
/// grant (raw results) is refused here.
fn release_source(grant: &Grant) -> Result<Source, DisclosureError> {
    match grant.capability() {
        Capability::ReleaseSampleTable => Ok(Source::Sample),
        Capability::ReleasePopulationTable => Ok(Source::Population),
        other => Err(DisclosureError::Request(format!(
            "a grant for {} does not release gated tables",
            other.describe()
        ))),
    }
}

/// The gate over one warehouse.
pub struct Gate<'w> {
    wh: &'w Warehouse,
    entries: Vec<ledger::Entry>,
    replayed: Option<Vec<ledger::Replayed>>,
    this_session: Vec<Release>,
}

impl<'w> Gate<'w> {
    /// Opens the gate: reads the whole ledger (a damaged ledger refuses every release).
    pub fn open(wh: &'w Warehouse) -> Result<Gate<'w>, DisclosureError> {
        Ok(Gate {
            wh,
            entries: ledger::entries(wh)?,
            replayed: None,
            this_session: Vec::new(),
        })
    }

    /// Releases recorded before this gate was opened.
    pub fn earlier_releases(&self) -> usize {
        self.entries.len()
    }

    async fn replay(&mut self) -> Result<(), DisclosureError> {
        if self.replayed.is_some() {
            return Ok(());
        }
        let mut done = Vec::with_capacity(self.entries.len());
        // One session per source and set of versions (the Atlas's tables share theirs).
        let mut sessions: Vec<(
            Source,
            &std::collections::BTreeMap<String, u64>,
            release::Opened,
        )> = Vec::new();
        for e in &self.entries {
            let at = match sessions
                .iter()
                .position(|(s, v, _)| *s == e.source && **v == e.source_versions)
            {
                Some(at) => at,
                None => {
                    let opened = release::open_source(self.wh, e.source, &e.source_versions)
                        .await
                        .map_err(|err| ledger::unreplayable(&e.release, err))?;
                    sessions.push((e.source, &e.source_versions, opened));
                    sessions.len() - 1
                }
            };
            done.push(ledger::replay(self.wh, &sessions[at].2, e).await?);
        }
        self.replayed = Some(done);
        Ok(())
    }

    fn earlier(&self) -> Vec<Earlier<'_>> {
        self.replayed
            .iter()
            .flatten()
            .map(ledger::Replayed::earlier)
            .chain(self.this_session.iter().map(Release::earlier))
            .collect()
    }

    async fn gate(
        &mut self,
        request: &TableRequest,
        source: Source,
        grant: &Grant,
        options: &Options,
    ) -> Result<Release, DisclosureError> {
        let mut policy: Policy = source.policy();
        if let Some(m) = options.min_units {
            policy.min_units = m;
        }
        let prepared = release::prepare(
            self.wh,
            request,
            source,
            policy,
            grant.email(),
            Some(grant.project()),
        )
        .await?;
        self.replay().await?;
        release::settle(prepared, &self.earlier())
    }

    /// Runs `request` through the gate for the project of `grant`, records it in the
    /// ledger, then writes it to `out` (`.csv` with `.meta.json`, or `.xlsx`). The grant
    /// (made only by `aim_access::authorize_release`: a member of an approved project in
    /// production) says the source: the sample or the whole population; the release is
    /// recorded with the project and under the project's requester organisation, whatever
    /// the request file says.
    pub async fn release(
        &mut self,
        request: &TableRequest,
        grant: &Grant,
        options: &Options,
        out: &Path,
    ) -> Result<Outcome, DisclosureError> {
        let source = release_source(grant)?;
        release::check_output(out)?;
        let organisation = grant.organisation().trim();
        if organisation == ledger::ATLAS || request.requester.trim() == ledger::ATLAS {
            return Err(DisclosureError::Request(format!(
                "requester '{}' is the Atlas's own name",
                ledger::ATLAS
            )));
        }
        let mut request = request.clone();
        request.requester = organisation.to_string();
        let rel = self.gate(&request, source, grant, options).await?;
        let files = release::output_files(out);
        // Recorded before it is written: whatever may have left is in the ledger.
        release::record(self.wh, &rel, &files)?;
        release::write(&rel, out)?;
        let outcome = Outcome::of(&rel, files);
        self.this_session.push(rel);
        Ok(outcome)
    }

    /// Publishes tables computed for the public (the Atlas): each tabulated by the gate, with
    /// its own suppression and audit (shared out among the cores), and recorded in the
    /// ledger, so that every later release is audited against it. The Atlas's tables are not
    /// (yet) audited against each other and earlier releases: docs/disclosure.md says why and
    /// what that leaves open. The caller gets the released cells only; `progress` hears of
    /// each table done.
    pub async fn publish(
        &mut self,
        requests: &[TableRequest],
        user: &str,
        progress: &(dyn Fn(&TableRequest) + Sync),
    ) -> Result<Vec<Published>, DisclosureError> {
        let source = Source::Population;
        let policy = source.policy();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let mut out = Vec::with_capacity(requests.len());
        let opened = release::open_source(self.wh, source, &Default::default()).await?;
        // A few tables at a time: tabulated one after the other, gated side by side.
        for chunk in requests.chunks(threads.max(1)) {
            let mut tabulated = Vec::with_capacity(chunk.len());
            let clock = std::time::Instant::now();
            for request in chunk {
                if request.requester != ledger::ATLAS {
                    return Err(DisclosureError::Request(format!(
                        "only the Atlas publishes (requester '{}')",
                        ledger::ATLAS
                    )));
                }
                let mut t = release::tabulate_in(self.wh, &opened, request).await?;
                // The Atlas's measures after the first (sums of squares, for confidence
                // intervals) are never published as such; a cell is hidden whole when its
                // value fails the contributor rule.
                t.magnitude.retain(|m| m.measure == 0);
                tabulated.push(t);
            }
            if crate::audit::trace() {
                eprintln!(
                    "tabulated {} table(s) in {:.1} s",
                    chunk.len(),
                    clock.elapsed().as_secs_f64()
                );
            }
            let gated: Vec<Result<Release, DisclosureError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = chunk
                    .iter()
                    .zip(tabulated)
                    .map(|(request, t)| {
                        scope.spawn(move || {
                            let prepared =
                                release::suppress_alone(request, source, policy, user, t)?;
                            let rel = release::settle(prepared, &[])?;
                            progress(request);
                            Ok(rel)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a gate thread panicked"))
                    .collect()
            });
            for rel in gated {
                let rel = rel?;
                release::record(self.wh, &rel, &[])?;
                out.push(Published {
                    id: rel.id.clone(),
                    dimensions: rel.table.dimensions.clone(),
                    cells: rel
                        .table
                        .cells
                        .iter()
                        .zip(&rel.pattern.status)
                        .map(|(c, s)| (*s == Status::Released).then(|| c.clone()))
                        .collect(),
                    outcome: Outcome::of(&rel, Vec::new()),
                    strides: rel.table.strides().to_vec(),
                });
            }
        }
        // A later release through this gate is audited against what was just published:
        // read the ledger again (it now holds the published tables and this session's
        // releases).
        self.entries = ledger::entries(self.wh)?;
        self.replayed = None;
        self.this_session.clear();
        Ok(out)
    }

    /// The raw (unsuppressed) table of a request on the sample, for an account granted
    /// raw sample results for a project (`aim_access::authorize_release`: only that crate makes a
    /// [`Grant`], so this cannot be reached without the check): written as CSV, logged with
    /// the account, never recorded as a release. The population is never available raw.
    pub async fn release_raw_sample(
        &self,
        request: &TableRequest,
        grant: &Grant,
        out: &Path,
    ) -> Result<PathBuf, DisclosureError> {
        release::run_raw(self.wh, request, grant, out).await
    }
}
