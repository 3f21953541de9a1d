//! Projects in the store: created from a sheet, moved by appending events, rebuilt on every
//! read by replaying those events through `aim_projects::Workflow` (docs/projects.md,
//! "Storing a project"). The `state` column is what the events gave when written; a read
//! whose replay differs is an error, never silently fixed.

use super::Store;
use super::conn::Row;
use crate::{Account, AccountId, Member, ProjectOpError, ProjectRole, StoreError};
use aim_projects::{
    Attempt, Document, Project, ProjectData, ProjectSheet, State, Step, TransitionRecord, Workflow,
};
use chrono::{DateTime, Datelike, SecondsFormat, Utc};

const EVENT_COLUMNS: &str = "kind, at, actor, document_kind, reference, action, from_state, to_state, note, decision_number";

/// A time as stored: UTC, RFC 3339 with nanoseconds (a replay compares times exactly).
fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

impl Store {
    fn corrupt(&self, what: String) -> StoreError {
        StoreError::Corrupt {
            store: self.name.clone(),
            what,
        }
    }

    fn time(&self, text: &str) -> Result<DateTime<Utc>, StoreError> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| self.corrupt(format!("time '{text}': {e}")))
    }

    fn state(&self, text: &str) -> Result<State, StoreError> {
        State::ALL
            .into_iter()
            .find(|s| s.id() == text)
            .ok_or_else(|| self.corrupt(format!("unknown project state '{text}'")))
    }

    /// Files a project: a new identifier (`P-YEAR-NNN`, numbered within the year of `at`),
    /// the project at intake (the sheet validated by aim-projects), `by` its requester.
    pub fn create_project(
        &mut self,
        sheet: ProjectSheet,
        by: &Account,
        at: DateTime<Utc>,
    ) -> Result<Project, ProjectOpError> {
        self.transaction("filing a project", Some("projects"), |s| {
            let name = s.name.clone();
            let prefix = format!("P-{}-", at.year());
            let n = s.rows(
                "numbering a project",
                "SELECT COUNT(*) FROM projects WHERE id LIKE ?",
                &[format!("{prefix}%").into()],
            )?[0]
                .int(0, &name)?;
            let id = format!("{prefix}{:03}", n + 1);
            let p = Project::new(&id, sheet, &by.email, at)?;
            let sheet_json = serde_json::to_string(p.sheet())
                .map_err(|e| s.corrupt(format!("the sheet as JSON: {e}")))?;
            let when = time_text(at);
            s.exec(
                "filing a project",
                "INSERT INTO projects (id, request_type, title, sheet, state, entered_at, created_by, created_by_account, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    id.clone().into(),
                    p.request_type().to_string().into(),
                    p.sheet().title.clone().into(),
                    sheet_json.into(),
                    p.state().id().into(),
                    when.clone().into(),
                    by.email.clone().into(),
                    by.id.0.into(),
                    when.clone().into(),
                ],
            )?;
            s.insert_member(&id, by.id, ProjectRole::Requester, &by.email, &when)?;
            Ok(p)
        })
    }

    fn insert_member(
        &mut self,
        project: &str,
        account: AccountId,
        role: ProjectRole,
        by: &str,
        when: &str,
    ) -> Result<(), StoreError> {
        self.exec(
            "adding a project member",
            "INSERT INTO project_members (project_id, account_id, role, added_by, added_at) VALUES (?, ?, ?, ?, ?)",
            &[
                project.into(),
                account.0.into(),
                role.as_str().into(),
                by.into(),
                when.into(),
            ],
        )?;
        Ok(())
    }

    /// True when a project with this identifier exists.
    pub fn project_exists(&mut self, id: &str) -> Result<bool, StoreError> {
        Ok(!self
            .rows(
                "reading a project",
                "SELECT id FROM projects WHERE id = ?",
                &[id.into()],
            )?
            .is_empty())
    }

    /// The project, rebuilt by replaying its stored events through the workflow. A project
    /// whose events the workflow refuses, or whose stored state differs from its replay, is an
    /// error ([`aim_projects::ProjectError`]).
    pub fn project(&mut self, id: &str) -> Result<Project, ProjectOpError> {
        let name = self.name.clone();
        let rows = self.rows(
            "reading a project",
            "SELECT id, sheet, state, entered_at, created_by, created_at FROM projects WHERE id = ?",
            &[id.into()],
        )?;
        let Some(r) = rows.first() else {
            return Err(StoreError::NoProject(id.to_string()).into());
        };
        let sheet: ProjectSheet = serde_json::from_str(&r.text(1, &name)?)
            .map_err(|e| self.corrupt(format!("project {id}: the sheet: {e}")))?;
        let mut data = ProjectData {
            id: r.text(0, &name)?,
            sheet,
            state: self.state(&r.text(2, &name)?)?,
            entered_at: self.time(&r.text(3, &name)?)?,
            created_by: r.text(4, &name)?,
            created_at: self.time(&r.text(5, &name)?)?,
            documents: Vec::new(),
            history: Vec::new(),
        };
        let events = self.rows(
            "reading a project's events",
            &format!(
                "SELECT {EVENT_COLUMNS} FROM project_events WHERE project_id = ? ORDER BY seq"
            ),
            &[id.into()],
        )?;
        for e in &events {
            self.push_event(&mut data, e)?;
        }
        Ok(Project::replay(&Workflow::builtin(), data)?)
    }

    fn push_event(&self, data: &mut ProjectData, e: &Row) -> Result<(), StoreError> {
        let n = &self.name;
        let at = self.time(&e.text(1, n)?)?;
        let actor = e.text(2, n)?;
        match e.text(0, n)?.as_str() {
            "document" => data.documents.push(Document {
                kind: e.text(3, n)?,
                reference: e.text(4, n)?,
                added_by: actor,
                added_at: at,
            }),
            "transition" => data.history.push(TransitionRecord {
                from: self.state(&e.text(6, n)?)?,
                to: self.state(&e.text(7, n)?)?,
                action: e.text(5, n)?,
                actor,
                at,
                note: e.opt_text(8, n)?,
                decision_number: e.opt_text(9, n)?,
            }),
            other => return Err(self.corrupt(format!("unknown project event '{other}'"))),
        }
        Ok(())
    }

    fn next_event_seq(&mut self, id: &str) -> Result<i64, StoreError> {
        let name = self.name.clone();
        let n = self.rows(
            "numbering a project's event",
            "SELECT COALESCE(MAX(seq), 0) FROM project_events WHERE project_id = ?",
            &[id.into()],
        )?[0]
            .int(0, &name)?;
        Ok(n + 1)
    }

    /// Attaches a document (its kind and a reference; the content is kept elsewhere), as
    /// `by`, at `at`. Refused by the workflow (unknown kind, a final state, time running back):
    /// nothing is stored.
    pub fn add_project_document(
        &mut self,
        id: &str,
        kind: &str,
        reference: &str,
        by: &Account,
        at: DateTime<Utc>,
    ) -> Result<Project, ProjectOpError> {
        self.transaction("attaching a document", Some("projects"), |s| {
            let mut p = s.project(id)?;
            p.add_document(&Workflow::builtin(), kind, reference, &by.email, at)?;
            let seq = s.next_event_seq(id)?;
            s.exec(
                "attaching a document",
                "INSERT INTO project_events (project_id, seq, kind, at, actor, document_kind, reference) VALUES (?, ?, 'document', ?, ?, ?, ?)",
                &[
                    id.into(),
                    seq.into(),
                    time_text(at).into(),
                    by.email.clone().into(),
                    kind.into(),
                    reference.into(),
                ],
            )?;
            Ok(p)
        })
    }

    /// Moves a project: the attempt (its actor set to `by`) goes through
    /// `aim_projects::Workflow::apply`; on success the transition is appended and the project's
    /// state updated in one transaction; a refusal (the typed reason) stores nothing.
    pub fn move_project(
        &mut self,
        id: &str,
        by: &Account,
        mut attempt: Attempt,
    ) -> Result<(Project, TransitionRecord), ProjectOpError> {
        attempt.actor = by.email.clone();
        self.transaction("moving a project", Some("projects"), |s| {
            let mut p = s.project(id)?;
            let r = Workflow::builtin().apply(&mut p, attempt)?;
            let seq = s.next_event_seq(id)?;
            let at = time_text(r.at);
            s.exec(
                "recording a transition",
                "INSERT INTO project_events (project_id, seq, kind, at, actor, action, from_state, to_state, note, decision_number) VALUES (?, ?, 'transition', ?, ?, ?, ?, ?, ?, ?)",
                &[
                    id.into(),
                    seq.into(),
                    at.clone().into(),
                    r.actor.clone().into(),
                    r.action.clone().into(),
                    r.from.id().into(),
                    r.to.id().into(),
                    r.note.clone().into(),
                    r.decision_number.clone().into(),
                ],
            )?;
            s.exec(
                "recording a transition",
                "UPDATE projects SET state = ?, entered_at = ? WHERE id = ?",
                &[r.to.id().into(), at.into(), id.into()],
            )?;
            Ok((p, r))
        })
    }

    /// Takes a project forward to `target` along its type's main path, as `by` at `at`
    /// (`aim_projects::Workflow::steps_to`): each missing document registered with
    /// `reference`, each action taken through [`Store::move_project`] (a committee decision
    /// with `decision_number`), each step its own stored event. For the demo and for tests;
    /// the first refused step stops it, the steps before it stay stored.
    pub fn advance_project(
        &mut self,
        id: &str,
        by: &Account,
        target: State,
        reference: &str,
        decision_number: &str,
        at: DateTime<Utc>,
    ) -> Result<Project, ProjectOpError> {
        let p = self.project(id)?;
        let steps = Workflow::builtin()
            .steps_to(p.request_type(), &p.flags(), p.state(), target)
            .ok_or_else(|| {
                ProjectOpError::Refused(aim_projects::TransitionError::WrongState {
                    action: format!("advance to {target}"),
                    state: p.state(),
                    request_type: p.request_type(),
                    allowed: Vec::new(),
                })
            })?;
        let mut p = p;
        for step in steps {
            p = match step {
                Step::Document(kind) if p.has_document(&kind) => p,
                Step::Document(kind) => self.add_project_document(id, &kind, reference, by, at)?,
                Step::Move {
                    action,
                    decision_number: needed,
                } => {
                    let mut attempt = Attempt::new(&action, &by.email, at);
                    if needed {
                        attempt.decision_number = Some(decision_number.to_string());
                    }
                    self.move_project(id, by, attempt)?.0
                }
            };
        }
        Ok(p)
    }

    /// Every project's identifier, in order.
    pub fn project_ids(&mut self) -> Result<Vec<String>, StoreError> {
        let name = self.name.clone();
        self.rows(
            "listing projects",
            "SELECT id FROM projects ORDER BY id",
            &[],
        )?
        .iter()
        .map(|r| r.text(0, &name))
        .collect()
    }

    /// The projects `account` is a member of, with its role in each.
    pub fn projects_of(
        &mut self,
        account: &Account,
    ) -> Result<Vec<(String, ProjectRole)>, StoreError> {
        let name = self.name.clone();
        let rows = self.rows(
            "listing an account's projects",
            "SELECT project_id, role FROM project_members WHERE account_id = ? ORDER BY project_id",
            &[account.id.0.into()],
        )?;
        rows.iter()
            .map(|r| Ok((r.text(0, &name)?, self.project_role(&r.text(1, &name)?)?)))
            .collect()
    }

    fn project_role(&self, text: &str) -> Result<ProjectRole, StoreError> {
        text.parse().map_err(|e: String| self.corrupt(e))
    }

    /// `account`'s role in project `id`; `None` when it is not a member (or no such project).
    pub fn membership(
        &mut self,
        id: &str,
        account: &Account,
    ) -> Result<Option<ProjectRole>, StoreError> {
        let name = self.name.clone();
        let rows = self.rows(
            "reading a project membership",
            "SELECT role FROM project_members WHERE project_id = ? AND account_id = ?",
            &[id.into(), account.id.0.into()],
        )?;
        match rows.first() {
            Some(r) => Ok(Some(self.project_role(&r.text(0, &name)?)?)),
            None => Ok(None),
        }
    }

    /// The members of project `id`, the requester first.
    pub fn project_members(&mut self, id: &str) -> Result<Vec<Member>, StoreError> {
        let name = self.name.clone();
        let rows = self.rows(
            "listing a project's members",
            "SELECT account_id, role, added_by, added_at FROM project_members WHERE project_id = ? ORDER BY role DESC, added_at, account_id",
            &[id.into()],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(Member {
                account: self.account_by_id(AccountId(r.int(0, &name)?))?,
                role: self.project_role(&r.text(1, &name)?)?,
                added_by: r.text(2, &name)?,
                added_at: r.text(3, &name)?,
            });
        }
        Ok(out)
    }

    /// Adds the account with e-mail `email` to project `id` as a member, recorded as added by
    /// `by`. An account already in the project is refused.
    pub fn add_project_member(
        &mut self,
        id: &str,
        email: &str,
        by: &Account,
    ) -> Result<Member, StoreError> {
        let account = self.account(email)?;
        self.transaction("adding a project member", Some("projects"), |s| {
            if !s.project_exists(id)? {
                return Err(StoreError::NoProject(id.to_string()));
            }
            if let Some(role) = s.membership(id, &account)? {
                return Err(StoreError::Invalid(format!(
                    "{account} is already in project {id} (as its {role})"
                )));
            }
            let when = super::now();
            s.insert_member(id, account.id, ProjectRole::Member, &by.email, &when)?;
            Ok(Member {
                account,
                role: ProjectRole::Member,
                added_by: by.email.clone(),
                added_at: when,
            })
        })
    }
}
