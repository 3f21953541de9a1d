//! Where a request's `person_id` comes from. The gate counts persons by the query's
//! `person_id`, so that column must carry each row's own person: a query that hands one
//! person's attributes to another's identifier (a window function such as `lead(person_id)`,
//! an aggregate, an expression, or a join of two person-level tables on anything but the
//! person) would make the gate audit the wrong sets of persons. The check reads the query's
//! logical plan: every projection that outputs a column named `person_id` passes a column
//! named `person_id` through unchanged, and every join whose two sides both read a table with
//! persons joins them on `person_id`.

use crate::DisclosureError;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{Expr, LogicalPlan};

const PERSON: &str = "person_id";

/// Columns that identify a provider who may be a natural person (a practitioner, a
/// prescriber, a pharmacy): a table whose query reads one may describe one provider's
/// activity in a cell.
pub const PROVIDER_COLUMNS: [&str; 3] = ["provider_id", "prescriber_id", "pharmacy_id"];

/// Whether `e` is the column `person_id` itself (possibly renamed to it, or cast).
fn is_person_column(e: &Expr) -> bool {
    match e {
        Expr::Column(c) => c.name == PERSON,
        Expr::Alias(a) => is_person_column(&a.expr),
        Expr::Cast(c) => is_person_column(&c.expr),
        Expr::TryCast(c) => is_person_column(&c.expr),
        _ => false,
    }
}

/// Whether a join condition holds `person = person` among its conjuncts.
fn joins_on_person(e: &Expr) -> bool {
    match e {
        Expr::BinaryExpr(b) => match b.op {
            datafusion::logical_expr::Operator::Eq => {
                is_person_column(&b.left) && is_person_column(&b.right)
            }
            datafusion::logical_expr::Operator::And => {
                joins_on_person(&b.left) || joins_on_person(&b.right)
            }
            _ => false,
        },
        _ => false,
    }
}

/// Whether a plan reads a table with persons (a `person_id` column).
fn reads_persons(plan: &LogicalPlan) -> bool {
    let mut found = false;
    let _ = plan.apply_with_subqueries(|n| {
        if let LogicalPlan::TableScan(scan) = n
            && scan.source.schema().field_with_name(PERSON).is_ok()
        {
            found = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// Refuses a query whose `person_id` may not be each row's own person.
pub async fn check(ctx: &SessionContext, sql: &str) -> Result<(), DisclosureError> {
    let plan = ctx
        .state()
        .create_logical_plan(sql)
        .await
        .map_err(|e| DisclosureError::Request(format!("the query cannot be planned: {e}")))?;
    let mut problem: Option<String> = None;
    let _ = plan.apply_with_subqueries(|n| {
        match n {
            LogicalPlan::Projection(p) => {
                for (e, field) in p.expr.iter().zip(p.schema.fields()) {
                    if field.name() == PERSON && !is_person_column(e) {
                        problem = Some(format!(
                            "person_id is computed ({e}); it must be the persons' own column"
                        ));
                    }
                }
            }
            LogicalPlan::Aggregate(a) => {
                for (e, field) in a
                    .aggr_expr
                    .iter()
                    .zip(a.schema.fields().iter().skip(a.group_expr.len()))
                {
                    if field.name() == PERSON && !is_person_column(e) {
                        problem = Some(format!(
                            "person_id is an aggregate ({e}); group by person_id instead"
                        ));
                    }
                }
            }
            LogicalPlan::Join(j) if reads_persons(&j.left) && reads_persons(&j.right) => {
                let on_person =
                    j.on.iter()
                        .any(|(l, r)| is_person_column(l) && is_person_column(r))
                        || j.filter.as_ref().is_some_and(joins_on_person);
                if !on_person {
                    problem = Some(
                        "two tables of persons are joined on something other than person_id \
                         (JOIN … ON a.person_id = b.person_id): one person's rows would be \
                         counted under another's identifier"
                            .into(),
                    );
                }
            }
            _ => {}
        }
        Ok(if problem.is_some() {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    match problem {
        Some(p) => Err(DisclosureError::Request(p)),
        None => Ok(()),
    }
}

/// The provider-identifying columns ([`PROVIDER_COLUMNS`]) the query reads, anywhere (output,
/// filter, join, grouping), as `table.column`: read from the optimised plan, whose table scans
/// keep only the columns the query uses.
pub async fn providers_read(
    ctx: &SessionContext,
    sql: &str,
) -> Result<Vec<String>, DisclosureError> {
    let state = ctx.state();
    let plan = state
        .create_logical_plan(sql)
        .await
        .and_then(|p| state.optimize(&p))
        .map_err(|e| DisclosureError::Request(format!("the query cannot be planned: {e}")))?;
    let mut found: Vec<String> = Vec::new();
    let _ = plan.apply_with_subqueries(|n| {
        if let LogicalPlan::TableScan(scan) = n {
            for field in scan.projected_schema.fields() {
                if PROVIDER_COLUMNS.contains(&field.name().as_str()) {
                    found.push(format!("{}.{}", scan.table_name, field.name()));
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found.sort();
    found.dedup();
    Ok(found)
}
