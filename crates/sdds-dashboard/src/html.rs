//! The page: a header, five sections of charts and tables, one inline stylesheet.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::chart::BarChart;
use crate::{sum_by, Dashboard, DashboardError, Money};

/// Aging buckets, in order (as `uncollected-and-past-due` names them).
const BUCKETS: [&str; 5] = ["Not yet due", "0-30", "31-60", "61-90", "90+"];

/// Rows in the "top" and "last" lists.
const TOP: usize = 10;

/// Agreements the renewal table lists (a large seller has thousands ending within 120 days).
const RENEWALS_LISTED: usize = 50;

/// `text` safe in HTML text and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A table cell.
enum Cell {
    Text(String),
    Number(i64),
    Money(Money),
}

impl Cell {
    fn html(&self, tag: &str) -> String {
        match self {
            Cell::Text(text) => format!("<{tag}>{}</{tag}>", escape(text)),
            Cell::Number(n) => format!("<{tag} class=\"num\">{n}</{tag}>"),
            Cell::Money(m) => format!(
                "<{tag} class=\"num\" data-value=\"{}\">{m}</{tag}>",
                m.plain()
            ),
        }
    }
}

fn text(value: impl Into<String>) -> Cell {
    Cell::Text(value.into())
}

/// A data table; `data-table` names it for machines reading the page.
struct Table {
    id: &'static str,
    caption: String,
    head: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
    foot: Vec<Vec<Cell>>,
}

impl Table {
    fn html(&self) -> String {
        let mut out = format!(
            "<div class=\"table-wrap\"><table data-table=\"{}\"><caption>{}</caption><thead><tr>",
            self.id,
            escape(&self.caption)
        );
        for head in &self.head {
            let _ = write!(out, "<th scope=\"col\">{}</th>", escape(head));
        }
        out.push_str("</tr></thead><tbody>");
        for row in &self.rows {
            out.push_str("<tr>");
            for cell in row {
                out.push_str(&cell.html("td"));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody>");
        if !self.foot.is_empty() {
            out.push_str("<tfoot>");
            for row in &self.foot {
                out.push_str("<tr>");
                for cell in row {
                    out.push_str(&cell.html("td"));
                }
                out.push_str("</tr>");
            }
            out.push_str("</tfoot>");
        }
        out.push_str("</table></div>");
        out
    }
}

/// The distinct values, sorted.
fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut values: Vec<&str> = values.collect();
    values.sort_unstable();
    values.dedup();
    values
}

/// One section: a heading, an explanation, the charts, the tables (or a line saying it is empty).
fn section(id: &str, title: &str, about: &str, charts: &[String], tables: &[Table]) -> String {
    let mut out = format!(
        "<section id=\"{id}\" aria-labelledby=\"{id}-h\"><h2 id=\"{id}-h\">{}</h2><p class=\"about\">{}</p>",
        escape(title),
        escape(about)
    );
    if tables.iter().all(|t| t.rows.is_empty()) {
        out.push_str("<p class=\"empty\">Nothing for this selection.</p></section>");
        return out;
    }
    if !charts.is_empty() {
        out.push_str("<div class=\"charts\">");
        for chart in charts {
            let _ = write!(out, "<figure class=\"chart\">{chart}</figure>");
        }
        out.push_str("</div>");
    }
    for table in tables {
        out.push_str(&table.html());
    }
    out.push_str("</section>");
    out
}

fn header(d: &Dashboard) -> String {
    let h = &d.header;
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_string());
    let facts = [
        ("Warehouse", h.warehouse.clone()),
        ("Reports as of", h.today.clone()),
        ("Last sync", or_dash(&h.last_sync)),
        ("Newest billing event recorded", or_dash(&h.newest_record)),
        ("Rows in quarantine", h.quarantined.to_string()),
        (
            "Seller of record",
            h.broker.clone().unwrap_or_else(|| "all".into()),
        ),
        (
            "Currency",
            h.currency.clone().unwrap_or_else(|| "all".into()),
        ),
    ];
    let mut out =
        String::from("<header><h1>AWS Marketplace seller dashboard</h1><dl class=\"facts\">");
    for (name, value) in facts {
        let _ = write!(
            out,
            "<div><dt>{}</dt><dd>{}</dd></div>",
            escape(name),
            escape(&value)
        );
    }
    out.push_str(
        "</dl><p class=\"about\">Every figure in the tables is exact, from the sdds \
        reports named in each section; the charts draw the same figures. Amounts are in the \
        currency shown beside them and never converted.</p></header>",
    );
    out
}

/// Billed revenue by month and seller of record, per currency.
fn billed(d: &Dashboard) -> Result<String, DashboardError> {
    let mut charts = Vec::new();
    let mut foot = Vec::new();
    for currency in distinct(d.months.iter().map(|m| m.currency.as_str())) {
        let lines: Vec<_> = d.months.iter().filter(|m| m.currency == currency).collect();
        let months = distinct(lines.iter().map(|m| m.month.as_str()));
        let brokers = distinct(lines.iter().map(|m| m.broker.as_str()));
        let series = brokers
            .iter()
            .map(|broker| {
                let values = months
                    .iter()
                    .map(|month| {
                        lines
                            .iter()
                            .filter(|m| m.month == *month && m.broker == *broker)
                            .map(|m| m.invoiced)
                            .sum::<Money>()
                            .to_f64()
                    })
                    .collect();
                (broker.to_string(), values)
            })
            .collect();
        let chart = BarChart {
            title: format!("Billed revenue by month and seller of record, {currency}"),
            unit: currency.to_string(),
            categories: months.iter().map(|m| m.to_string()).collect(),
            series,
            line: None,
        };
        charts.push(chart.svg(&format!("billed-{currency}"))?);
        foot.push(vec![
            text(format!("Total {currency}")),
            text(""),
            text(currency),
            Cell::Number(lines.iter().map(|m| m.invoices).sum()),
            Cell::Money(lines.iter().map(|m| m.invoiced).sum()),
            Cell::Money(lines.iter().map(|m| m.refunded).sum()),
            Cell::Money(lines.iter().map(|m| m.listing_fees).sum()),
            Cell::Money(lines.iter().map(|m| m.seller_net).sum()),
        ]);
    }
    let table = Table {
        id: "billed",
        caption: "Billed revenue by month, seller of record and currency (report seller-of-record)"
            .into(),
        head: vec![
            "Month",
            "Seller of record",
            "Currency",
            "Invoices",
            "Invoiced",
            "Refunded",
            "Listing fees",
            "Seller net",
        ],
        rows: d
            .months
            .iter()
            .map(|m| {
                vec![
                    text(&m.month),
                    text(&m.broker),
                    text(&m.currency),
                    Cell::Number(m.invoices),
                    Cell::Money(m.invoiced),
                    Cell::Money(m.refunded),
                    Cell::Money(m.listing_fees),
                    Cell::Money(m.seller_net),
                ]
            })
            .collect(),
        foot,
    };
    Ok(section(
        "billed",
        "Billed revenue",
        "Invoiced to buyers per invoice month, by the AWS entity that sold (AWS_INC, AWS_EUROPE, …). \
         Sales through sellers of record other than AWS Inc. appear only in these feeds.",
        &charts,
        &[table],
    ))
}

/// Seller net, disbursed and the undisbursed balance by month, per currency.
fn cash(d: &Dashboard) -> Result<String, DashboardError> {
    let mut charts = Vec::new();
    let mut rows = Vec::new();
    let mut foot = Vec::new();
    for currency in distinct(d.months.iter().map(|m| m.currency.as_str())) {
        let lines: Vec<_> = d.months.iter().filter(|m| m.currency == currency).collect();
        let net = sum_by(&lines, |m| m.month.clone(), |m| m.seller_net);
        let disbursed = sum_by(&lines, |m| m.month.clone(), |m| m.disbursed);
        let open = sum_by(&lines, |m| m.month.clone(), |m| m.outstanding);
        let mut balance = Money::default();
        let mut balances = Vec::new();
        for (month, outstanding) in &open {
            balance = balance + *outstanding;
            balances.push(balance.to_f64());
            rows.push(vec![
                text(month),
                text(currency),
                Cell::Money(net[month]),
                Cell::Money(disbursed[month]),
                Cell::Money(*outstanding),
                Cell::Money(balance),
            ]);
        }
        let chart = BarChart {
            title: format!(
                "Seller net and disbursed by month, with the undisbursed balance, {currency}"
            ),
            unit: currency.to_string(),
            categories: open.keys().cloned().collect(),
            series: vec![
                (
                    "Seller net".into(),
                    net.values().map(|m| m.to_f64()).collect(),
                ),
                (
                    "Disbursed".into(),
                    disbursed.values().map(|m| m.to_f64()).collect(),
                ),
            ],
            line: Some(("Undisbursed balance".into(), balances)),
        };
        charts.push(chart.svg(&format!("cash-{currency}"))?);
        foot.push(vec![
            text(format!("Total {currency}")),
            text(currency),
            Cell::Money(net.values().copied().sum()),
            Cell::Money(disbursed.values().copied().sum()),
            Cell::Money(balance),
            Cell::Money(balance),
        ]);
    }
    let table = Table {
        id: "cash",
        caption: "Seller net, disbursed and undisbursed by invoice month (report seller-of-record)"
            .into(),
        head: vec![
            "Month",
            "Currency",
            "Seller net",
            "Disbursed",
            "Undisbursed",
            "Undisbursed balance",
        ],
        rows,
        foot,
    };
    Ok(section(
        "cash",
        "Collections and disbursements",
        "What the seller is owed for each invoice month, what AWS has paid out, and what is still \
         to be disbursed (the running balance).",
        &charts,
        &[table],
    ))
}

/// Open balances by aging bucket, and the customers most past due.
fn aging(d: &Dashboard) -> Result<String, DashboardError> {
    let mut charts = Vec::new();
    let mut rows = Vec::new();
    let mut foot = Vec::new();
    for currency in distinct(d.open_invoices.iter().map(|i| i.currency.as_str())) {
        let open: Vec<_> = d
            .open_invoices
            .iter()
            .filter(|i| i.currency == currency)
            .collect();
        let mut values = Vec::new();
        for bucket in BUCKETS {
            let invoices: Vec<_> = open.iter().filter(|i| i.bucket == bucket).collect();
            let balance: Money = invoices.iter().map(|i| i.open_balance).sum();
            values.push(balance.to_f64());
            if !invoices.is_empty() {
                rows.push(vec![
                    text(bucket),
                    text(currency),
                    Cell::Number(invoices.len() as i64),
                    Cell::Money(balance),
                ]);
            }
        }
        let chart = BarChart {
            title: format!("Uncollected funds by days past due, {currency}"),
            unit: currency.to_string(),
            categories: BUCKETS.iter().map(|b| b.to_string()).collect(),
            series: vec![("Open balance".into(), values)],
            line: None,
        };
        charts.push(chart.svg(&format!("aging-{currency}"))?);
        foot.push(vec![
            text(format!("Total {currency}")),
            text(currency),
            Cell::Number(open.len() as i64),
            Cell::Money(open.iter().map(|i| i.open_balance).sum()),
        ]);
    }
    let buckets = Table {
        id: "aging",
        caption: "Open balance by aging bucket (report uncollected-and-past-due)".into(),
        head: vec!["Days past due", "Currency", "Invoices", "Open balance"],
        rows,
        foot,
    };
    let past_due: Vec<_> = d
        .open_invoices
        .iter()
        .filter(|i| i.days_past_due.is_some_and(|days| days > 0))
        .collect();
    let mut customers: BTreeMap<(String, String), (i64, Money, i64)> = BTreeMap::new();
    for invoice in &past_due {
        let entry = customers
            .entry((invoice.payer.clone(), invoice.currency.clone()))
            .or_insert((0, Money::default(), 0));
        entry.0 += 1;
        entry.1 = entry.1 + invoice.open_balance;
        entry.2 = entry.2.max(invoice.days_past_due.unwrap_or(0));
    }
    let mut ranked: Vec<_> = customers.into_iter().collect();
    ranked.sort_by(|a, b| b.1 .1.to_f64().total_cmp(&a.1 .1.to_f64()));
    let top = Table {
        id: "past-due",
        caption: format!("Top {TOP} past-due customers by open balance"),
        head: vec![
            "Customer",
            "Currency",
            "Invoices past due",
            "Past-due balance",
            "Most days past due",
        ],
        rows: ranked
            .into_iter()
            .take(TOP)
            .map(|((payer, currency), (count, balance, days))| {
                vec![
                    text(payer),
                    text(currency),
                    Cell::Number(count),
                    Cell::Money(balance),
                    Cell::Number(days),
                ]
            })
            .collect(),
        foot: Vec::new(),
    };
    Ok(section(
        "aging",
        "Uncollected funds",
        "Invoices with a balance still open, by how far past their payment due date they are.",
        &charts,
        &[buckets, top],
    ))
}

/// Disbursements by product, and the last disbursements with their bank trace ids.
fn disbursements(d: &Dashboard) -> Result<String, DashboardError> {
    let mut charts = Vec::new();
    let mut rows = Vec::new();
    let mut foot = Vec::new();
    for currency in distinct(d.disbursed.iter().map(|l| l.currency.as_str())) {
        let lines: Vec<_> = d
            .disbursed
            .iter()
            .filter(|l| l.currency == currency)
            .collect();
        let by_product = sum_by(&lines, |l| l.product_id.clone(), |l| l.amount);
        // Largest first; the chart shows the first few and the rest as one bar.
        let mut ranked: Vec<(&String, &Money)> = by_product.iter().collect();
        ranked.sort_by(|a, b| b.1.to_f64().total_cmp(&a.1.to_f64()).then(a.0.cmp(b.0)));
        for (product, amount) in &ranked {
            rows.push(vec![text(*product), text(currency), Cell::Money(**amount)]);
        }
        let mut categories: Vec<String> = Vec::new();
        let mut values: Vec<f64> = Vec::new();
        for (product, amount) in ranked.iter().take(TOP) {
            categories.push(product.to_string());
            values.push(amount.to_f64());
        }
        if ranked.len() > TOP {
            categories.push(format!("{} others", ranked.len() - TOP));
            values.push(
                ranked[TOP..]
                    .iter()
                    .map(|(_, a)| **a)
                    .sum::<Money>()
                    .to_f64(),
            );
        }
        let chart = BarChart {
            title: format!("Disbursed by product, {currency}"),
            unit: currency.to_string(),
            categories,
            series: vec![("Disbursed".into(), values)],
            line: None,
        };
        charts.push(chart.ranking_svg(&format!("disbursed-{currency}"))?);
        foot.push(vec![
            text(format!("Total {currency}")),
            text(currency),
            Cell::Money(by_product.values().copied().sum()),
        ]);
    }
    let by_product = Table {
        id: "by-product",
        caption: "Disbursed by product (report collections-and-disbursements)".into(),
        head: vec!["Product", "Currency", "Disbursed"],
        rows,
        foot,
    };
    let payouts = sum_by(
        &d.disbursed,
        |l| {
            (
                l.date.clone(),
                l.bank_trace_id.clone(),
                l.reference.clone(),
                l.currency.clone(),
            )
        },
        |l| l.amount,
    );
    let last = Table {
        id: "last-disbursements",
        caption: format!("Last {TOP} disbursements, for cash application"),
        head: vec!["Date", "Bank trace id", "Reference", "Currency", "Amount"],
        rows: payouts
            .into_iter()
            .rev()
            .take(TOP)
            .map(|((date, trace, reference, currency), amount)| {
                vec![
                    text(date),
                    text(trace),
                    text(reference),
                    text(currency),
                    Cell::Money(amount),
                ]
            })
            .collect(),
        foot: Vec::new(),
    };
    Ok(section(
        "disbursements",
        "Disbursements",
        "What AWS paid out for invoices due in the last 90 days, by product, and each payout with \
         the bank trace id that appears on the seller's bank statement.",
        &charts,
        &[by_product, last],
    ))
}

/// Agreements ending within 120, 90 and 60 days.
fn renewals(d: &Dashboard) -> Result<String, DashboardError> {
    let windows = [60, 90, 120];
    let mut charts = Vec::new();
    let mut foot = Vec::new();
    for currency in distinct(d.renewals.iter().map(|r| r.currency.as_str())) {
        let ending: Vec<_> = d
            .renewals
            .iter()
            .filter(|r| r.currency == currency)
            .collect();
        let values = windows
            .iter()
            .map(|w| {
                ending
                    .iter()
                    .filter(|r| r.window == *w)
                    .map(|r| r.value)
                    .sum::<Money>()
                    .to_f64()
            })
            .collect();
        let chart = BarChart {
            title: format!("Contract value of agreements ending soon, {currency}"),
            unit: currency.to_string(),
            categories: vec![
                "within 60 days".into(),
                "61-90 days".into(),
                "91-120 days".into(),
            ],
            series: vec![("Contract value".into(), values)],
            line: None,
        };
        charts.push(chart.svg(&format!("renewals-{currency}"))?);
        foot.push(vec![
            text(format!("Total {currency}")),
            text(""),
            text(""),
            text(""),
            text(""),
            text(""),
            text(""),
            Cell::Money(ending.iter().map(|r| r.value).sum()),
            text(currency),
        ]);
    }
    let mut ending: Vec<_> = d.renewals.iter().collect();
    ending.sort_by_key(|r| (r.days_until_end, r.customer.clone()));
    let caption = if ending.len() > RENEWALS_LISTED {
        format!(
            "The {RENEWALS_LISTED} agreements ending soonest of {} ending within 120 days (the \
             totals count them all; every one: sdds report agreements-and-renewals)",
            ending.len()
        )
    } else {
        "Agreements ending within 120 days (report agreements-and-renewals)".to_string()
    };
    ending.truncate(RENEWALS_LISTED);
    let table = Table {
        id: "renewals",
        caption,
        head: vec![
            "Ends within",
            "End date",
            "Days left",
            "Customer",
            "Offer",
            "Product",
            "Next step",
            "Contract value",
            "Currency",
        ],
        rows: ending
            .into_iter()
            .map(|r| {
                vec![
                    text(format!("{} days", r.window)),
                    text(&r.end_date),
                    Cell::Number(r.days_until_end),
                    text(&r.customer),
                    text(&r.offer),
                    text(&r.product),
                    text(&r.motion),
                    Cell::Money(r.value),
                    text(&r.currency),
                ]
            })
            .collect(),
        foot,
    };
    Ok(section(
        "renewals",
        "Renewal pipeline",
        "Agreements whose term ends within 120, 90 or 60 days, with the customer and the offer to \
         renew.",
        &charts,
        &[table],
    ))
}

const STYLE: &str = r##"
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1f2937; --muted: #4b5563; --line: #d1d5db; --card: #f3f4f6; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0f172a; --fg: #e5e7eb; --muted: #9ca3af; --line: #334155; --card: #1e293b; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; padding: 1rem; max-width: 1100px; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 0 0 .25rem; }
header, section { background: var(--card); border-radius: 8px; padding: 1rem; margin-bottom: 1rem; }
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: .5rem 1rem; margin: 0; }
.facts dt { color: var(--muted); font-size: .8rem; }
.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.about, .empty { color: var(--muted); margin: .25rem 0 .75rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 1rem; }
figure.chart { margin: 0; }
figure.chart svg { width: 100%; height: auto; display: block; }
figure.chart svg text { fill: var(--fg); }
figure.chart svg [stroke="#000000"] { stroke: var(--fg); }
.table-wrap { overflow-x: auto; margin-top: 1rem; }
table { border-collapse: collapse; width: 100%; font-size: .875rem; }
caption { text-align: left; font-weight: 600; padding-bottom: .25rem; }
th, td { padding: .3rem .5rem; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { color: var(--muted); font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
tfoot td { font-weight: 700; }
"##;

/// The whole page.
pub(crate) fn page(d: &Dashboard) -> Result<String, DashboardError> {
    let sections = [
        billed(d)?,
        cash(d)?,
        aging(d)?,
        disbursements(d)?,
        renewals(d)?,
    ];
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <title>AWS Marketplace seller dashboard, {}</title><style>{STYLE}</style></head>\
         <body>{}<main>{}</main><footer class=\"about\">Made by sdds report dashboard.</footer></body></html>\n",
        escape(&d.header.today),
        header(d),
        sections.join("")
    ))
}
