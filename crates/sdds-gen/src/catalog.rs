//! Products and offers (with revisions, targets and offer products).

use std::rc::Rc;

use crate::accounts::Account;
use crate::date::{Day, Ts};
use crate::feeds::Feed;
use crate::ids;
use crate::out::Output;
use crate::rng::{hash, tag, Rng};
use crate::text;
use crate::CATALOG;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProductKind {
    Saas,
    Metered,
    Services,
    /// Model hosting: its lines carry an AWS_INFRA_SHARE.
    Model,
    /// A third-party product the seller resells under a resale authorization.
    Partner,
}

pub struct TitleRow {
    pub delivery: Day,
    pub valid_from: Ts,
    pub insert: Ts,
    pub update: Ts,
    pub title: String,
}

/// Indices into the world's standard offers for one product.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProductOffers {
    pub public: usize,
    pub program: Option<usize>,
    pub fdp: Option<usize>,
    pub geo: Option<usize>,
}

pub struct Product {
    pub idx: usize,
    pub id: Rc<str>,
    pub code: String,
    pub kind: ProductKind,
    pub manufacturer: Rc<Account>,
    pub created: Day,
    /// Pre-2020-05 products have a legacy GUID, used by the backfill billing rows.
    pub legacy: Option<String>,
    pub rows: Vec<TitleRow>,
    /// Listing fee of the public offer, basis points.
    pub fee_bp: i64,
    pub monthly_cents: i64,
    pub annual_cents: i64,
    pub dims: Vec<usize>,
    pub tax_code: &'static str,
    pub offers: ProductOffers,
}

impl Product {
    pub fn plan(
        seed: u64,
        idx: usize,
        kind: ProductKind,
        created: Day,
        brand: &str,
        maker: Rc<Account>,
    ) -> Product {
        let k = hash(&[seed, tag::PRODUCT, idx as u64]);
        let mut rng = Rng::new(&[k]);
        let noun = match kind {
            ProductKind::Saas | ProductKind::Partner => rng.pick(text::SAAS_NOUNS),
            ProductKind::Metered => rng.pick(text::METERED_NOUNS),
            ProductKind::Services => rng.pick(text::SERVICE_NOUNS),
            ProductKind::Model => rng.pick(text::MODEL_NOUNS),
        };
        let owner = if kind == ProductKind::Partner {
            text::PARTNER_BRANDS[maker.key as usize % text::PARTNER_BRANDS.len()]
        } else {
            brand
        };
        let title = match rng.below(8) {
            0 => format!("{owner} {noun}, \"Pro\" Edition"),
            1 => format!("{owner} {noun} – Enterprise"),
            _ => format!("{owner} {noun}"),
        };
        let t0 = created.at(rng.range(28_000, 60_000) as u32);
        let mut rows = Vec::new();
        if rng.chance(100) {
            // First delivered with a typo, corrected later at the same valid_from.
            let typo = title.replacen('r', "", 1);
            let fix = t0.plus_secs(rng.range(3 * 86_400, 40 * 86_400) as u32);
            rows.push(TitleRow {
                delivery: t0.day,
                valid_from: t0,
                insert: t0,
                update: t0,
                title: typo,
            });
            rows.push(TitleRow {
                delivery: fix.day,
                valid_from: t0,
                insert: t0,
                update: fix,
                title: title.clone(),
            });
        } else {
            rows.push(TitleRow {
                delivery: t0.day,
                valid_from: t0,
                insert: t0,
                update: t0,
                title: title.clone(),
            });
        }
        // Renames over the years (new valid_from each time).
        let mut day = created;
        let mut n = 2;
        loop {
            day = day.plus(rng.range(300, 900) as i32);
            if day > Day::from_ymd(2040, 1, 1) {
                break;
            }
            if rng.chance(450) {
                let t = Ts::midnight(day);
                let u = t.plus_secs(rng.range(5, 600) as u32);
                let renamed = match n % 3 {
                    0 => format!("{title} (v{n})"),
                    1 => format!("{title} Platform"),
                    _ => format!("{owner} {noun} {}", 2019 + day.ymd().0 % 100 - 19),
                };
                rows.push(TitleRow {
                    delivery: u.day,
                    valid_from: t,
                    insert: u,
                    update: u,
                    title: renamed,
                });
                n += 1;
            }
        }
        let dims = match kind {
            ProductKind::Metered => {
                let first = rng.below(3) as usize;
                let count = 1 + idx % 3 / 2;
                (0..count).map(|i| [0, 1, 2][(first + i) % 3]).collect()
            }
            ProductKind::Model => vec![4],
            _ => vec![3],
        };
        let pk = ids::key(&[k]);
        Product {
            idx,
            id: ids::product_id(pk).into(),
            code: ids::product_code(pk),
            kind,
            manufacturer: maker,
            created,
            legacy: (created <= crate::BF_END).then(|| ids::guid(pk ^ 0x1e6)),
            rows,
            fee_bp: [500, 800, 1000, 1500, 2000][rng.below(5) as usize],
            monthly_cents: rng.range(49, 2_500) * 100,
            annual_cents: rng.range(60, 2_400) * 10_000,
            dims,
            tax_code: if kind == ProductKind::Services {
                "AWSMP_ProfessionalServices"
            } else {
                "AWSMP_SaaS"
            },
            offers: ProductOffers::default(),
        }
    }

    pub fn write_delivered(&self, out: &mut Output, from: Day, to: Day) {
        for r in self
            .rows
            .iter()
            .filter(|r| r.delivery >= from && r.delivery < to)
        {
            out.row(Feed::Product, |w| {
                w.s(&self.id)
                    .s(&self.manufacturer.id)
                    .s(&self.code)
                    .s(&r.title)
                    .s(CATALOG)
                    .ts(r.valid_from)
                    .ts(r.insert)
                    .ts(r.update)
                    .none();
            });
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferKind {
    Public,
    /// ParticipatingPrograms offer (EnterpriseContract, FieldDemonstration).
    Program(&'static str),
    /// CountryCodes offer.
    Geo,
    /// BuyerAccounts offer of the seller.
    Private,
    /// Channel offer: the legal seller is a reseller.
    Cppo,
    /// The seller resells a partner's product.
    Resell,
}

pub struct Target {
    pub id: String,
    pub kind: &'static str,
    pub polarity: &'static str,
    pub value: String,
    /// Set when AWS withdraws this target row later (soft delete).
    pub deleted: Option<Ts>,
}

pub struct OfferRev {
    pub rev: u32,
    pub valid_from: Ts,
    pub name: String,
    pub expiry: Ts,
    pub targets: Vec<Target>,
    /// A corrected name delivered later at the same valid_from.
    pub fix: Option<(Ts, String)>,
}

pub struct Opportunity {
    pub id: String,
    pub name: String,
    pub description: String,
}

pub struct Offer {
    pub key: u64,
    pub id: Rc<str>,
    pub kind: OfferKind,
    pub seller: Rc<Account>,
    pub products: Vec<usize>,
    pub created: Day,
    pub legacy: Option<String>,
    pub opportunity: Option<Opportunity>,
    pub revs: Vec<OfferRev>,
}

/// Far-future expiry of offers that never expire.
pub fn never() -> Ts {
    Ts::midnight(Day::from_ymd(9999, 1, 1))
}

impl Offer {
    pub fn new(
        key: u64,
        kind: OfferKind,
        seller: Rc<Account>,
        products: Vec<usize>,
        created: Day,
    ) -> Offer {
        Offer {
            key,
            id: ids::offer_id(ids::key(&[key])).into(),
            kind,
            seller,
            products,
            created,
            legacy: (created <= crate::BF_END).then(|| ids::guid(ids::key(&[key, 0x1e6]))),
            opportunity: None,
            revs: Vec::new(),
        }
    }

    /// Adds a revision valid from `t`; `targets` are (type, value) pairs.
    pub fn add_rev(
        &mut self,
        rng: &mut Rng,
        t: Ts,
        name: String,
        expiry: Ts,
        targets: &[(&'static str, String)],
    ) {
        let rev = self.revs.len() as u32 + 1;
        let mut ts: Vec<Target> = targets
            .iter()
            .enumerate()
            .map(|(i, (kind, value))| Target {
                id: ids::offer_target_id(hash(&[self.key, u64::from(rev), i as u64])),
                kind,
                polarity: "PositiveTargeting",
                value: value.clone(),
                deleted: None,
            })
            .collect();
        if !ts.is_empty() && rng.chance(40) {
            // A mistyped target, withdrawn a few days later.
            let first = &ts[0];
            let typo = match first.value.parse::<u64>() {
                Ok(n) => format!("{:012}", n ^ 1),
                Err(_) => format!("{}X", first.value),
            };
            ts.push(Target {
                id: ids::offer_target_id(hash(&[self.key, u64::from(rev), 99])),
                kind: first.kind,
                polarity: "PositiveTargeting",
                value: typo,
                deleted: Some(t.plus_secs(rng.range(86_400, 20 * 86_400) as u32)),
            });
        }
        let fix = rng.chance(25).then(|| {
            (
                t.plus_secs(rng.range(2 * 86_400, 30 * 86_400) as u32),
                format!("{name} (revised)"),
            )
        });
        self.revs.push(OfferRev {
            rev,
            valid_from: t,
            name,
            expiry,
            targets: ts,
            fix,
        });
    }

    /// Writes the rows delivered on days `from..to`.
    pub fn write_delivered(
        &self,
        out: &mut Output,
        products: &[Product],
        recipient: &str,
        from: Day,
        to: Day,
    ) {
        let inside = |t: Ts| t.day >= from && t.day < to;
        for rev in &self.revs {
            if inside(rev.valid_from) {
                self.write_offer_row(out, recipient, rev, &rev.name, rev.valid_from);
                for &p in &self.products {
                    out.row(Feed::OfferProduct, |w| {
                        w.s(&self.id)
                            .int(i64::from(rev.rev))
                            .s(&products[p].id)
                            .s(CATALOG)
                            .ts(rev.valid_from)
                            .ts(rev.valid_from)
                            .ts(rev.valid_from)
                            .none();
                    });
                }
                for t in &rev.targets {
                    self.write_target(out, rev, t, rev.valid_from, None);
                }
            }
            if let Some((when, name)) = &rev.fix {
                if inside(*when) {
                    self.write_offer_row(out, recipient, rev, name, *when);
                }
            }
            for t in &rev.targets {
                if let Some(gone) = t.deleted.filter(|&g| inside(g)) {
                    self.write_target(out, rev, t, gone, Some(gone));
                }
            }
        }
    }

    fn write_offer_row(
        &self,
        out: &mut Output,
        recipient: &str,
        rev: &OfferRev,
        name: &str,
        update: Ts,
    ) {
        let opp = self.opportunity.as_ref();
        out.row(Feed::Offer, |w| {
            w.s(&self.id)
                .int(i64::from(rev.rev))
                .s(name)
                .ts(rev.expiry)
                .opt(opp.map(|o| o.name.as_str()))
                .opt(opp.map(|o| o.description.as_str()))
                .s(&self.seller.id)
                .opt(opp.map(|o| o.id.as_str()))
                .s(recipient)
                .s(CATALOG)
                .ts(rev.valid_from)
                .ts(rev.valid_from)
                .ts(update)
                .none();
        });
    }

    fn write_target(
        &self,
        out: &mut Output,
        rev: &OfferRev,
        t: &Target,
        update: Ts,
        delete: Option<Ts>,
    ) {
        out.row(Feed::OfferTarget, |w| {
            w.s(&t.id)
                .s(&self.id)
                .int(i64::from(rev.rev))
                .s(t.kind)
                .s(t.polarity)
                .s(&t.value)
                .s(CATALOG)
                .ts(rev.valid_from)
                .ts(rev.valid_from)
                .ts(update)
                .opt_ts(delete);
        });
    }
}
