//! Agreements (agreementfeed_v1) and their terms (agreementtermfeed_v1): every version a
//! deal's agreement goes through, and the invoices it issues.

use std::rc::Rc;

use crate::date::{Day, Ts};
use crate::deals::{Kind, Root};
use crate::feeds::Feed;
use crate::ids;
use crate::out::Output;
use crate::rng::{hash, Rng};
use crate::world::World;
use crate::CATALOG;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Billing {
    Monthly(i64),
    Upfront(i64),
    Schedule { n: u32, every: i32, amount: i64 },
    Usage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Expired,
    Renewed,
    Cancelled(Ts),
    Replaced(Ts),
}

/// One row of the agreement feed.
pub struct AgreementRow {
    pub delivery: Day,
    pub valid_from: Ts,
    pub insert: Ts,
    pub update: Ts,
    pub delete: Option<Ts>,
    pub status: &'static str,
    pub reason: Option<&'static str>,
    pub value: i64,
}

pub struct Term {
    pub id: String,
    pub kind: &'static str,
    pub config: String,
}

/// One agreement of a deal's chain.
pub struct Gen {
    pub n: u32,
    pub id: Rc<str>,
    pub accept: Ts,
    pub start: Day,
    pub end: Day,
    /// Last day billed (the end, or the day before a cancellation/replacement).
    pub stop: Day,
    pub intent: &'static str,
    pub preceding: Option<Rc<str>>,
    pub ending: Ending,
    pub billing: Billing,
    pub value: i64,
    pub rows: Vec<AgreementRow>,
    pub terms: Vec<Term>,
}

/// An invoice a generation will issue (usage amounts are computed when it is issued).
#[derive(Clone, Copy, Debug)]
pub struct Planned {
    pub day: Day,
    pub seq: u32,
    pub from: Day,
    pub to: Day,
    pub amount: i64,
}

impl Gen {
    pub(crate) fn plan_rows(&mut self, rng: &mut Rng, kind: Kind) {
        let v1 = AgreementRow {
            delivery: self.accept.day,
            valid_from: self.accept,
            insert: self.accept,
            update: self.accept,
            delete: None,
            status: "ACTIVE",
            reason: None,
            value: self.value,
        };
        let span = i64::from(self.stop.0 - self.start.0).max(2);
        if rng.chance(40) {
            let fix = self
                .accept
                .plus_secs(rng.range(2 * 86_400, 45 * 86_400) as u32);
            self.rows.push(AgreementRow {
                delivery: fix.day,
                update: fix,
                value: self.value / 100 * 95,
                reason: Some("ADMIN_CORRECTION"),
                ..v1
            });
        }
        if rng.chance(10) {
            let again = self.accept.day.plus(rng.range(1, 20) as i32);
            self.rows.push(AgreementRow {
                delivery: again,
                ..v1
            });
        }
        if kind == Kind::Usage && rng.chance(300) && span > 60 {
            let t = self
                .start
                .plus(rng.range(30, span - 10) as i32)
                .at(rng.range(60, 3_000) as u32);
            self.value = self.value / 100 * 130;
            self.rows.push(AgreementRow {
                delivery: t.day,
                valid_from: t,
                insert: t,
                update: t,
                delete: None,
                status: "ACTIVE",
                reason: None,
                value: self.value,
            });
        }
        if rng.chance(10) && span > 40 {
            let t = Ts::midnight(self.start.plus(rng.range(10, span - 20) as i32));
            let gone = t.plus_secs(rng.range(86_400, 5 * 86_400) as u32);
            for (update, delete) in [(t.plus_secs(300), None), (gone, Some(gone))] {
                self.rows.push(AgreementRow {
                    delivery: update.day,
                    valid_from: t,
                    insert: t.plus_secs(300),
                    update,
                    delete,
                    status: "TERMINATED",
                    reason: Some("ROLLED_BACK"),
                    value: self.value,
                });
            }
        }
        let (status, reason, at) = match self.ending {
            Ending::Expired => ("EXPIRED", Some("EXPIRED"), Ts::midnight(self.end.plus(1))),
            Ending::Renewed => ("RENEWED", None, Ts::midnight(self.end.plus(1))),
            Ending::Cancelled(t) => ("CANCELLED", Some("CANCELLED_BY_BUYER"), t),
            Ending::Replaced(t) => ("REPLACED", Some("REPLACED_BY_AMENDMENT"), t),
        };
        let u = at.plus_secs(rng.range(120, 1_800) as u32);
        self.rows.push(AgreementRow {
            delivery: u.day,
            valid_from: at,
            insert: u,
            update: u,
            delete: None,
            status,
            reason,
            value: self.value,
        });
        self.rows.insert(0, v1);
    }

    pub(crate) fn plan_terms(&mut self, root: &Root, w: &World, rng: &mut Rng) {
        let cur = root.currency.code();
        let mut add = |kind: &'static str, config: String| {
            let id = ids::term_id(hash(&[
                root.key,
                u64::from(self.n),
                self.terms.len() as u64,
            ]));
            self.terms.push(Term { id, kind, config });
        };
        let months = (self.end.0 - self.start.0 + 20) / 30;
        if rng.chance(500) {
            add("LegalTerm", r#"{"type":"LegalTerm","documents":[{"type":"StandardEula","version":"2022-07-14"}]}"#.to_string());
        } else {
            add(
                "LegalTerm",
                format!(
                    r#"{{"type":"LegalTerm","documents":[{{"type":"CustomEula","url":"https://{}/eula?v={},b=1"}}]}}"#,
                    w.seller.domain,
                    self.n + 1
                ),
            );
        }
        match self.billing {
            Billing::Monthly(p) => add(
                "RecurringPaymentTerm",
                format!(
                    r#"{{"type":"RecurringPaymentTerm","billingPeriod":"Monthly","price":"{}","currencyCode":"{cur}"}}"#,
                    money(p)
                ),
            ),
            Billing::Upfront(t) => add(
                "FixedUpfrontPricingTerm",
                format!(
                    r#"{{"type":"FixedUpfrontPricingTerm","currencyCode":"{cur}","price":"{}","duration":"P{months}M","grants":[{{"dimensionKey":"seats","maxQuantity":{}}}]}}"#,
                    money(t),
                    rng.range(5, 500)
                ),
            ),
            Billing::Schedule { n, every, amount } => {
                add(
                    "FixedUpfrontPricingTerm",
                    format!(
                        r#"{{"type":"FixedUpfrontPricingTerm","currencyCode":"{cur}","price":"{}","duration":"P{months}M"}}"#,
                        money(amount * i64::from(n))
                    ),
                );
                let schedule: Vec<String> = (0..n)
                    .map(|k| {
                        format!(
                            r#"{{"chargeDate":"{}","chargeAmount":"{}"}}"#,
                            self.start.add_months(every * k as i32),
                            money(amount)
                        )
                    })
                    .collect();
                add(
                    "PaymentScheduleTerm",
                    format!(
                        r#"{{"type":"PaymentScheduleTerm","currencyCode":"{cur}","schedule":[{}]}}"#,
                        schedule.join(",")
                    ),
                );
            }
            Billing::Usage => {
                let cards: Vec<String> = w.products[root.products[0]]
                    .dims
                    .iter()
                    .map(|&d| {
                        let dim = &crate::text::DIMS[d];
                        format!(
                            r#"{{"dimensionKey":"{}","price":"{}","unit":"{}"}}"#,
                            dim.key,
                            rate(dim.rate_e4),
                            dim.unit
                        )
                    })
                    .collect();
                add(
                    "UsageBasedPricingTerm",
                    format!(
                        r#"{{"type":"UsageBasedPricingTerm","currencyCode":"{cur}","rateCards":[{}]}}"#,
                        cards.join(",")
                    ),
                );
            }
        }
        if matches!(self.ending, Ending::Renewed) || rng.chance(200) {
            add(
                "RenewalTerm",
                format!(
                    r#"{{"type":"RenewalTerm","configuration":{{"enableAutoRenew":{}}}}}"#,
                    rng.chance(500)
                ),
            );
        }
        if matches!(root.kind, Kind::Private | Kind::Cppo) && rng.chance(500) {
            add("SupportTerm", r#"{"type":"SupportTerm","refundPolicy":"Full refund within 30 days, pro-rata afterwards"}"#.to_string());
        }
        if rng.chance(250) {
            add(
                "ValidityTerm",
                format!(r#"{{"type":"ValidityTerm","agreementDuration":"P{months}M"}}"#),
            );
        }
        if root.kind == Kind::Sub && self.n == 0 && rng.chance(60) {
            add("FreeTrialPricingTerm", r#"{"type":"FreeTrialPricingTerm","duration":"P30D","grants":[{"dimensionKey":"users","maxQuantity":5}]}"#.to_string());
        }
    }

    /// The invoices this agreement issues (usage amounts are filled in later).
    pub fn invoices(&self) -> Vec<Planned> {
        let mut out = Vec::new();
        let mut push = |day: Day, from: Day, to: Day, amount: i64| {
            let seq = out.len() as u32;
            out.push(Planned {
                day,
                seq,
                from,
                to,
                amount,
            });
        };
        match self.billing {
            Billing::Monthly(price) => {
                let mut k = 0;
                loop {
                    let day = self.start.add_months(k);
                    if day > self.stop {
                        break;
                    }
                    push(
                        day,
                        day,
                        self.start.add_months(k + 1).plus(-1).min(self.end),
                        price,
                    );
                    k += 1;
                }
            }
            Billing::Upfront(total) => push(self.start, self.start, self.end, total),
            Billing::Schedule { n, every, amount } => {
                for k in 0..n as i32 {
                    let day = self.start.add_months(every * k);
                    if day > self.stop {
                        break;
                    }
                    push(
                        day,
                        day,
                        self.start
                            .add_months(every * (k + 1))
                            .plus(-1)
                            .min(self.end),
                        amount,
                    );
                }
            }
            Billing::Usage => {
                let mut m = self.start.month();
                while m <= self.stop.month() {
                    let from = m.first().max(self.start);
                    let to = m.last().min(self.stop);
                    let day = if to == self.stop {
                        self.stop.plus(2)
                    } else {
                        m.plus(1).first().plus(1)
                    };
                    push(day, from, to, 0);
                    m = m.plus(1);
                }
            }
        }
        out
    }

    pub fn write_row(&self, out: &mut Output, root: &Root, w: &World, i: usize) {
        let row = &self.rows[i];
        let offer = root.offer(w);
        out.row(Feed::Agreement, |r| {
            r.s(&self.id)
                .s(&offer.id)
                .s(&root.proposer(w).id)
                .s(&root.buyer.id)
                .ts(Ts::midnight(self.start))
                .ts(Ts::end_of(self.end))
                .ts(self.accept)
                .s(self.intent)
                .opt(self.preceding.as_deref())
                .s(row.status)
                .opt(row.reason)
                .s(root.currency.code())
                .cents(row.value)
                .none()
                .s(CATALOG)
                .ts(row.valid_from)
                .ts(row.insert)
                .ts(row.update)
                .opt_ts(row.delete);
        });
    }

    pub fn write_terms(&self, out: &mut Output) {
        for t in &self.terms {
            out.row(Feed::AgreementTerm, |r| {
                r.s(&self.id)
                    .s(&t.id)
                    .s(t.kind)
                    .s(&t.config)
                    .s(CATALOG)
                    .ts(self.accept)
                    .ts(self.accept)
                    .ts(self.accept)
                    .none();
            });
        }
    }
}

/// `1234.50` style text of cents (inside JSON payloads).
pub fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

/// A rate in 1e-4 units as trimmed decimal text.
pub fn rate(e4: i64) -> String {
    let s = format!("{}.{:04}", e4 / 10_000, e4 % 10_000);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
