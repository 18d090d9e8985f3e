//! What happens to an invoice after it is issued: collection, disbursement runs (some
//! failing and retried), refunds, forgiveness; all queued by day.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::date::{Day, Month, Ts};
use crate::deals::{Kind, Root};
use crate::ids;
use crate::out::Output;
use crate::rng::{hash, tag, Rng, Strata};
use crate::{Broker, Cur, BF_START, COLLECTED_START};

use super::{charge_id, id_str, round_div, Bill, BuyerInvoice, Charge, Inv, Line, TType, TaxItem};

/// Something an invoice causes on a later day.
pub enum FollowUp {
    Collect(Rc<Inv>),
    Forgive(Rc<Inv>),
    Refund(Rc<Inv>, i64),
    Failure(Rc<Batch>),
    Duplicate(Rc<Inv>),
    TaxFix(Rc<Inv>),
    UsageFix(Rc<Root>, u32, usize, usize, Day),
}

/// A unit of disbursement: the balance-impacting charges of one invoice line.
#[derive(Clone)]
pub struct Unit {
    pub inv: Rc<Inv>,
    pub line: u8,
}

/// A disbursement that went out (kept until its possible failure is known).
pub struct Batch {
    pub id: [u8; 40],
    pub day: Day,
    pub broker: Broker,
    pub dcur: Cur,
    pub amount: i64,
    pub reference: String,
    pub units: Vec<Unit>,
}

/// Disbursement runs: the monthly run, a smaller on-demand run early in the month that
/// pays lines held back from the previous monthly run (partial disbursements), and
/// retries of failed on-demand runs (which do not fail again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Run {
    Monthly,
    OnDemand,
    Retry,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BatchKey {
    pub day: Day,
    pub broker: Broker,
    pub dcur: Cur,
    pub run: Run,
}

/// Follow-ups and pending disbursements, keyed by day.
#[derive(Default)]
pub struct Queue {
    pub due: BTreeMap<Day, Vec<FollowUp>>,
    pub pending: BTreeMap<BatchKey, Vec<Unit>>,
}

impl Queue {
    pub fn push(&mut self, day: Day, f: FollowUp) {
        self.due.entry(day).or_default().push(f);
    }
    pub fn take(&mut self, day: Day) -> Vec<FollowUp> {
        self.due.remove(&day).unwrap_or_default()
    }
    pub fn take_batches(&mut self, day: Day) -> Vec<(BatchKey, Vec<Unit>)> {
        let keys: Vec<BatchKey> = self
            .pending
            .range(
                BatchKey {
                    day,
                    broker: Broker::AwsInc,
                    dcur: Cur::Usd,
                    run: Run::Monthly,
                }..,
            )
            .take_while(|(k, _)| k.day == day)
            .map(|(k, _)| *k)
            .collect();
        keys.into_iter()
            .filter_map(|k| self.pending.remove(&k).map(|u| (k, u)))
            .collect()
    }
}

/// The day of a broker's run in a month (moved off weekends).
pub fn batch_day(broker: Broker, run: Run, m: Month) -> Day {
    let (y, mo) = m.ym();
    let dom = match (run, broker) {
        (Run::Monthly, Broker::AwsInc) => 15,
        (Run::Monthly, Broker::AwsEurope) => 20,
        (_, Broker::AwsInc) => 2,
        (_, Broker::AwsEurope) => 6,
    };
    let mut d = Day::from_ymd(y, mo, dom);
    while d.weekday() >= 5 {
        d = d.plus(1);
    }
    d
}

/// First day of a run on or after `day`.
pub fn next_batch(broker: Broker, run: Run, day: Day) -> Day {
    let this = batch_day(broker, run, day.month());
    if this >= day {
        this
    } else {
        batch_day(broker, run, day.month().plus(1))
    }
}

impl Bill<'_> {
    /// Queues what becomes of a new invoice.
    pub fn schedule(&self, q: &mut Queue, inv: &Rc<Inv>, kind: Kind) {
        let day = inv.date.day;
        let due = inv.due.map_or(day.plus(30), |d| d.day);
        let f = fate(self.w.seed, inv.key, day, due, kind);
        if f.duplicate {
            q.push(day.plus(1), FollowUp::Duplicate(inv.clone()));
        }
        if let Some(d) = f.tax_fix.filter(|_| !inv.taxes.is_empty()) {
            q.push(d, FollowUp::TaxFix(inv.clone()));
        }
        if let Some(d) = f.forgive {
            q.push(d, FollowUp::Forgive(inv.clone()));
        }
        if let Some(d) = f.collect {
            q.push(d, FollowUp::Collect(inv.clone()));
        }
        if let Some((d, per_mille)) = f.refund {
            q.push(d, FollowUp::Refund(inv.clone(), per_mille));
        }
    }

    /// Queues the lines of `inv` for the disbursement after `ready`.
    fn queue_units(&self, q: &mut Queue, inv: &Rc<Inv>, ready: Day) {
        let broker = inv.broker.unwrap_or(Broker::AwsInc);
        let mut lines: Vec<u8> = inv
            .charges
            .iter()
            .filter(|c| c.bi)
            .map(|c| c.line)
            .collect();
        lines.dedup();
        for line in lines {
            let mut rng = Rng::new(&[self.w.seed, tag::LINE, inv.key, u64::from(line)]);
            let monthly = next_batch(broker, Run::Monthly, ready);
            let key = if rng.chance(25) {
                BatchKey {
                    day: next_batch(broker, Run::OnDemand, monthly.plus(1)),
                    broker,
                    dcur: inv.dcur,
                    run: Run::OnDemand,
                }
            } else {
                BatchKey {
                    day: monthly,
                    broker,
                    dcur: inv.dcur,
                    run: Run::Monthly,
                }
            };
            q.pending.entry(key).or_default().push(Unit {
                inv: inv.clone(),
                line,
            });
        }
    }

    pub fn collect(&self, out: &mut Output, q: &mut Queue, inv: &Rc<Inv>, today: Day) {
        let mut rng = Rng::new(&[self.w.seed, tag::INVOICE, inv.key, 3]);
        let at = today.at(rng.range(3_600, 80_000) as u32);
        if today >= COLLECTED_START && out.writing() {
            for c in inv.charges.iter().filter(|c| c.bi) {
                let id = charge_id(hash(&[c.key, 0xc0]));
                let mut row = self.charge_row(inv, c);
                row.id = id_str(&id);
                row.action = "COLLECTED";
                row.bi = false;
                row.action_date = Some(at);
                row.stamp = at.plus_secs(300).min(Ts::end_of(today));
                row.write(out);
            }
        }
        self.queue_units(q, inv, today.plus(3));
    }

    pub fn forgive(&self, out: &mut Output, inv: &Inv, today: Day) {
        if !out.writing() {
            return;
        }
        let mut rng = Rng::new(&[self.w.seed, tag::INVOICE, inv.key, 4]);
        let at = today.at(rng.range(3_600, 80_000) as u32);
        for c in &inv.charges {
            let id = charge_id(hash(&[c.key, 0xf0]));
            let mut row = self.charge_row(inv, c);
            row.id = id_str(&id);
            row.action = "FORGIVEN";
            row.amount = -c.amount;
            row.parent = Some(id_str(&c.id));
            row.disb_amount = None;
            row.dcur = None;
            row.action_date = Some(at);
            row.stamp = at;
            row.write(out);
        }
    }

    /// Refunds `per_mille` of an invoice with a new refund invoice.
    pub fn refund(&self, out: &mut Output, q: &mut Queue, orig: &Inv, per_mille: i64, today: Day) {
        let key = hash(&[self.w.seed, tag::REFUND, orig.key]);
        let mut rng = Rng::new(&[key]);
        let date = today.at(rng.range(3_600, 80_000) as u32);
        let number: Rc<str> = match orig.invoice_id.as_deref() {
            Some(id) if id.starts_with("EUINV") => format!("EUCR{}", &id[5..]).into(),
            Some(id) => format!("8{}", &id[1..]).into(),
            None => return,
        };
        let trx: Rc<str> = ids::guid(key ^ 0x7).into();
        let mut inv = Inv {
            key,
            invoice_id: Some(number.clone()),
            date,
            due: Some(date),
            period: orig.period,
            broker: orig.broker,
            currency: orig.currency,
            dcur: orig.dcur,
            payer: orig.payer.clone(),
            end_user: orig.end_user.clone(),
            agreement: orig.agreement.clone(),
            offer: orig.offer.clone(),
            address: orig.address.clone(),
            trx: Some(trx.clone()),
            buyer: orig.buyer.as_ref().map(|_| BuyerInvoice {
                id: number.clone(),
                date,
                trx: trx.clone(),
            }),
            delivered: date.plus_secs(300).min(Ts::end_of(today)),
            lines: orig
                .lines
                .iter()
                .map(|l| Line {
                    item: l.item.clone(),
                    product: l.product.clone(),
                    buyer_item: orig.buyer.as_ref().map(|_| l.item.clone()),
                })
                .collect(),
            charges: Vec::new(),
            taxes: Vec::new(),
            tax_place: orig.tax_place,
            product_ids: orig.product_ids.clone(),
            tax_codes: orig.tax_codes.clone(),
        };
        for c in &orig.charges {
            let Some(ttype) = c.ttype.refund() else {
                continue;
            };
            if c.invoice_id.is_some() && c.variant != Some("LISTING_FEE") {
                continue;
            }
            let amount = -round_div(i128::from(c.amount) * i128::from(per_mille), 1_000);
            let k = hash(&[c.key, 0x5e, key]);
            inv.charges.push(Charge {
                key: k,
                id: charge_id(k),
                line: c.line,
                ttype,
                from: c.to.clone(),
                to: c.from.clone(),
                amount,
                bi: c.bi,
                disb: c
                    .disb
                    .map(|d| -round_div(i128::from(d) * i128::from(per_mille), 1_000)),
                invoice_id: c
                    .invoice_id
                    .as_ref()
                    .map(|i| -> Rc<str> { format!("{i}-CR").into() }),
                variant: c.variant,
                charge_variant: c.charge_variant,
                side: c.side,
                parent: None,
            });
        }
        for t in &orig.taxes {
            inv.taxes.push(TaxItem {
                key: hash(&[t.key, key]),
                taxable: -round_div(i128::from(t.taxable) * i128::from(per_mille), 1_000),
                amount: -round_div(i128::from(t.amount) * i128::from(per_mille), 1_000),
                ..*t
            });
        }
        let inv = Rc::new(inv);
        self.write_invoice(out, &inv);
        self.queue_units(q, &inv, today.plus(2));
    }

    /// Sends out one disbursement batch: per-line DISBURSED rows and the DISBURSEMENT row.
    pub fn disburse(&self, out: &mut Output, q: &mut Queue, key: BatchKey, units: Vec<Unit>) {
        let bk = hash(&[
            self.w.seed,
            tag::BATCH,
            key.day.0 as u64,
            key.broker as u64,
            key.dcur as u64,
            key.run as u64,
        ]);
        let mut rng = Rng::new(&[bk]);
        let id = charge_id(bk);
        let (y, m) = key.day.month().ym();
        let reference = match key.broker {
            Broker::AwsInc => format!("AMZN-DSB-{:02}{m:02}-{:06}", y % 100, bk % 1_000_000),
            Broker::AwsEurope => format!("AMZN-EU-DSB-{:02}{m:02}-{:06}", y % 100, bk % 1_000_000),
        };
        let stamp = key.day.at(if key.broker == Broker::AwsInc {
            14_400
        } else {
            15_000
        } + key.run as u32 * 600);
        let mut total = 0i64;
        for u in &units {
            for c in u.inv.charges.iter().filter(|c| c.bi && c.line == u.line) {
                total -= c.disb.unwrap_or(c.amount);
                if out.writing() {
                    let lid = charge_id(hash(&[c.key, 0xd0, bk]));
                    let mut row = self.charge_row(&u.inv, c);
                    row.id = id_str(&lid);
                    row.action = "DISBURSED";
                    row.amount = -c.amount;
                    row.bi = false;
                    row.parent = Some(id_str(&c.id));
                    row.disb_event = Some(id_str(&id));
                    row.disb_amount = Some(-c.disb.unwrap_or(c.amount));
                    row.dcur = Some(u.inv.dcur.code());
                    row.disb_ref = Some(&reference);
                    row.action_date = Some(Ts::midnight(key.day));
                    row.stamp = stamp;
                    row.write(out);
                }
            }
        }
        let payout = -total;
        // Now and then a run has no trace id, or one of the placeholders AWS's reports null
        // out; spread over the months so every half year shows each case.
        let month = (key.day.month().0 - BF_START.month().0) as u64;
        let mut runs = Strata::new(
            &[self.w.seed, tag::BATCH, key.broker as u64, key.run as u64],
            month,
            2,
        );
        let trace = match (key.broker, runs.weighted(&[150, 200, 650])) {
            (_, 0) => None,
            (Broker::AwsInc, 1) => Some("testTraceId".to_string()),
            (Broker::AwsEurope, 1) => Some("EMEA_MP_TEST_TRACE_ID".to_string()),
            (Broker::AwsInc, _) => Some(format!("0210000{}", ids::digits(bk, 8))),
            (Broker::AwsEurope, _) => Some(format!("LU{}", ids::digits(bk, 16))),
        };
        self.write_disbursement(
            out,
            &id,
            "DISBURSEMENT",
            key,
            payout,
            None,
            trace.as_deref(),
            &reference,
            stamp,
            key.day,
        );
        // About one on-demand run in four fails, spread evenly over the months.
        let fails = key.run == Run::OnDemand
            && Strata::new(
                &[self.w.seed, tag::BATCH, key.broker as u64, key.dcur as u64],
                month,
                0,
            )
            .chance(250);
        if fails {
            let batch = Rc::new(Batch {
                id,
                day: key.day,
                broker: key.broker,
                dcur: key.dcur,
                amount: payout,
                reference,
                units,
            });
            q.push(
                key.day.plus(rng.range(3, 6) as i32),
                FollowUp::Failure(batch),
            );
        }
    }

    /// A failed disbursement: the DISBURSEMENT_FAILURE row, line reversals, and a retry.
    pub fn fail(&self, out: &mut Output, q: &mut Queue, b: &Batch, today: Day) {
        let fk = hash(&[
            self.w.seed,
            tag::BATCH,
            0xfa,
            b.day.0 as u64,
            b.broker as u64,
            b.dcur as u64,
        ]);
        let fid = charge_id(fk);
        let stamp = today.at(18_000);
        let key = BatchKey {
            day: today,
            broker: b.broker,
            dcur: b.dcur,
            run: Run::Retry,
        };
        if out.writing() {
            for u in &b.units {
                for c in u.inv.charges.iter().filter(|c| c.bi && c.line == u.line) {
                    let lid = charge_id(hash(&[c.key, 0xd1, fk]));
                    let mut row = self.charge_row(&u.inv, c);
                    row.id = id_str(&lid);
                    row.action = "DISBURSED";
                    row.amount = c.amount;
                    row.bi = false;
                    row.parent = Some(id_str(&c.id));
                    row.disb_event = Some(id_str(&fid));
                    row.disb_amount = Some(c.disb.unwrap_or(c.amount));
                    row.dcur = Some(u.inv.dcur.code());
                    row.disb_ref = Some(&b.reference);
                    row.action_date = Some(Ts::midnight(today));
                    row.stamp = stamp;
                    row.write(out);
                }
            }
        }
        self.write_disbursement(
            out,
            &fid,
            "DISBURSEMENT_FAILURE",
            key,
            -b.amount,
            Some(id_str(&b.id)),
            None,
            &b.reference,
            stamp,
            today,
        );
        let retry = BatchKey {
            day: today.plus(7),
            broker: b.broker,
            dcur: b.dcur,
            run: Run::Retry,
        };
        q.pending
            .entry(retry)
            .or_default()
            .extend(b.units.iter().cloned());
    }

    /// An exact re-delivery of an invoice's first row.
    pub fn duplicate(&self, out: &mut Output, inv: &Inv) {
        if out.writing() {
            if let Some(c) = inv.charges.first() {
                self.charge_row(inv, c).write(out);
            }
        }
    }

    /// A seller-level BALANCE_ADJUSTMENT, disbursed with the next AWS_INC batch.
    pub fn adjustment(&self, out: &mut Output, q: &mut Queue, day: Day, n: u64) {
        let key = hash(&[self.w.seed, tag::ADJUST, day.0 as u64, n]);
        let mut rng = Rng::new(&[key]);
        let at = day.at(rng.range(600, 7_200) as u32);
        let amount = rng.range(-300, 900) * 100 + rng.range(0, 99);
        let amount = if amount == 0 { 2_500 } else { amount };
        let inv = Rc::new(Inv {
            key,
            invoice_id: None,
            date: Ts::midnight(day),
            due: None,
            period: None,
            broker: (day > crate::BF_END && rng.chance(500)).then_some(Broker::AwsInc),
            currency: Cur::Usd,
            dcur: Cur::Usd,
            payer: None,
            end_user: None,
            agreement: None,
            offer: None,
            address: None,
            trx: None,
            buyer: None,
            delivered: at,
            lines: Vec::new(),
            charges: vec![Charge {
                key,
                id: charge_id(key),
                line: 0,
                ttype: TType::BalanceAdjustment,
                from: self.aws.clone(),
                to: self.seller.clone(),
                amount,
                bi: true,
                disb: Some(amount),
                invoice_id: None,
                variant: None,
                charge_variant: None,
                side: None,
                parent: None,
            }],
            taxes: Vec::new(),
            tax_place: None,
            product_ids: Vec::new(),
            tax_codes: Vec::new(),
        });
        self.write_invoice(out, &inv);
        self.queue_units(q, &inv, day.plus(1));
    }

    /// Corrects one tax item of an invoice (same valid_from, later update_date).
    pub fn fix_tax(&self, out: &mut Output, inv: &Inv, today: Day) {
        if let Some(t) = inv.taxes.first() {
            self.write_tax(out, inv, t, Some(today.at(30_000)));
        }
    }
}

/// What becomes of an invoice, decided from its key alone (so the last day it can still
/// cause a row is known without simulating it).
pub struct Fate {
    pub duplicate: bool,
    pub tax_fix: Option<Day>,
    pub forgive: Option<Day>,
    pub collect: Option<Day>,
    pub refund: Option<(Day, i64)>,
}

/// The fate of invoice `key` issued on `day` and due on `due`: mostly collected near the due
/// date (a few later refunded), some forgiven, some left unpaid (past due).
pub fn fate(seed: u64, key: u64, day: Day, due: Day, kind: Kind) -> Fate {
    let mut rng = Rng::new(&[seed, tag::INVOICE, key, 2]);
    let mut f = Fate {
        duplicate: rng.chance(1),
        tax_fix: rng.chance(4).then(|| day.plus(rng.range(1, 10) as i32)),
        forgive: None,
        collect: None,
        refund: None,
    };
    if kind == Kind::Fdp {
        f.forgive = Some(day.plus(rng.range(10, 30) as i32));
    } else if due.0 - day.0 > 120 {
        f.forgive = rng.chance(500).then(|| due.plus(rng.range(5, 25) as i32));
    } else {
        match rng.below(1000) {
            0..=34 => {}
            35..=54 => f.forgive = Some(due.plus(rng.range(20, 55) as i32)),
            _ => {
                let paid = due.plus(rng.range(-14, 12) as i32).max(day.plus(1));
                f.collect = Some(paid);
                if rng.chance(30) {
                    let fraction = [1_000, 500, 250, 200][rng.below(4) as usize];
                    f.refund = Some((paid.plus(rng.range(5, 40) as i32), fraction));
                }
            }
        }
    }
    f
}

/// The last day invoice `key` can cause a row (a deferred batch, then a failure and its retry).
pub fn fate_last(seed: u64, key: u64, day: Day, due: Day, kind: Kind, broker: Broker) -> Day {
    let f = fate(seed, key, day, due, kind);
    let settle = |ready: Day| {
        next_batch(
            broker,
            Run::OnDemand,
            next_batch(broker, Run::Monthly, ready).plus(1),
        )
        .plus(13)
    };
    let mut last = day.plus(10);
    for d in [
        f.forgive,
        f.collect.map(|c| settle(c.plus(3))),
        f.refund.map(|r| settle(r.0.plus(2))),
    ]
    .into_iter()
    .flatten()
    {
        last = last.max(d);
    }
    last
}
