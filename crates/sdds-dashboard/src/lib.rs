//! The seller dashboard: one self-contained HTML page (charts as inline SVG, no request to
//! any network) built from the bundled reports' results, to open offline or attach to an email.
//!
//! The reports are the data: `seller-of-record` (billed revenue, seller net, disbursed and
//! outstanding by month, seller of record and currency), `uncollected-and-past-due` (aging),
//! `collections-and-disbursements` (disbursements by product, bank trace ids) and
//! `agreements-and-renewals` (the renewal pipeline). Tables show their exact decimals; the
//! charts plot the same figures.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod chart;
mod data;
mod html;
mod money;

use std::collections::BTreeMap;

use arrow::record_batch::RecordBatch;

pub use data::{Row, Rows};
pub use money::Money;

/// The reports the dashboard is drawn from, in the order of [`Inputs`].
pub const REPORTS: [&str; 4] = [
    "seller-of-record",
    "uncollected-and-past-due",
    "collections-and-disbursements",
    "agreements-and-renewals",
];

/// Why the dashboard cannot be drawn.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// A report lacks a column the dashboard reads.
    #[error("report {report} has no column {column:?}")]
    MissingColumn {
        /// The report.
        report: String,
        /// The column.
        column: String,
    },
    /// A column holds another type than the dashboard reads.
    #[error("report {report}: column {column:?} is not {expected}")]
    ColumnType {
        /// The report.
        report: String,
        /// The column.
        column: String,
        /// What it should be.
        expected: &'static str,
    },
    /// plotters could not draw a chart.
    #[error("cannot draw the chart {title:?}: {source}")]
    Chart {
        /// The chart's title.
        title: String,
        /// What plotters said.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What the header says about the warehouse and the selection.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// Where the warehouse is.
    pub warehouse: String,
    /// The day the reports were run for (`--today`, else the real day).
    pub today: String,
    /// When the last sync committed.
    pub last_sync: Option<String>,
    /// The newest `insert_date` of the billing events: how recent the delivered data is.
    pub newest_record: Option<String>,
    /// Rows syncs have set aside in the quarantine table.
    pub quarantined: u64,
    /// Only this seller of record, if chosen.
    pub broker: Option<String>,
    /// Only this currency, if chosen.
    pub currency: Option<String>,
}

/// The reports' results, as [`REPORTS`] names them.
pub struct Inputs<'a> {
    pub seller_of_record: &'a [RecordBatch],
    pub uncollected: &'a [RecordBatch],
    pub collections: &'a [RecordBatch],
    pub renewals: &'a [RecordBatch],
}

/// One month, seller of record and currency of `seller-of-record`.
#[derive(Debug, Clone)]
pub struct Month {
    pub month: String,
    pub broker: String,
    pub currency: String,
    pub invoices: i64,
    pub invoiced: Money,
    pub refunded: Money,
    pub listing_fees: Money,
    pub seller_net: Money,
    pub disbursed: Money,
    pub outstanding: Money,
}

/// One invoice of `uncollected-and-past-due` with a balance still open.
#[derive(Debug, Clone)]
pub struct OpenInvoice {
    pub invoice_id: String,
    pub payer: String,
    pub currency: String,
    pub due: String,
    pub days_past_due: Option<i64>,
    pub bucket: String,
    pub open_balance: Money,
}

/// One disbursed line of `collections-and-disbursements`.
#[derive(Debug, Clone)]
pub struct Disbursed {
    pub product_id: String,
    pub currency: String,
    pub date: String,
    pub bank_trace_id: String,
    pub reference: String,
    pub amount: Money,
}

/// One agreement of `agreements-and-renewals`.
#[derive(Debug, Clone)]
pub struct Renewal {
    pub window: i64,
    pub end_date: String,
    pub days_until_end: i64,
    pub customer: String,
    pub offer: String,
    pub product: String,
    pub motion: String,
    pub value: Money,
    pub currency: String,
}

/// The dashboard's data.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub header: Header,
    pub months: Vec<Month>,
    pub open_invoices: Vec<OpenInvoice>,
    pub disbursed: Vec<Disbursed>,
    pub renewals: Vec<Renewal>,
}

impl Dashboard {
    /// Reads the reports' results. The renewal pipeline keeps `header.currency` only (the
    /// renewals report takes no seller of record).
    pub fn new(header: Header, inputs: Inputs<'_>) -> Result<Dashboard, DashboardError> {
        let months = Rows::new(REPORTS[0], inputs.seller_of_record)
            .iter()
            .map(|row| {
                Ok(Month {
                    month: row.day("Month")?.chars().take(7).collect(),
                    broker: row.text("Broker ID")?,
                    currency: row.text("Currency")?,
                    invoices: row.integer("Invoices")?.unwrap_or(0),
                    invoiced: row.money("Invoiced")?,
                    refunded: row.money("Refunded")?,
                    listing_fees: row.money("Listing Fees")?,
                    seller_net: row.money("Seller Net")?,
                    disbursed: row.money("Disbursed")?,
                    outstanding: row.money("Outstanding")?,
                })
            })
            .collect::<Result<Vec<_>, DashboardError>>()?;
        let open_invoices = Rows::new(REPORTS[1], inputs.uncollected)
            .iter()
            .map(|row| {
                Ok(OpenInvoice {
                    invoice_id: row.text("Invoice ID")?,
                    payer: row.text("Payer Company Name")?,
                    currency: row.text("Currency")?,
                    due: row.day("Payment Due Date")?,
                    days_past_due: row.integer("Days Past Due")?,
                    bucket: row.text("Aging Bucket")?,
                    open_balance: row.money("Open Balance")?,
                })
            })
            .filter(|invoice: &Result<OpenInvoice, _>| {
                invoice.as_ref().map_or(true, |i| !i.open_balance.is_zero())
            })
            .collect::<Result<Vec<_>, DashboardError>>()?;
        let disbursed = Rows::new(REPORTS[2], inputs.collections)
            .iter()
            .map(|row| {
                Ok(Disbursed {
                    product_id: row.text("Product ID")?,
                    currency: row.text("Currency")?,
                    date: row.day("Disbursement Date")?,
                    bank_trace_id: row.text("Bank Trace ID")?,
                    reference: row.text("Disbursement Reference Number")?,
                    amount: row.money("Disbursed Amount")?,
                })
            })
            .filter(|line: &Result<Disbursed, _>| {
                line.as_ref().map_or(true, |l| !l.date.is_empty())
            })
            .collect::<Result<Vec<_>, DashboardError>>()?;
        let renewals = Rows::new(REPORTS[3], inputs.renewals)
            .iter()
            .map(|row| {
                Ok(Renewal {
                    window: row.integer("renewal_window")?.unwrap_or(0),
                    end_date: row.day("agreement_end_date")?,
                    days_until_end: row.integer("days_until_end")?.unwrap_or(0),
                    customer: row.text("subscriber_company_name")?,
                    offer: row.text("offer_name")?,
                    product: row.text("product_title")?,
                    motion: row.text("renewal_motion")?,
                    value: row.money("total_contract_value")?,
                    currency: row.text("currency_code")?,
                })
            })
            .filter(
                |renewal: &Result<Renewal, _>| match (renewal, &header.currency) {
                    (Ok(r), Some(currency)) => &r.currency == currency,
                    _ => true,
                },
            )
            .collect::<Result<Vec<_>, DashboardError>>()?;
        Ok(Dashboard {
            header,
            months,
            open_invoices,
            disbursed,
            renewals,
        })
    }

    /// The page.
    pub fn html(&self) -> Result<String, DashboardError> {
        html::page(self)
    }
}

/// Sums `amount` of `items` by `key`, keeping the keys sorted.
fn sum_by<T, K: Ord>(
    items: &[T],
    key: impl Fn(&T) -> K,
    amount: impl Fn(&T) -> Money,
) -> BTreeMap<K, Money> {
    let mut sums = BTreeMap::new();
    for item in items {
        let sum = sums.entry(key(item)).or_insert_with(Money::default);
        *sum = *sum + amount(item);
    }
    sums
}
