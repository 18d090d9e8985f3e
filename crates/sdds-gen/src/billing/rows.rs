//! Laying billing events out in the two header layouts, and tax items.

use crate::date::{Day, Ts};
use crate::feeds::Feed;
use crate::ids;
use crate::out::Output;
use crate::{Broker, CATALOG};

use super::{id_str, BatchKey, Bill, Charge, Inv, TaxItem};

/// A billing event row before it is laid out in one of the two header layouts.
pub(super) struct Row<'a> {
    pub(super) id: &'a str,
    pub(super) from: &'a str,
    pub(super) to: &'a str,
    pub(super) end_user: Option<&'a str>,
    pub(super) product: Option<&'a str>,
    pub(super) action: &'static str,
    pub(super) ttype: &'static str,
    pub(super) parent: Option<&'a str>,
    pub(super) disb_event: Option<&'a str>,
    pub(super) amount: i64,
    pub(super) currency: &'static str,
    pub(super) bi: bool,
    pub(super) invoice_date: Ts,
    pub(super) due: Option<Ts>,
    pub(super) period: Option<(Ts, Ts)>,
    pub(super) invoice_id: Option<&'a str>,
    pub(super) address: Option<&'a str>,
    pub(super) trx: Option<&'a str>,
    pub(super) bank_trace: Option<&'a str>,
    pub(super) broker: Option<&'static str>,
    pub(super) agreement: Option<&'a str>,
    pub(super) offer: Option<&'a str>,
    pub(super) recipient: &'a str,
    pub(super) line_item: Option<&'a str>,
    pub(super) buyer_invoice: Option<&'a str>,
    pub(super) buyer_line_item: Option<&'a str>,
    pub(super) buyer_date: Option<Ts>,
    pub(super) buyer_trx: Option<&'a str>,
    pub(super) variant: Option<&'static str>,
    pub(super) charge_variant: Option<&'static str>,
    pub(super) side: Option<&'static str>,
    pub(super) disb_amount: Option<i64>,
    pub(super) dcur: Option<&'static str>,
    pub(super) disb_ref: Option<&'a str>,
    pub(super) action_date: Option<Ts>,
    pub(super) stamp: Ts,
}

impl Row<'_> {
    pub(super) fn write(&self, out: &mut Output) {
        if out.is_backfill() {
            out.row(Feed::BillingEvent, |r| {
                r.ts(self.stamp)
                    .ts(self.stamp)
                    .ts(self.stamp)
                    .opt(self.invoice_id)
                    .s(self.id)
                    .s(self.action)
                    .s(self.ttype)
                    .cents(self.amount)
                    .s(self.currency)
                    .flag(self.bi)
                    .ts(self.invoice_date)
                    .opt_ts(self.due)
                    .s(self.from)
                    .s(self.to)
                    .opt(self.end_user)
                    .opt(self.product)
                    .opt(self.parent)
                    .opt(self.disb_event)
                    .opt_ts(self.period.map(|p| p.0))
                    .opt_ts(self.period.map(|p| p.1))
                    .opt(self.address)
                    .opt(self.trx)
                    .opt(self.bank_trace)
                    .s(CATALOG)
                    .none();
            });
            return;
        }
        out.row(Feed::BillingEvent, |r| {
            r.s(self.id)
                .s(self.from)
                .s(self.to)
                .opt(self.end_user)
                .opt(self.product)
                .s(self.action)
                .s(self.ttype)
                .opt(self.parent)
                .opt(self.disb_event)
                .cents(self.amount)
                .s(self.currency)
                .flag(self.bi)
                .ts(self.invoice_date)
                .opt_ts(self.due)
                .opt_ts(self.period.map(|p| p.0))
                .opt_ts(self.period.map(|p| p.1))
                .opt(self.invoice_id)
                .opt(self.address)
                .opt(self.trx)
                .opt(self.bank_trace)
                .opt(self.broker)
                .opt(self.agreement)
                .opt(self.offer)
                .s(self.recipient)
                .opt(self.line_item)
                .opt(self.buyer_invoice)
                .opt(self.buyer_line_item)
                .opt_ts(self.buyer_date)
                .opt(self.buyer_trx)
                .opt(self.variant)
                .opt(self.charge_variant)
                .opt(self.side)
                .opt_cents(self.disb_amount)
                .opt(self.dcur)
                .opt(self.disb_ref)
                .opt_ts(self.action_date)
                .s(CATALOG)
                .ts(self.stamp)
                .ts(self.stamp)
                .ts(self.stamp)
                .none();
        });
    }
}

impl Bill<'_> {
    /// The INVOICED row of charge `c`; follow-ups adjust a copy of it.
    pub(super) fn charge_row<'b>(&'b self, inv: &'b Inv, c: &'b Charge) -> Row<'b> {
        let line = inv.lines.get(usize::from(c.line));
        let buyer = inv.buyer.as_ref();
        Row {
            id: id_str(&c.id),
            from: &c.from,
            to: &c.to,
            end_user: inv.end_user.as_deref(),
            product: line.map(|l| &*l.product),
            action: "INVOICED",
            ttype: c.ttype.code(),
            parent: c.parent.as_ref().map(id_str),
            disb_event: None,
            amount: c.amount,
            currency: inv.currency.code(),
            bi: c.bi,
            invoice_date: inv.date,
            due: inv.due,
            period: inv.period,
            invoice_id: c.invoice_id.as_deref().or(inv.invoice_id.as_deref()),
            address: inv.address.as_deref(),
            trx: inv.trx.as_deref(),
            bank_trace: None,
            broker: inv.broker.map(Broker::code),
            agreement: inv.agreement.as_deref(),
            offer: inv.offer.as_deref(),
            recipient: &self.seller,
            line_item: line.map(|l| &*l.item),
            buyer_invoice: buyer.map(|b| &*b.id),
            buyer_line_item: line.and_then(|l| l.buyer_item.as_deref()),
            buyer_date: buyer.map(|b| b.date),
            buyer_trx: buyer.map(|b| &*b.trx),
            variant: c.variant,
            charge_variant: c.charge_variant,
            side: c.side,
            disb_amount: c.disb,
            dcur: c.disb.map(|_| inv.dcur.code()),
            disb_ref: None,
            action_date: Some(inv.delivered),
            stamp: inv.delivered,
        }
    }

    /// Writes every INVOICED row and tax item of a new invoice.
    pub fn write_invoice(&self, out: &mut Output, inv: &Inv) {
        if !out.writing() {
            return;
        }
        for c in &inv.charges {
            self.charge_row(inv, c).write(out);
        }
        for t in &inv.taxes {
            self.write_tax(out, inv, t, None);
        }
    }

    pub(super) fn write_tax(&self, out: &mut Output, inv: &Inv, t: &TaxItem, fix: Option<Ts>) {
        let Some((place, country, tax_type)) = inv.tax_place else {
            return;
        };
        let line = &inv.lines[usize::from(t.line)];
        let refund = t.amount < 0 || t.taxable < 0;
        let id = ids::tax_item_id(t.key);
        let geo = format!("{}{:05}", place.geo, t.key % 100_000);
        let city = if fix.is_some() {
            place.city.to_uppercase()
        } else {
            place.city.to_string()
        };
        out.row(Feed::TaxItem, |r| {
            r.s(&id)
                .opt(inv.invoice_id.as_deref())
                .s(&line.item)
                .s(&format!("cb-{}", inv.invoice_id.as_deref().unwrap_or("")))
                .s(t.liable)
                .s(if refund { "REFUND" } else { "AWS" })
                .s(&inv.product_ids[usize::from(t.line)])
                .s(inv.tax_codes[usize::from(t.line)])
                .ts(inv.date)
                .opt(inv.payer.as_deref())
                .s(country)
                .s(place.state)
                .s(&city)
                .s(place.postal)
                .s(&geo)
                .s(tax_type)
                .s(t.level)
                .s(t.jurisdiction)
                .s("TaxExclusive");
            if t.exempt {
                r.int(0).cents(t.taxable);
            } else {
                r.cents(t.taxable).int(0);
            }
            r.dec(i64::from(t.rate_ppm), 6)
                .cents(t.amount)
                .s(inv.currency.code())
                .s(if t.exempt { "Exempt" } else { "Taxable" })
                .ts(inv.date);
            if t.exempt {
                r.s(&format!(
                    "{}-{}-{}",
                    place.state,
                    t.key % 90 + 10,
                    t.key % 9_000 + 1_000
                ))
                .s("State Comptroller of Public Accounts")
                .s("State")
                .s("RESALE")
                .s(place.state);
            } else {
                r.none().none().none().none().none();
            }
            r.opt(inv.trx.as_deref())
                .s(CATALOG)
                .ts(inv.delivered)
                .ts(inv.delivered)
                .ts(fix.unwrap_or(inv.delivered))
                .none();
        });
    }

    /// A DISBURSEMENT or DISBURSEMENT_FAILURE row: from AWS to the seller, no invoice.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_disbursement(
        &self,
        out: &mut Output,
        id: &[u8; 40],
        ttype: &'static str,
        key: BatchKey,
        amount: i64,
        parent: Option<&str>,
        trace: Option<&str>,
        reference: &str,
        stamp: Ts,
        day: Day,
    ) {
        if !out.writing() {
            return;
        }
        Row {
            id: id_str(id),
            from: &self.aws,
            to: &self.seller,
            end_user: None,
            product: None,
            action: "DISBURSED",
            ttype,
            parent,
            disb_event: None,
            amount,
            currency: key.dcur.code(),
            bi: false,
            invoice_date: Ts::midnight(day),
            due: None,
            period: None,
            invoice_id: None,
            address: None,
            trx: None,
            bank_trace: trace,
            broker: Some(key.broker.code()),
            agreement: None,
            offer: None,
            recipient: &self.seller,
            line_item: None,
            buyer_invoice: None,
            buyer_line_item: None,
            buyer_date: None,
            buyer_trx: None,
            variant: None,
            charge_variant: None,
            side: None,
            disb_amount: Some(amount),
            dcur: Some(key.dcur.code()),
            disb_ref: Some(reference),
            action_date: Some(Ts::midnight(day)),
            stamp,
        }
        .write(out);
    }
}
