//! The day loop.
//!
//! A run simulates a stretch of days and writes the rows delivered on the days it was
//! asked for. Content is a function of the absolute day, never of where the run starts:
//! deals are planned from their own hashes, so the agreement-level events of any day are
//! known up front (the calendar); what invoices cause later goes through the follow-up
//! queue, and since nothing follows more than [`HORIZON`] days after its invoice, starting
//! the simulation `HORIZON` days before the first written day reproduces it exactly.
//!
//! Window months only hold what was delivered in them, yet their rows refer to accounts,
//! offers and agreements created earlier. So that any window of `M` consecutive months
//! is self-contained, the first day of every month whose index is a multiple of `M`
//! re-delivers (as identical rows) the history of every entity active within `M` months
//! around it. Each window contains exactly one such month. (Appending a day never deletes:
//! when the window slides into a new month, the oldest month stays in the bucket, and every
//! file a fresh run through the new day writes is byte-identical to the appended one.)

use std::collections::HashSet;
use std::rc::Rc;

use crate::accounts::Account;
use crate::billing::{Bill, FollowUp, Queue, HORIZON};
use crate::date::{Day, Month};
use crate::deals::{OfferRef, Root, CHAIN_SPAN};
use crate::out::{Output, Partition};
use crate::rng::hash;
use crate::world::{per_month, World};
use crate::{GenError, BF_END, BF_START, LIVE_START};

/// Days before acceptance that a deal's accounts and offer may be created.
const LEAD: i32 = 20;
/// How far back a deal can still deliver rows.
const BACK: i32 = CHAIN_SPAN + HORIZON + 60;

/// Something a deal (or the seller) delivers on a given day, known from the plans alone.
enum Ev {
    /// Row `i` of an account the deal introduced (with the addresses it brings).
    Account(Rc<Account>, usize),
    /// The deal's own offer has rows that day (revision, correction, withdrawn target).
    Offer(Rc<Root>),
    /// Row `i` of agreement `g`.
    Agreement(Rc<Root>, usize, usize),
    /// The terms of agreement `g`, delivered with its acceptance.
    Terms(Rc<Root>, usize),
    /// Invoice `k` of agreement `g`.
    Invoice(Rc<Root>, usize, usize),
    /// Usage of agreement `g` on the given day (delivered the day after).
    Usage(Rc<Root>, usize, Day),
    /// The seller's `n`-th balance adjustment of the month.
    Adjust(u64),
}

/// Which days a run simulates and which it writes.
pub struct Span {
    /// Written days (inclusive ranges).
    pub write: Vec<(Day, Day)>,
    /// Months per re-delivery block (`--months`).
    pub block: i32,
}

impl Span {
    fn writes(&self, d: Day) -> bool {
        self.write.iter().any(|&(a, b)| d >= a && d <= b)
    }

    /// Simulated stretches: each written range with its warm-up, merged when they touch.
    fn segments(&self) -> Vec<(Day, Day)> {
        let mut segs: Vec<(Day, Day)> = Vec::new();
        for &(a, b) in &self.write {
            let from = a.plus(-HORIZON).max(BF_START);
            match segs.last_mut() {
                Some(last) if from.0 <= last.1 .0 + 1 => last.1 = last.1.max(b),
                _ => segs.push((from, b)),
            }
        }
        segs
    }
}

/// Runs the day loop over a [`Span`] and writes into an [`Output`].
pub struct Engine<'w> {
    w: &'w World,
    bill: Bill<'w>,
    out: Output,
    span: Span,
}

impl<'w> Engine<'w> {
    pub fn new(w: &'w World, out: Output, span: Span) -> Engine<'w> {
        let bill = Bill {
            w,
            seller: w.seller.id.clone(),
            aws: Rc::from("AWS"),
        };
        Engine { w, bill, out, span }
    }

    pub fn run(mut self) -> Result<Output, GenError> {
        for (from, to) in self.span.segments() {
            self.segment(from, to)?;
        }
        self.out.finish()?;
        Ok(self.out)
    }

    fn segment(&mut self, from: Day, to: Day) -> Result<(), GenError> {
        let w = self.w;
        let len = (to.0 - from.0 + 1) as usize;
        let mut cal: Vec<Vec<Ev>> = (0..len).map(|_| Vec::new()).collect();
        let slot =
            |d: Day| -> Option<usize> { (d >= from && d <= to).then(|| (d.0 - from.0) as usize) };

        // Seller-level balance adjustments.
        let mut m = from.month();
        while m <= to.month() {
            for n in 0..per_month(w.scale.adjustments_milli, m) {
                let day = m
                    .first()
                    .plus((hash(&[w.seed, 0xad, m.0 as u64, n]) % u64::from(m.days())) as i32);
                if let Some(i) = slot(day) {
                    cal[i].push(Ev::Adjust(n));
                }
            }
            m = m.plus(1);
        }

        for root in w.roots_between(from.plus(-BACK), to.plus(LEAD)) {
            for acct in &root.new_accounts {
                for (i, row) in acct.rows.iter().enumerate() {
                    if let Some(s) = slot(row.delivery) {
                        cal[s].push(Ev::Account(acct.clone(), i));
                    }
                }
            }
            if let OfferRef::Own(offer) = &root.offer {
                let mut days: Vec<Day> = Vec::new();
                for rev in &offer.revs {
                    days.push(rev.valid_from.day);
                    days.extend(rev.fix.as_ref().map(|f| f.0.day));
                    days.extend(rev.targets.iter().filter_map(|t| t.deleted.map(|d| d.day)));
                }
                days.sort();
                days.dedup();
                for d in days {
                    if let Some(s) = slot(d) {
                        cal[s].push(Ev::Offer(root.clone()));
                    }
                }
            }
            for (g, gen) in root.gens.iter().enumerate() {
                for (i, row) in gen.rows.iter().enumerate() {
                    if let Some(s) = slot(row.delivery) {
                        cal[s].push(Ev::Agreement(root.clone(), g, i));
                    }
                }
                if let Some(s) = slot(gen.accept.day) {
                    cal[s].push(Ev::Terms(root.clone(), g));
                }
                for (k, p) in gen.invoices().iter().enumerate() {
                    if let Some(s) = slot(p.day) {
                        cal[s].push(Ev::Invoice(root.clone(), g, k));
                    }
                }
                if !root.usage_dims.is_empty() {
                    let mut u = gen.start.max(from.plus(-1));
                    while u <= gen.stop && u < to {
                        if let Some(s) = slot(u.plus(1)) {
                            cal[s].push(Ev::Usage(root.clone(), g, u));
                        }
                        u = u.plus(1);
                    }
                }
            }
        }

        let mut q = Queue::default();
        for (i, events) in cal.into_iter().enumerate() {
            let day = from.plus(i as i32);
            let part = if day <= BF_END {
                Partition::Backfill
            } else {
                Partition::Month(day.month())
            };
            self.out.set_day(part, self.span.writes(day));
            if self.out.writing() {
                if day >= LIVE_START
                    && day.day_of_month() == 1
                    && day.month().0.rem_euclid(self.span.block) == 0
                {
                    self.redeliver(day);
                }
                self.world_rows(day);
            }
            for ev in events {
                self.event(&mut q, day, ev);
            }
            for f in q.take(day) {
                self.follow_up(&mut q, day, f);
            }
            for (key, units) in q.take_batches(day) {
                self.bill.disburse(&mut self.out, &mut q, key, units);
            }
            if day == BF_END && self.out.writing() {
                self.legacy_ids();
            }
            self.out.check()?;
        }
        Ok(())
    }

    /// Rows of the fixed cast (seller, resellers, partners, products, standard offers).
    fn world_rows(&mut self, day: Day) {
        let w = self.w;
        let next = day.plus(1);
        for a in std::iter::once(&w.seller)
            .chain(&w.resellers)
            .chain(&w.partners)
        {
            a.write_delivered(&mut self.out, day, next);
        }
        for p in &w.products {
            p.write_delivered(&mut self.out, day, next);
        }
        for o in &w.offers {
            o.write_delivered(&mut self.out, &w.products, &w.seller.id, day, next);
        }
    }

    fn event(&mut self, q: &mut Queue, day: Day, ev: Ev) {
        let w = self.w;
        let out = &mut self.out;
        match ev {
            Ev::Account(a, i) => {
                if out.writing() {
                    a.write_row(out, i);
                }
            }
            Ev::Offer(root) => {
                if let OfferRef::Own(o) = &root.offer {
                    o.write_delivered(out, &w.products, &w.seller.id, day, day.plus(1));
                }
            }
            Ev::Agreement(root, g, i) => {
                if out.writing() {
                    root.gens[g].write_row(out, &root, w, i);
                }
            }
            Ev::Terms(root, g) => {
                if out.writing() {
                    root.gens[g].write_terms(out);
                }
            }
            Ev::Invoice(root, g, k) => {
                let gen = &root.gens[g];
                let planned = gen.invoices()[k];
                if let Some(inv) = self.bill.issue(&root, gen, &planned) {
                    let inv = Rc::new(inv);
                    self.bill.write_invoice(out, &inv);
                    self.bill.schedule(q, &inv, root.kind);
                }
            }
            Ev::Usage(root, g, u) => {
                let gen = &root.gens[g];
                crate::usage::write_usage(w, out, &w.seller.id, &root, gen, u, None);
                for k in 0..root.usage_dims.len() {
                    for r in 0..crate::usage::usage_regions(&root).len() {
                        if crate::usage::usage_fix(w.seed, &root, gen.n, k, r, u).is_some() {
                            q.push(
                                u.plus(2),
                                FollowUp::UsageFix(root.clone(), g as u32, k, r, u),
                            );
                        }
                    }
                }
            }
            Ev::Adjust(n) => self.bill.adjustment(out, q, day, n),
        }
    }

    fn follow_up(&mut self, q: &mut Queue, day: Day, f: FollowUp) {
        let out = &mut self.out;
        match f {
            FollowUp::Collect(inv) => self.bill.collect(out, q, &inv, day),
            FollowUp::Forgive(inv) => self.bill.forgive(out, &inv, day),
            FollowUp::Refund(inv, pm) => self.bill.refund(out, q, &inv, pm, day),
            FollowUp::Failure(b) => self.bill.fail(out, q, &b, day),
            FollowUp::Duplicate(inv) => self.bill.duplicate(out, &inv),
            FollowUp::TaxFix(inv) => {
                if out.writing() {
                    self.bill.fix_tax(out, &inv, day);
                }
            }
            FollowUp::UsageFix(root, g, k, r, u) => {
                let gen = &root.gens[g as usize];
                crate::usage::write_usage(
                    self.w,
                    out,
                    &self.w.seller.id,
                    &root,
                    gen,
                    u,
                    Some((k, r)),
                );
            }
        }
    }

    /// The legacy id mappings, delivered once with the backfill.
    fn legacy_ids(&mut self) {
        let w = self.w;
        let stamp = BF_END.at(43_200);
        let mut rows: Vec<(&'static str, String, Rc<str>, Day)> = Vec::new();
        for p in &w.products {
            if let Some(l) = &p.legacy {
                rows.push(("PRODUCT", l.clone(), p.id.clone(), p.created));
            }
        }
        for o in &w.offers {
            if let Some(l) = &o.legacy {
                rows.push(("OFFER", l.clone(), o.id.clone(), o.created));
            }
        }
        for root in w.roots_between(BF_START, BF_END) {
            if let OfferRef::Own(o) = &root.offer {
                if let Some(l) = &o.legacy {
                    rows.push(("OFFER", l.clone(), o.id.clone(), o.created));
                }
            }
        }
        for (kind, legacy, new_id, created) in rows {
            self.out.row(crate::feeds::Feed::LegacyIdMapping, |r| {
                r.s(kind)
                    .s(&legacy)
                    .s(&new_id)
                    .s(crate::CATALOG)
                    .ts(crate::date::Ts::midnight(created))
                    .ts(stamp)
                    .ts(stamp)
                    .none();
            });
        }
    }

    /// Re-delivers, on block start `m0`, the history of everything active around it.
    fn redeliver(&mut self, m0: Day) {
        let w = self.w;
        let block = self.span.block;
        let lo = Month(m0.month().0 - block + 1).first();
        let hi = Month(m0.month().0 + block).first();
        let (from, to) = (LIVE_START, m0);
        for a in std::iter::once(&w.seller)
            .chain(&w.resellers)
            .chain(&w.partners)
        {
            a.write_delivered(&mut self.out, from, to);
        }
        for p in &w.products {
            p.write_delivered(&mut self.out, from, to);
        }
        for o in &w.offers {
            o.write_delivered(&mut self.out, &w.products, &w.seller.id, from, to);
        }
        let mut seen: HashSet<u64> = HashSet::new();
        for root in w.roots_between(lo.plus(-BACK), hi.plus(LEAD)) {
            if root.day.plus(-LEAD) >= hi || root.last_activity(w.seed) < lo {
                continue;
            }
            for a in [
                Some(&root.buyer),
                Some(&root.end_user),
                root.reseller.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                if seen.insert(a.key) {
                    a.write_delivered(&mut self.out, from, to);
                }
            }
            if let OfferRef::Own(o) = &root.offer {
                o.write_delivered(&mut self.out, &w.products, &w.seller.id, from, to);
            }
            // An agreement is needed if it is active around m0, or a later one of its chain is
            // (preceding_agreement_id must resolve).
            let Some(last) = root.gens.iter().rposition(|g| {
                g.accept.day.plus(-LEAD) < hi && root.last_delivery(w.seed, g) >= lo
            }) else {
                continue;
            };
            for gen in &root.gens[..=last] {
                for i in 0..gen.rows.len() {
                    let d = gen.rows[i].delivery;
                    if d >= from && d < to {
                        gen.write_row(&mut self.out, &root, w, i);
                    }
                }
                if gen.accept.day >= from && gen.accept.day < to {
                    gen.write_terms(&mut self.out);
                }
            }
        }
    }
}
