//! Named reports: one SQL file per report, with a header comment that describes it.
//!
//! A report file starts with `--` comment lines that name it, describe it in one line, declare
//! its parameters and explain its columns; the SQL follows:
//!
//! ```sql
//! -- name: seller-of-record
//! -- description: Invoiced, refunded, disbursed and outstanding by seller of record and month
//! -- param from: first invoice day included (default: today − 90 days, exclusive)
//! -- param broker: only this seller of record, e.g. AWS_EUROPE (default: all)
//! -- column "Broker ID": the AWS entity that sold (AWS_INC, AWS_EUROPE, …)
//! SELECT …
//! ```
//!
//! Parameters reach the SQL as placeholders (`$from`, `$to`, `$broker`, `$currency`) that
//! [`ReportParams::bind`] replaces with typed literals in the parsed statement, before
//! planning: a value is never spliced into SQL text, and a parameter left out is a typed NULL
//! that the optimizer folds away.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use chrono::{DateTime, SecondsFormat, Utc};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    CastKind, DataType, Expr, TimezoneInfo, Value, ValueWithSpan, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::tokenizer::Span;

use crate::session::parse_statements;
use crate::SqlError;

/// A report file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The header lacks a `-- name:` or `-- description:` line.
    #[error("report file {file}: the header has no `-- {field}:` line")]
    MissingField { file: String, field: &'static str },
    /// The header's name differs from the file name, so `sdds report <name>` would not find it.
    #[error("report file {file}: its header names it {name:?}; name the file {name}.sql")]
    NameMismatch { file: String, name: String },
    /// A parameter the engine does not supply.
    #[error("report {report}: unknown parameter {param:?} (known: from, to, broker, currency)")]
    UnknownParameter { report: String, param: String },
    /// The SQL does not parse, or is not exactly one statement.
    #[error("report {report}: {source}")]
    Sql {
        report: String,
        source: Box<SqlError>,
    },
    /// The SQL has more or fewer than one statement.
    #[error("report {report}: expected one SQL statement, found {found}")]
    StatementCount { report: String, found: usize },
    /// Two report files with the same name.
    #[error("two reports are named {0}")]
    Duplicate(String),
    /// `sdds report <name>` for a name no file has.
    #[error("no report named {name:?}{}; `sdds report list` shows them", suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    NotFound {
        name: String,
        suggestion: Option<String>,
    },
    /// A value given for a parameter the report does not declare.
    #[error("report {report} has no --{param} parameter (it takes: {declared})")]
    NotAParameter {
        report: String,
        param: &'static str,
        declared: String,
    },
}

/// A parameter of a report, as its header declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    /// `from`, `to`, `broker` or `currency`.
    pub name: String,
    /// What it restricts, with its default.
    pub meaning: String,
}

/// A report: its header, and its SQL.
#[derive(Debug, Clone)]
pub struct Report {
    /// Kebab-case name, the file's stem.
    pub name: String,
    /// One line.
    pub description: String,
    /// The parameters it takes.
    pub params: Vec<ParamSpec>,
    /// Output columns and their meaning, in output order.
    pub columns: Vec<(String, String)>,
    /// The whole file, header included.
    pub sql: String,
}

/// The parameters the engine binds; see the module documentation.
const KNOWN_PARAMS: [&str; 4] = ["from", "to", "broker", "currency"];

impl Report {
    /// Parses a report file named `file` (e.g. `sales-compensation.sql`).
    pub fn parse(file: &str, text: &str) -> Result<Report, ReportError> {
        let mut name = None;
        let mut description = None;
        let mut params = Vec::new();
        let mut columns = Vec::new();
        for line in text.lines() {
            let Some(comment) = line.trim().strip_prefix("--") else {
                if line.trim().is_empty() {
                    continue;
                }
                break;
            };
            let comment = comment.trim();
            if let Some(v) = comment.strip_prefix("name:") {
                name = Some(v.trim().to_string());
            } else if let Some(v) = comment.strip_prefix("description:") {
                description = Some(v.trim().to_string());
            } else if let Some(v) = comment.strip_prefix("param ") {
                let (param, meaning) = v.split_once(':').unwrap_or((v, ""));
                params.push(ParamSpec {
                    name: param.trim().to_string(),
                    meaning: meaning.trim().to_string(),
                });
            } else if let Some(v) = comment.strip_prefix("column ") {
                let (column, meaning) = split_column(v);
                columns.push((column, meaning));
            }
        }
        let name = name.ok_or_else(|| ReportError::MissingField {
            file: file.to_string(),
            field: "name",
        })?;
        let description = description.ok_or_else(|| ReportError::MissingField {
            file: file.to_string(),
            field: "description",
        })?;
        if file.strip_suffix(".sql").unwrap_or(file) != name {
            return Err(ReportError::NameMismatch {
                file: file.to_string(),
                name,
            });
        }
        if let Some(p) = params
            .iter()
            .find(|p| !KNOWN_PARAMS.contains(&p.name.as_str()))
        {
            return Err(ReportError::UnknownParameter {
                report: name,
                param: p.name.clone(),
            });
        }
        let report = Report {
            name,
            description,
            params,
            columns,
            sql: text.to_string(),
        };
        report.statement()?;
        Ok(report)
    }

    /// The report's statement, parsed, with its placeholders still unbound.
    pub fn statement(&self) -> Result<DfStatement, ReportError> {
        let sql_error = |source| ReportError::Sql {
            report: self.name.clone(),
            source: Box::new(source),
        };
        let mut statements = parse_statements(&self.sql).map_err(sql_error)?;
        if statements.len() != 1 {
            return Err(ReportError::StatementCount {
                report: self.name.clone(),
                found: statements.len(),
            });
        }
        Ok(statements.remove(0))
    }

    /// Whether the header declares parameter `name`.
    pub fn takes(&self, name: &str) -> bool {
        self.params.iter().any(|p| p.name == name)
    }
}

/// `"Net Revenue": meaning` or `net_revenue: meaning`.
fn split_column(text: &str) -> (String, String) {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('"') {
        if let Some((column, meaning)) = rest.split_once('"') {
            let meaning = meaning.trim_start().trim_start_matches(':').trim();
            return (column.to_string(), meaning.to_string());
        }
    }
    let (column, meaning) = text.split_once(':').unwrap_or((text, ""));
    (column.trim().to_string(), meaning.trim().to_string())
}

/// Every report, by name.
#[derive(Debug, Clone, Default)]
pub struct ReportCatalog {
    reports: BTreeMap<String, Report>,
}

impl ReportCatalog {
    /// The catalog of report files given as (file name, text).
    pub fn parse<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<ReportCatalog, ReportError> {
        let mut reports = BTreeMap::new();
        for (file, text) in files {
            let report = Report::parse(file, text)?;
            if reports.contains_key(&report.name) {
                return Err(ReportError::Duplicate(report.name));
            }
            reports.insert(report.name.clone(), report);
        }
        Ok(ReportCatalog { reports })
    }

    /// The reports, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Report> {
        self.reports.values()
    }

    /// The report `name`, or an error that suggests the closest name.
    pub fn get(&self, name: &str) -> Result<&Report, ReportError> {
        self.reports.get(name).ok_or_else(|| ReportError::NotFound {
            name: name.to_string(),
            suggestion: self
                .reports
                .keys()
                .map(|k| (strsim::levenshtein(k, name), k))
                .filter(|(d, k)| *d <= 3.max(k.len() / 3))
                .min()
                .map(|(_, k)| k.clone()),
        })
    }
}

/// Values for a report's parameters; `None` leaves the report's default in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportParams {
    /// Inclusive lower bound of the report's date column.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound of the report's date column.
    pub to: Option<DateTime<Utc>>,
    /// Seller of record (`broker_id`), e.g. `AWS_EUROPE`.
    pub broker: Option<String>,
    /// Currency code, e.g. `EUR`.
    pub currency: Option<String>,
}

impl ReportParams {
    /// Checks that `report` declares every parameter given a value.
    pub fn check(&self, report: &Report) -> Result<(), ReportError> {
        let given = [
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
            ("broker", self.broker.is_some()),
            ("currency", self.currency.is_some()),
        ];
        for (param, is_given) in given {
            if is_given && !report.takes(param) {
                return Err(ReportError::NotAParameter {
                    report: report.name.clone(),
                    param,
                    declared: report
                        .params
                        .iter()
                        .map(|p| format!("--{}", p.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        Ok(())
    }

    /// Replaces `$from`, `$to`, `$broker` and `$currency` in `statement` with typed literals
    /// (typed NULLs when not given). Any other placeholder is an error.
    pub fn bind(&self, report: &str, statement: &mut DfStatement) -> Result<(), ReportError> {
        let DfStatement::Statement(inner) = statement else {
            return Ok(());
        };
        let mut binder = Binder {
            params: self,
            unknown: None,
        };
        let _ = inner.visit(&mut binder);
        match binder.unknown {
            Some(param) => Err(ReportError::UnknownParameter {
                report: report.to_string(),
                param,
            }),
            None => Ok(()),
        }
    }
}

struct Binder<'a> {
    params: &'a ReportParams,
    unknown: Option<String>,
}

impl VisitorMut for Binder<'_> {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::Value(ValueWithSpan {
            value: Value::Placeholder(name),
            ..
        }) = expr
        else {
            return ControlFlow::Continue(());
        };
        let timestamp = DataType::Timestamp(None, TimezoneInfo::WithTimeZone);
        *expr = match name.trim_start_matches('$') {
            "from" => typed(self.params.from.map(rfc3339), timestamp),
            "to" => typed(self.params.to.map(rfc3339), timestamp),
            "broker" => typed(self.params.broker.clone(), DataType::Varchar(None)),
            "currency" => typed(self.params.currency.clone(), DataType::Varchar(None)),
            other => {
                self.unknown = Some(other.to_string());
                return ControlFlow::Break(());
            }
        };
        ControlFlow::Continue(())
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `CAST('value' AS type)`, or `CAST(NULL AS type)`.
fn typed(value: Option<String>, data_type: DataType) -> Expr {
    let value = value.map_or(Value::Null, Value::SingleQuotedString);
    Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(Expr::Value(ValueWithSpan {
            value,
            span: Span::empty(),
        })),
        data_type,
        array: false,
        format: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "-- name: demo\n-- description: A demo.\n-- param broker: only this broker (default: all)\n-- column \"Net Amount\": what is paid\n-- column currency: ISO code\n\nSELECT $broker AS b, $from AS f\n";

    #[test]
    fn header_is_read() {
        let report = Report::parse("demo.sql", FILE).unwrap();
        assert_eq!(report.description, "A demo.");
        assert_eq!(report.params[0].name, "broker");
        assert_eq!(
            report.columns,
            vec![
                ("Net Amount".to_string(), "what is paid".to_string()),
                ("currency".to_string(), "ISO code".to_string())
            ]
        );
        assert!(matches!(
            Report::parse("other.sql", FILE),
            Err(ReportError::NameMismatch { .. })
        ));
    }

    #[test]
    fn placeholders_become_typed_literals() {
        let report = Report::parse("demo.sql", FILE).unwrap();
        let mut statement = report.statement().unwrap();
        let params = ReportParams {
            broker: Some("AWS_'EUROPE".to_string()),
            ..Default::default()
        };
        params.bind("demo", &mut statement).unwrap();
        assert_eq!(
            statement.to_string(),
            "SELECT CAST('AWS_''EUROPE' AS VARCHAR) AS b, CAST(NULL AS TIMESTAMP WITH TIME ZONE) AS f"
        );
        let mut unknown = parse_statements("SELECT $until").unwrap().remove(0);
        assert!(matches!(
            params.bind("demo", &mut unknown),
            Err(ReportError::UnknownParameter { .. })
        ));
        let given = ReportParams {
            currency: Some("EUR".into()),
            ..Default::default()
        };
        assert!(matches!(
            given.check(&report),
            Err(ReportError::NotAParameter { .. })
        ));
    }
}
