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
//! A stored CTE keeps only the columns its readers read: they are planned first, against its
//! table still without rows, and what their optimized plans scan of it is what it computes.
//!
//! Shaped as delta-rs shapes its operations: [`CtePlan::new`] looks at the statement's syntax
//! and decides; [`CtePlan::execute`] plans the statement, then computes and stores, each stored
//! CTE's rows given to the table its readers' plans already hold.

mod sketch;
mod stored;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arrow::datatypes::Schema;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Result;
use datafusion::datasource::TableProvider;
use datafusion::logical_expr::{Expr as LogicalExpr, LogicalPlan};
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    Cte, Expr, Function, GroupByExpr, Ident, JoinConstraint, JoinOperator, ObjectName,
    ObjectNamePart, Query, Select, SelectItem, SetExpr, Statement, TableAlias, TableFactor, Visit,
    VisitMut, Visitor, VisitorMut,
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

    /// Plans `statement` (as [`CtePlan::new`] rewrote it) and computes its stored CTEs, in
    /// definition order. Each stored CTE keeps only the columns its readers read: AWS's CTEs
    /// pass every column of the feeds' wide rows along, and each one kept is held, spilled and
    /// read back by every CTE it passes through. The returned plan reads the stored rows.
    pub async fn execute(
        self,
        ctx: &SessionContext,
        statement: DfStatement,
    ) -> Result<LogicalPlan> {
        // The stored tables' names go when this does; the plans keep their rows.
        let mut registered = Registered {
            ctx: ctx.clone(),
            names: Vec::new(),
        };
        let references = self.references();
        let tables = self
            .register_pending(ctx, &references, &mut registered)
            .await?;
        let state = ctx.state();
        let body = state.statement_to_plan(statement).await?;
        let plans = self.pruned_plans(ctx, &references, &body, &tables).await?;
        let mut held = 0;
        for (k, stored_as, plan) in plans.into_iter().rev() {
            let name = &self.ctes[k].alias.name;
            let table = &tables[stored_as];
            let started = std::time::Instant::now();
            // Optimized already: executed as it was read for its columns.
            let physical = state
                .query_planner()
                .create_physical_plan(&plan, &state)
                .await?;
            let task = ctx.task_ctx();
            let streams = datafusion::physical_plan::execute_stream_partitioned(
                Arc::clone(&physical),
                Arc::clone(&task),
            )?;
            let budget = stored::memory_budget(&ctx.runtime_env()).saturating_sub(held);
            let rows = StoredRows::store(&name.value, streams, &task, budget)
                .await?
                .partitioned_as(physical.properties().output_partitioning());
            held += rows.memory_size();
            tracing::debug!(
                cte = %name.value,
                columns = physical.schema().fields().len(),
                of = table.schema().fields().len(),
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
            table.fill(rows)?;
        }
        Ok(body)
    }

    /// Registers a table for each stored CTE, without rows yet, so that what reads it can be
    /// planned before it is computed.
    async fn register_pending(
        &self,
        ctx: &SessionContext,
        references: &[Vec<usize>],
        registered: &mut Registered,
    ) -> Result<HashMap<String, Arc<StoredTable>>> {
        let state = ctx.state();
        let mut tables = HashMap::new();
        for (k, name) in self.stored_ctes() {
            let plan = state
                .statement_to_plan(self.select(k, references, None)?)
                .await?;
            // Analysed, so types are coerced (a CASE of a zoneless and a UTC timestamp is UTC);
            // every column nullable, as the rows' own schema may say where the plan's doesn't.
            let plan =
                state
                    .analyzer()
                    .execute_and_check(plan, state.config_options(), |_, _| {})?;
            let fields = plan.schema().fields().iter();
            let schema = Schema::new(
                fields
                    .map(|f| f.as_ref().clone().with_nullable(true))
                    .collect::<Vec<_>>(),
            );
            let table = Arc::new(StoredTable::pending(Arc::new(schema)));
            ctx.register_table(name, Arc::clone(&table) as _)?;
            registered.names.push(name.to_owned());
            tables.insert(name.to_owned(), table);
        }
        Ok(tables)
    }

    /// The optimized plan of each stored CTE, last to first, selecting only the columns that
    /// `body` and the later stored CTEs read of it.
    async fn pruned_plans(
        &self,
        ctx: &SessionContext,
        references: &[Vec<usize>],
        body: &LogicalPlan,
        tables: &HashMap<String, Arc<StoredTable>>,
    ) -> Result<Vec<(usize, &str, LogicalPlan)>> {
        let state = ctx.state();
        let mut read: HashMap<String, BTreeSet<usize>> = HashMap::new();
        columns_read(&state.optimize(body)?, tables, &mut read)?;
        let mut plans = Vec::new();
        for (k, name) in self.stored_ctes().rev() {
            let schema = tables[name].schema();
            let mut columns: Vec<String> = read
                .get(name)
                .into_iter()
                .flatten()
                .map(|&i| schema.field(i).name().clone())
                .collect();
            if columns.is_empty() {
                // Read only for its row count: any one column keeps the rows.
                columns.extend(schema.fields().first().map(|f| f.name().clone()));
            }
            let plan = state
                .statement_to_plan(self.select(k, references, Some(&columns))?)
                .await?;
            let plan = state.optimize(&plan)?;
            columns_read(&plan, tables, &mut read)?;
            plans.push((k, name, plan));
        }
        Ok(plans)
    }

    /// The stored CTEs' indices and stored names, in definition order.
    fn stored_ctes(&self) -> impl DoubleEndedIterator<Item = (usize, &str)> {
        (self.stored_as.iter().enumerate()).filter_map(|(k, s)| Some((k, s.as_deref()?)))
    }

    /// For each CTE, the inlined CTEs it reads (the stored ones are renamed tables by now).
    fn references(&self) -> Vec<Vec<usize>> {
        let names: Vec<String> = self.ctes.iter().map(|c| normalize(&c.alias.name)).collect();
        let index: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        self.ctes
            .iter()
            .map(|c| references_in(&c.query, &index))
            .collect()
    }

    /// `WITH <the inlined CTEs CTE k needs> SELECT <columns, or *> FROM <CTE k>`.
    fn select(
        &self,
        k: usize,
        references: &[Vec<usize>],
        columns: Option<&[String]>,
    ) -> Result<DfStatement> {
        let stored: Vec<bool> = self.stored_as.iter().map(Option::is_some).collect();
        let needed = needed(&[k], references, &stored, true);
        let mut with = with_clause();
        with.cte_tables = self
            .ctes
            .iter()
            .enumerate()
            .filter(|(i, _)| needed.contains(i))
            .map(|(_, c)| c.clone())
            .collect();
        let sql = format!("SELECT * FROM {}", self.ctes[k].alias.name);
        let mut select = match datafusion::sql::parser::DFParser::parse_sql(&sql)?.pop_front() {
            Some(DfStatement::Statement(s)) => *s,
            _ => unreachable!("a SELECT parses"),
        };
        if let Statement::Query(q) = &mut select {
            q.with = Some(with);
            if let (Some(columns), SetExpr::Select(body)) = (columns, q.body.as_mut()) {
                body.projection = columns
                    .iter()
                    .map(|c| SelectItem::UnnamedExpr(Expr::Identifier(Ident::with_quote('"', c))))
                    .collect();
            }
        }
        Ok(DfStatement::Statement(Box::new(select)))
    }
}

/// Adds to `read` the columns of each table of `tables` that an optimized `plan` (its
/// projections and filters pushed into its scans) reads.
fn columns_read(
    plan: &LogicalPlan,
    tables: &HashMap<String, Arc<StoredTable>>,
    read: &mut HashMap<String, BTreeSet<usize>>,
) -> Result<()> {
    plan.apply_with_subqueries(|node| {
        let LogicalPlan::TableScan(scan) = node else {
            return Ok(TreeNodeRecursion::Continue);
        };
        let name = scan.table_name.table();
        let Some(table) = tables.get(name) else {
            return Ok(TreeNodeRecursion::Continue);
        };
        let schema = table.schema();
        let columns = read.entry(name.to_owned()).or_default();
        match &scan.projection {
            Some(projection) => columns.extend(projection.iter().copied()),
            None => columns.extend(0..schema.fields().len()),
        }
        for column in scan.filters.iter().flat_map(LogicalExpr::column_refs) {
            columns.insert(schema.index_of(&column.name)?);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(())
}

/// The stored tables' names while a statement is planned: plans made meanwhile read them, and
/// keep their rows after the names are gone.
struct Registered {
    ctx: SessionContext,
    names: Vec<String>,
}

impl Drop for Registered {
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
