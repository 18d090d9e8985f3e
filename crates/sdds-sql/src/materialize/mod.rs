//! CTEs a statement references more than once, computed once.
//!
//! DataFusion inlines a CTE at every reference. AWS's reports chain CTEs that each read earlier
//! ones several times, so inlined they recompute the same window functions and joins many
//! times over, hold all of their hash tables at once, and grow plans large enough that
//! optimising them takes seconds. As PostgreSQL and DuckDB do, a CTE that is read more than
//! once and does real work (a join, an aggregate, a window, DISTINCT) is computed once, before
//! the statement: its rows stay in memory within the session's pool or go to a spill file, and
//! the statement reads them as a table whose exact row count the join planner sees. The
//! exception is a CTE that DISTINCTs or groups a join and is only ever looked up through LEFT
//! JOINs (AWS's `seller_invoice_id_mapping`): whole, it can be many times larger than all of its
//! lookups need, so each lookup computes its own pruned part instead.
//!
//! Shaped as delta-rs shapes its operations: [`CtePlan::new`] looks at the statement's syntax
//! and decides, [`CtePlan::execute`] computes and stores, and dropping the [`StoredCtes`] it
//! returns, once the statement is planned, removes the stored tables' names (the plan keeps
//! their rows).

mod sketch;
mod stored;

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use datafusion::common::Result;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    Cte, Expr, Function, GroupByExpr, Ident, JoinConstraint, JoinOperator, ObjectName,
    ObjectNamePart, Query, Select, SetExpr, Statement, TableAlias, TableFactor, Visit, VisitMut,
    Visitor, VisitorMut,
};

pub(crate) use stored::StoredExec;
pub use stored::{StoredRows, StoredTable};

/// Numbers the stored tables of every statement, so concurrent statements never share a name.
static STORED: AtomicUsize = AtomicUsize::new(0);

/// Which CTEs of a statement's top-level `WITH` are computed first, and the statement rewritten
/// to read them.
#[derive(Debug)]
pub struct CtePlan {
    /// The CTEs, in definition order, with references to stored CTEs renamed.
    ctes: Vec<Cte>,
    /// For each CTE: the name it is stored under, if it is stored.
    stored_as: Vec<Option<String>>,
}

impl CtePlan {
    /// Decides which CTEs of `statement` to store, and rewrites `statement` (and the plan's own
    /// copies of the CTEs) to read each stored CTE from its table. `aggregates` are the names of
    /// the session's aggregate functions, which tell a CTE that aggregates from one that
    /// doesn't. `None`: nothing to store; `statement` is unchanged.
    pub fn new(statement: &mut DfStatement, aggregates: &HashSet<String>) -> Option<CtePlan> {
        let query = top_query(statement)?;
        let with = query.with.as_ref()?;
        if with.recursive {
            return None;
        }
        let names: Vec<String> = with
            .cte_tables
            .iter()
            .map(|c| normalize(&c.alias.name))
            .collect();
        let index: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        if index.len() != names.len() {
            return None;
        }
        // Names a nested WITH redefines would need scoping to rename; leave them alone.
        let mut shadowed = HashSet::new();
        for cte in &with.cte_tables {
            nested_cte_names(&cte.query, &mut shadowed);
        }
        nested_cte_names_outside_with(query, &mut shadowed);
        // References from each CTE body and from the statement's own body.
        let references: Vec<Vec<usize>> = with
            .cte_tables
            .iter()
            .map(|c| references_in(&c.query, &index))
            .collect();
        let body_references = {
            let mut body = query.clone();
            body.with = None;
            references_in(&body, &index)
        };
        // References that are the right side of a LEFT JOIN, per CTE.
        let mut lookups = vec![0usize; names.len()];
        let _ = query.visit(&mut LeftJoined(|name: &ObjectName| {
            if let Some(i) = relation_name(name).and_then(|n| index.get(n.as_str()).copied()) {
                lookups[i] += 1;
            }
        }));
        // How often each CTE would be computed if inlined, last to first: a reference from a
        // stored CTE or from the body counts once, one from an inlined CTE as often as it runs.
        let count = names.len();
        let mut runs = vec![0usize; count];
        let mut stored = vec![false; count];
        for &i in &body_references {
            runs[i] += 1;
        }
        for k in (0..count).rev() {
            let looked_up = groups_a_join(&with.cte_tables[k].query)
                && lookups[k] == references_to(k, &references, &body_references);
            stored[k] = runs[k] > 1
                && !shadowed.contains(&names[k])
                && does_work(&with.cte_tables[k].query, aggregates)
                && !looked_up;
            if looked_up && runs[k] > 1 {
                tracing::debug!(cte = %names[k], "inlined: looked up only, grouping a join");
            }
            let weight = if stored[k] { 1 } else { runs[k] };
            for &i in &references[k] {
                runs[i] += weight;
            }
        }
        if !stored.iter().any(|s| *s) {
            return None;
        }
        tracing::debug!(
            stored = ?names.iter().zip(&stored).filter(|(_, s)| **s).map(|(n, _)| n).collect::<Vec<_>>(),
            "CTEs to store"
        );
        let run = STORED.fetch_add(1, Ordering::Relaxed);
        let stored_as: Vec<Option<String>> = (0..count)
            .map(|k| stored[k].then(|| format!("__stored_{run}_{}", names[k])))
            .collect();
        let renames: HashMap<String, String> = names
            .iter()
            .zip(&stored_as)
            .filter_map(|(n, s)| s.clone().map(|s| (n.clone(), s)))
            .collect();
        let query = top_query_mut(statement)?;
        let mut ctes = query.with.take()?.cte_tables;
        let _ = VisitMut::visit(&mut ctes, &mut Renamer(&renames));
        let _ = VisitMut::visit(query, &mut Renamer(&renames));
        // The statement keeps the inlined CTEs its body still needs.
        let needed = needed(&body_references, &references, &stored, false);
        let kept: Vec<Cte> = ctes
            .iter()
            .enumerate()
            .filter(|(i, _)| needed.contains(i))
            .map(|(_, c)| c.clone())
            .collect();
        if !kept.is_empty() {
            let mut with = with_clause();
            with.cte_tables = kept;
            query.with = Some(with);
        }
        Some(CtePlan { ctes, stored_as })
    }

    /// Names of the stored CTEs, in the order they are computed.
    pub fn stored(&self) -> Vec<&str> {
        self.ctes
            .iter()
            .zip(&self.stored_as)
            .filter(|(_, s)| s.is_some())
            .map(|(c, _)| c.alias.name.value.as_str())
            .collect()
    }

    /// Computes each stored CTE, in definition order, and registers its rows under its stored
    /// name in `ctx`.
    pub async fn execute(self, ctx: &SessionContext) -> Result<StoredCtes> {
        let mut registered = StoredCtes {
            ctx: ctx.clone(),
            names: Vec::new(),
        };
        let references: Vec<Vec<usize>> = {
            let index: HashMap<String, usize> = self
                .ctes
                .iter()
                .enumerate()
                .map(|(i, c)| (normalize(&c.alias.name), i))
                .collect();
            let index: HashMap<&str, usize> = index.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            self.ctes
                .iter()
                .map(|c| references_in(&c.query, &index))
                .collect()
        };
        let stored: Vec<bool> = self.stored_as.iter().map(Option::is_some).collect();
        let mut held = 0;
        for (k, stored_as) in self.stored_as.iter().enumerate() {
            let Some(stored_as) = stored_as else {
                continue;
            };
            // WITH <the inlined CTEs this one needs> SELECT * FROM <this one>
            let needed = needed(&[k], &references, &stored, true);
            let mut with = with_clause();
            with.cte_tables = self
                .ctes
                .iter()
                .enumerate()
                .filter(|(i, _)| needed.contains(i))
                .map(|(_, c)| c.clone())
                .collect();
            let name = self.ctes[k].alias.name.clone();
            let sql = format!("SELECT * FROM {name}");
            let mut select = match datafusion::sql::parser::DFParser::parse_sql(&sql)?.pop_front() {
                Some(DfStatement::Statement(s)) => *s,
                _ => unreachable!("a SELECT parses"),
            };
            if let Statement::Query(q) = &mut select {
                q.with = Some(with);
            }
            let plan = ctx
                .state()
                .statement_to_plan(DfStatement::Statement(Box::new(select)))
                .await?;
            let started = std::time::Instant::now();
            let frame = ctx.execute_logical_plan(plan).await?;
            let physical = frame.create_physical_plan().await?;
            let streams = datafusion::physical_plan::execute_stream_partitioned(
                Arc::clone(&physical),
                ctx.task_ctx(),
            )?;
            let budget = stored::memory_budget(&ctx.runtime_env()).saturating_sub(held);
            let rows = StoredRows::store(&name.value, streams, &ctx.runtime_env(), budget)
                .await?
                .partitioned_as(physical.properties().output_partitioning());
            held += rows.memory_size();
            tracing::debug!(
                cte = %name.value,
                rows = rows.num_rows(),
                bytes_in_memory = rows.memory_size(),
                spilled_partitions = rows.spilled_partitions(),
                seconds = started.elapsed().as_secs_f64(),
                "stored CTE"
            );
            tracing::trace!(
                cte = %name.value,
                plan = %DisplayableExecutionPlan::with_metrics(physical.as_ref()).indent(true),
                "stored CTE plan with metrics"
            );
            ctx.register_table(stored_as.as_str(), Arc::new(StoredTable::new(rows)))?;
            registered.names.push(stored_as.clone());
        }
        Ok(registered)
    }
}

/// The stored tables of one statement, registered in the session while this lives: plans made
/// meanwhile read them, and keep their rows after it is dropped.
pub struct StoredCtes {
    ctx: SessionContext,
    names: Vec<String>,
}

impl std::fmt::Debug for StoredCtes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCtes")
            .field("names", &self.names)
            .finish()
    }
}

impl Drop for StoredCtes {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = self.ctx.deregister_table(name.as_str());
        }
    }
}

fn with_clause() -> datafusion::sql::sqlparser::ast::With {
    datafusion::sql::sqlparser::ast::With {
        with_token: datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken::empty(
        ),
        recursive: false,
        cte_tables: Vec::new(),
    }
}

/// The query of a statement whose CTEs may be stored: a query, or one under EXPLAIN ANALYZE.
fn top_query(statement: &DfStatement) -> Option<&Query> {
    match statement {
        DfStatement::Statement(s) => match s.as_ref() {
            Statement::Query(q) => Some(q),
            _ => None,
        },
        DfStatement::Explain(e) if e.options.analyze => top_query(&e.statement),
        _ => None,
    }
}

fn top_query_mut(statement: &mut DfStatement) -> Option<&mut Query> {
    match statement {
        DfStatement::Statement(s) => match s.as_mut() {
            Statement::Query(q) => Some(q),
            _ => None,
        },
        DfStatement::Explain(e) if e.options.analyze => top_query_mut(&mut e.statement),
        _ => None,
    }
}

/// A name as DataFusion resolves it: unquoted names are lower-cased.
fn normalize(ident: &Ident) -> String {
    match ident.quote_style {
        None => ident.value.to_lowercase(),
        Some(_) => ident.value.clone(),
    }
}

/// The single-part name of a relation, normalized.
fn relation_name(name: &ObjectName) -> Option<String> {
    match name.0.as_slice() {
        [ObjectNamePart::Identifier(ident)] => Some(normalize(ident)),
        _ => None,
    }
}

/// Every reference (one entry per place) to a name of `index` inside `query`.
fn references_in(query: &Query, index: &HashMap<&str, usize>) -> Vec<usize> {
    let mut found = Vec::new();
    let _ = query.visit(&mut Relations(|name: &ObjectName| {
        if let Some(i) = relation_name(name).and_then(|n| index.get(n.as_str()).copied()) {
            found.push(i);
        }
    }));
    found
}

/// How many places reference CTE `k`.
fn references_to(k: usize, references: &[Vec<usize>], body_references: &[usize]) -> usize {
    references
        .iter()
        .flatten()
        .chain(body_references)
        .filter(|&&i| i == k)
        .count()
}

/// True when the CTE's own SELECT removes duplicates from (DISTINCT, GROUP BY) what it joins:
/// duplicates its author expects the join to make. Its rows are not bounded by any input's, so a
/// join that fans out (a key many rows share on both sides) can make it far larger than what
/// reads it needs. Such a CTE that is only ever looked up through LEFT JOINs is not stored but
/// inlined: each lookup then computes only the rows its keys and ON conditions select (literal
/// conditions are pushed into it when planned, the other side's keys as the join's dynamic
/// filter when it runs; see [`crate::physical::BuildOnKnownSide`]).
fn groups_a_join(query: &Query) -> bool {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return false;
    };
    let grouped = select.distinct.is_some()
        || matches!(&select.group_by, GroupByExpr::Expressions(exprs, _) if !exprs.is_empty())
        || matches!(&select.group_by, GroupByExpr::All(_));
    let joins = select.from.iter().any(|t| !t.joins.is_empty()) || select.from.len() > 1;
    grouped && joins
}

/// The CTEs whose definitions a query needs: the `roots` it reads (the stored ones too when
/// `computing_roots`: they are what the query computes) and, through every inlined one, what
/// they read. Stored CTEs are read as tables, so their definitions are not followed.
fn needed(
    roots: &[usize],
    references: &[Vec<usize>],
    stored: &[bool],
    computing_roots: bool,
) -> HashSet<usize> {
    let mut seen = HashSet::new();
    let mut todo: Vec<usize> = roots
        .iter()
        .copied()
        .filter(|&r| computing_roots || !stored[r])
        .collect();
    seen.extend(todo.iter().copied());
    while let Some(i) = todo.pop() {
        for &j in &references[i] {
            if !stored[j] && seen.insert(j) {
                todo.push(j);
            }
        }
    }
    seen
}

/// True when computing the CTE costs more than keeping its rows: it joins, groups,
/// aggregates, windows, sorts or removes duplicates somewhere (a filtered, projected scan is cheaper
/// to repeat than to store).
fn does_work(query: &Query, aggregates: &HashSet<String>) -> bool {
    let mut work = Work {
        aggregates,
        found: false,
    };
    let _ = query.visit(&mut work);
    work.found
}

struct Work<'a> {
    aggregates: &'a HashSet<String>,
    found: bool,
}

impl Visitor for Work<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = query.body.as_ref() {
            self.found |= selects_work(select);
        }
        if matches!(query.body.as_ref(), SetExpr::SetOperation { .. }) || query.order_by.is_some() {
            self.found = true;
        }
        if self.found {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::Function(Function { name, over, .. }) = expr {
            let aggregate = name
                .0
                .last()
                .and_then(|p| match p {
                    ObjectNamePart::Identifier(i) => Some(i.value.to_lowercase()),
                    _ => None,
                })
                .is_some_and(|n| self.aggregates.contains(&n));
            if over.is_some() || aggregate {
                self.found = true;
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}

fn selects_work(select: &Select) -> bool {
    let grouped = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(exprs, _) => !exprs.is_empty(),
    };
    grouped
        || select.distinct.is_some()
        || select.having.is_some()
        || select.from.iter().any(|t| !t.joins.is_empty())
        || select.from.len() > 1
}

/// Collects the names nested `WITH` clauses define inside `query` (its own top-level `WITH`
/// included).
fn nested_cte_names(query: &Query, names: &mut HashSet<String>) {
    let _ = query.visit(&mut NestedWith(names));
}

/// Collects the names defined by `WITH` clauses nested anywhere below `query`'s own body.
fn nested_cte_names_outside_with(query: &Query, names: &mut HashSet<String>) {
    let mut body = query.clone();
    body.with = None;
    nested_cte_names(&body, names);
}

struct NestedWith<'a>(&'a mut HashSet<String>);

impl Visitor for NestedWith<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            self.0
                .extend(with.cte_tables.iter().map(|c| normalize(&c.alias.name)));
        }
        ControlFlow::Continue(())
    }
}

/// Calls a function on every relation name.
struct Relations<F>(F);

impl<F: FnMut(&ObjectName)> Visitor for Relations<F> {
    type Break = ();

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        (self.0)(relation);
        ControlFlow::Continue(())
    }
}

/// Calls a function on the name of every relation that is the right side of a LEFT JOIN.
struct LeftJoined<F>(F);

impl<F: FnMut(&ObjectName)> Visitor for LeftJoined<F> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let mut selects = vec![query.body.as_ref()];
        while let Some(body) = selects.pop() {
            match body {
                SetExpr::Select(select) => {
                    let joins = select.from.iter().flat_map(|t| &t.joins);
                    for join in joins {
                        if let (
                            JoinOperator::Left(JoinConstraint::On(_))
                            | JoinOperator::LeftOuter(JoinConstraint::On(_)),
                            TableFactor::Table { name, .. },
                        ) = (&join.join_operator, &join.relation)
                        {
                            (self.0)(name);
                        }
                    }
                }
                SetExpr::SetOperation { left, right, .. } => {
                    selects.push(left);
                    selects.push(right);
                }
                _ => {}
            }
        }
        ControlFlow::Continue(())
    }
}

/// Points references to stored CTEs at their tables, keeping the name they are known by
/// (`FROM cte` becomes `FROM __stored_1_cte AS cte`).
struct Renamer<'a>(&'a HashMap<String, String>);

impl VisitorMut for Renamer<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = factor
        {
            let Some(stored) = relation_name(name).and_then(|n| self.0.get(&n)) else {
                return ControlFlow::Continue(());
            };
            if alias.is_none() {
                let ObjectNamePart::Identifier(original) = &name.0[0] else {
                    return ControlFlow::Continue(());
                };
                *alias = Some(TableAlias {
                    explicit: true,
                    name: original.clone(),
                    columns: Vec::new(),
                    at: None,
                });
            }
            *name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new(stored.clone()))]);
        }
        ControlFlow::Continue(())
    }
}
