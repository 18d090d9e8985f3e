//! Billing events (spec §4): invoices with their charge rows and tax items, and what
//! happens to them later — collection, disbursement in batches (some failing and being
//! retried), refunds, forgiveness — scheduled in a queue keyed by day.
//!
//! Every follow-up lands less than [`HORIZON`] days after the invoice that caused it, so a
//! run that starts `HORIZON` days before its first written day reproduces that day exactly.

use std::rc::Rc;

use crate::date::{Month, Ts};
use crate::deals::Root;
use crate::ids;
use crate::rng::{hash, tag};
use crate::text::Place;
use crate::world::World;
use crate::{Broker, Cur};

mod issue;
mod lifecycle;
mod rows;

pub use lifecycle::{
    batch_day, fate, fate_last, next_batch, Batch, BatchKey, Fate, FollowUp, Queue, Run, Unit,
};

/// Upper bound (days) between an invoice and its last consequence.
pub const HORIZON: i32 = 240;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TType {
    SellerRevShare,
    AwsRevShare,
    AwsTaxShare,
    SellerTaxShare,
    SellerRevShareRefund,
    AwsRevShareRefund,
    AwsTaxShareRefund,
    SellerTaxShareRefund,
    SellerRevShareCredit,
    AwsRevShareCredit,
    AwsInfraShare,
    BalanceAdjustment,
}

impl TType {
    pub fn code(self) -> &'static str {
        match self {
            TType::SellerRevShare => "SELLER_REV_SHARE",
            TType::AwsRevShare => "AWS_REV_SHARE",
            TType::AwsTaxShare => "AWS_TAX_SHARE",
            TType::SellerTaxShare => "SELLER_TAX_SHARE",
            TType::SellerRevShareRefund => "SELLER_REV_SHARE_REFUND",
            TType::AwsRevShareRefund => "AWS_REV_SHARE_REFUND",
            TType::AwsTaxShareRefund => "AWS_TAX_SHARE_REFUND",
            TType::SellerTaxShareRefund => "SELLER_TAX_SHARE_REFUND",
            TType::SellerRevShareCredit => "SELLER_REV_SHARE_CREDIT",
            TType::AwsRevShareCredit => "AWS_REV_SHARE_CREDIT",
            TType::AwsInfraShare => "AWS_INFRA_SHARE",
            TType::BalanceAdjustment => "BALANCE_ADJUSTMENT",
        }
    }

    pub(crate) fn refund(self) -> Option<TType> {
        Some(match self {
            TType::SellerRevShare => TType::SellerRevShareRefund,
            TType::AwsRevShare => TType::AwsRevShareRefund,
            TType::AwsTaxShare => TType::AwsTaxShareRefund,
            TType::SellerTaxShare => TType::SellerTaxShareRefund,
            _ => return None,
        })
    }
}

/// One charge row of an invoice (the INVOICED billing event).
pub struct Charge {
    pub key: u64,
    pub id: [u8; 40],
    pub line: u8,
    pub ttype: TType,
    pub from: Rc<str>,
    pub to: Rc<str>,
    pub amount: i64,
    pub bi: bool,
    /// Amount in the disbursement currency; `None` leaves both disbursement columns empty.
    pub disb: Option<i64>,
    /// A separate invoice for this charge (listing fee, seller-issued, wholesale).
    pub invoice_id: Option<Rc<str>>,
    pub variant: Option<&'static str>,
    pub charge_variant: Option<&'static str>,
    pub side: Option<&'static str>,
    pub parent: Option<[u8; 40]>,
}

pub struct Line {
    pub item: Rc<str>,
    /// product_id as written in billing rows (a legacy GUID in the backfill era).
    pub product: Rc<str>,
    pub buyer_item: Option<Rc<str>>,
}

pub struct TaxItem {
    pub key: u64,
    pub line: u8,
    pub liable: &'static str,
    pub level: &'static str,
    pub jurisdiction: &'static str,
    pub rate_ppm: u32,
    pub taxable: i64,
    pub amount: i64,
    pub exempt: bool,
}

pub struct BuyerInvoice {
    pub id: Rc<str>,
    pub date: Ts,
    pub trx: Rc<str>,
}

/// An invoice (or refund, or balance adjustment) and everything its rows share.
pub struct Inv {
    pub key: u64,
    pub invoice_id: Option<Rc<str>>,
    pub date: Ts,
    pub due: Option<Ts>,
    pub period: Option<(Ts, Ts)>,
    pub broker: Option<Broker>,
    pub currency: Cur,
    pub dcur: Cur,
    pub payer: Option<Rc<str>>,
    pub end_user: Option<Rc<str>>,
    pub agreement: Option<Rc<str>>,
    pub offer: Option<Rc<str>>,
    pub address: Option<Rc<str>>,
    pub trx: Option<Rc<str>>,
    pub buyer: Option<BuyerInvoice>,
    pub delivered: Ts,
    pub lines: Vec<Line>,
    pub charges: Vec<Charge>,
    pub taxes: Vec<TaxItem>,
    /// Taxed customer, for tax items.
    pub tax_place: Option<(&'static Place, &'static str, &'static str)>,
    pub product_ids: Vec<Rc<str>>,
    pub tax_codes: Vec<&'static str>,
}

pub(crate) fn round_div(a: i128, b: i128) -> i64 {
    let q = (a.abs() + b / 2) / b;
    (if a < 0 { -q } else { q }) as i64
}

/// `amount` converted from `cur` to `dcur` at the month's rate.
pub fn convert(seed: u64, amount: i64, cur: Cur, dcur: Cur, m: Month) -> i64 {
    if cur == dcur {
        return amount;
    }
    let drift = (hash(&[seed, tag::FX, cur as u64, m.0 as u64]) % 401) as i64 - 200;
    let usd_e4 = match cur {
        Cur::Eur => 10_850 + drift,
        Cur::Gbp => 12_700 + drift,
        Cur::Usd => 10_000,
    };
    let dcur_e4 = match dcur {
        Cur::Usd => 10_000,
        Cur::Eur => 10_850 + drift,
        Cur::Gbp => 12_700 + drift,
    };
    round_div(i128::from(amount) * i128::from(usd_e4), i128::from(dcur_e4))
}

pub(crate) fn pct(amount: i64, bp: i64) -> i64 {
    round_div(i128::from(amount) * i128::from(bp), 10_000)
}

pub(crate) fn id_str(id: &[u8; 40]) -> &str {
    std::str::from_utf8(id).unwrap_or("")
}

pub(crate) fn charge_id(key: u64) -> [u8; 40] {
    ids::billing_event_id(key)
}
/// Shared data for writing billing rows.
pub struct Bill<'a> {
    pub w: &'a World,
    pub seller: Rc<str>,
    pub aws: Rc<str>,
}
/// The key of invoice `seq` of agreement `gen` of a deal.
pub fn invoice_key(seed: u64, root: &Root, gen: u32, seq: u32) -> u64 {
    hash(&[seed, tag::INVOICE, root.key, u64::from(gen), u64::from(seq)])
}
