//! The population: scale derived from the flags, the fixed cast (seller, resellers,
//! partner manufacturers, products, standard offers) and the stream of deals.
//!
//! Deals ("roots") are enumerated per absolute day: day `d` has a fixed number of them,
//! computed from the month's quota, and deal `(d, j)` is planned from a hash of `(seed, d, j)`.
//! Nothing depends on where a run starts, so any day can be generated on its own.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::accounts::{Account, AccountSeed, Role};
use crate::catalog::{never, Offer, OfferKind, Product, ProductKind};
use crate::date::{Day, Month, Ts};
use crate::deals::{Kind, Root};
use crate::rng::{hash, stream, tag, Rng, Strata};
use crate::text::{self, COUNTRIES, COUNTRY_WEIGHTS};
use crate::{BF_END, BF_START, LIVE_START};

/// Billing rows a month, in steady state, per public deal accepted a month, times 10
/// (measured; the row-count tests keep it honest).
const PUBLIC_ROWS_X10: u64 = 1995;
/// The same for private, channel and resale deals (fewer, larger invoices).
const PRIVATE_ROWS_X10: u64 = 1020;
/// Backfill-era deals start from nothing, so each yields fewer rows in that era.
const BACKFILL_ROWS: u64 = 83;
/// Share of all billing rows that lands in the backfill partition, per mille.
const BACKFILL_SHARE: u64 = 30;

/// How much of everything to generate; a function of `--billing-events` and `--months`
/// only, never of `--end`, so appending a day keeps the rate of the original run.
#[derive(Clone, Debug)]
pub struct Scale {
    /// Public deals a month, in thousandths (from 2020-05).
    pub public_milli: u64,
    /// Private, channel and resale deals a month, in thousandths.
    pub private_milli: u64,
    /// Public deals a month before 2020-05, in thousandths.
    pub backfill_milli: u64,
    /// Private deals a month before 2020-05, in thousandths (their offers get legacy ids).
    pub backfill_private_milli: u64,
    /// Products ever launched (a sixth of them after the default window).
    pub products: usize,
    /// Partner products the seller resells (each from its own manufacturer).
    pub partners: usize,
    pub resellers: usize,
    /// Seller-level balance adjustments a month, in thousandths.
    pub adjustments_milli: u64,
}

impl Scale {
    pub fn new(billing_events: u64, months: u32) -> Scale {
        let n = billing_events;
        let live_rows_per_month = n * (1000 - BACKFILL_SHARE) / 1000 * 1000 / u64::from(months);
        let products = 20 + (n / 50_000) as usize;
        // Private deals scale with the catalog, but never take more than a quarter of the rows.
        let private_milli =
            (products as u64 * 150).min(live_rows_per_month * 10 / PRIVATE_ROWS_X10 / 4);
        let public_milli =
            (live_rows_per_month * 10 - private_milli * PRIVATE_ROWS_X10) / PUBLIC_ROWS_X10;
        // The backfill era starts empty and ramps up over its 16 months (about half full).
        let backfill_milli = (n * BACKFILL_SHARE * 2 / 16 / BACKFILL_ROWS).max(100);
        Scale {
            public_milli,
            private_milli,
            backfill_milli,
            backfill_private_milli: (private_milli * 2).min(n / 100),
            products: products + products / 6,
            partners: 1 + (n / 1_000_000) as usize,
            resellers: 2 + (n / 300_000) as usize,
            adjustments_milli: 600 + n / 200,
        }
    }
}

/// Spreads `milli / 1000` per month over the months (exact on average, no randomness).
pub fn per_month(milli: u64, month: Month) -> u64 {
    let m = (month.0 - BF_START.month().0) as u64;
    ((m + 1) * milli) / 1000 - (m * milli) / 1000
}

/// Spreads a month's count over its days.
fn per_day(count: u64, day: Day) -> u32 {
    let dom = u64::from(day.day_of_month());
    let days = u64::from(day.month().days());
    ((dom * count) / days - ((dom - 1) * count) / days) as u32
}

pub struct World {
    pub seed: u64,
    pub scale: Scale,
    pub brand: &'static str,
    pub seller: Rc<Account>,
    pub resellers: Vec<Rc<Account>>,
    pub partners: Vec<Rc<Account>>,
    pub products: Vec<Product>,
    pub offers: Vec<Offer>,
    accounts: RefCell<HashMap<u64, Rc<Account>>>,
    buyers: RefCell<HashMap<(i32, u32), AccountSeed>>,
    roots: RefCell<HashMap<(i32, u32), Rc<Root>>>,
}

impl World {
    pub fn new(seed: u64, scale: Scale) -> World {
        let mut rng = Rng::new(&[seed, tag::WORLD]);
        let brand = *rng.pick(text::BRANDS);
        let fixed = |key: u64, created: Day, country: usize, role: Role| {
            Rc::new(Account::plan(
                seed,
                AccountSeed {
                    key,
                    created,
                    country,
                    place: 0,
                    role,
                },
                brand,
            ))
        };
        let seller = fixed(hash(&[seed, 1]), Day::from_ymd(2019, 1, 2), 0, Role::Seller);
        let resellers = (0..scale.resellers)
            .map(|i| {
                let created = BF_START.plus(rng.range(10, 900) as i32);
                fixed(
                    hash(&[seed, 2, i as u64]),
                    created,
                    if i % 5 == 4 { 1 } else { 0 },
                    Role::Reseller,
                )
            })
            .collect();
        let partners: Vec<Rc<Account>> = (0..scale.partners)
            .map(|i| {
                fixed(
                    hash(&[seed, 3, i as u64]),
                    BF_START.plus(rng.range(0, 200) as i32),
                    0,
                    Role::Manufacturer,
                )
            })
            .collect();

        // The catalog's shape (launch dates, kinds) depends on the index only, so the number of
        // products on sale at any time - and with it the row count - does not vary by seed.
        let mut products = Vec::with_capacity(scale.products);
        let own = scale.products - scale.partners;
        let spread = |from: Day, to: Day, i: usize, n: usize, rng: &mut Rng| {
            let step = (to.0 - from.0) / n.max(1) as i32;
            from.plus(step * i as i32 + rng.range(0, i64::from(step.max(1) / 3)) as i32)
        };
        let (early, mid) = (own * 4 / 10, own * 85 / 100);
        for i in 0..scale.products {
            let partner = i >= own;
            let created = if partner {
                spread(
                    Day::from_ymd(2021, 1, 1),
                    Day::from_ymd(2022, 12, 31),
                    i - own,
                    scale.partners,
                    &mut rng,
                )
            } else if i < early {
                spread(
                    BF_START.plus(1),
                    Day::from_ymd(2020, 3, 31),
                    i,
                    early,
                    &mut rng,
                )
            } else if i < mid {
                spread(
                    LIVE_START,
                    Day::from_ymd(2026, 4, 30),
                    i - early,
                    mid - early,
                    &mut rng,
                )
            } else {
                spread(
                    Day::from_ymd(2026, 5, 1),
                    Day::from_ymd(2030, 12, 31),
                    i - mid,
                    own - mid,
                    &mut rng,
                )
            };
            let kind = if partner {
                ProductKind::Partner
            } else {
                match i % 7 {
                    1 | 5 => ProductKind::Metered,
                    3 => ProductKind::Services,
                    6 if i == 6 => ProductKind::Model,
                    _ => ProductKind::Saas,
                }
            };
            let maker = if kind == ProductKind::Partner {
                partners[i % partners.len()].clone()
            } else {
                seller.clone()
            };
            products.push(Product::plan(seed, i, kind, created, brand, maker));
        }

        let mut offers: Vec<Offer> = Vec::new();
        for p in &mut products {
            if p.kind == ProductKind::Partner {
                continue;
            }
            let mut orng = Rng::new(&[seed, tag::OFFER, p.idx as u64]);
            let title = p.rows.last().map_or("", |r| r.title.as_str()).to_string();
            let mut make = |rng: &mut Rng,
                            kind: OfferKind,
                            delay: i64,
                            name: String,
                            targets: Vec<(&'static str, String)>| {
                let key = hash(&[seed, tag::OFFER, p.idx as u64, offers.len() as u64]);
                let o = standard_offer(rng, key, kind, seller.clone(), p, delay, name, &targets);
                offers.push(o);
                offers.len() - 1
            };
            let mut po = crate::catalog::ProductOffers {
                public: make(
                    &mut orng,
                    OfferKind::Public,
                    0,
                    format!("{title} - Public"),
                    Vec::new(),
                ),
                ..Default::default()
            };
            if p.idx % 5 < 3 {
                let targets = vec![("ParticipatingPrograms", "EnterpriseContract".to_string())];
                let delay = orng.range(20, 120);
                po.program = Some(make(
                    &mut orng,
                    OfferKind::Program("EnterpriseContract"),
                    delay,
                    format!("{title} – Enterprise Contract"),
                    targets,
                ));
            }
            if p.idx % 4 == 1 {
                let targets = vec![("ParticipatingPrograms", "FieldDemonstration".to_string())];
                let delay = orng.range(30, 200);
                po.fdp = Some(make(
                    &mut orng,
                    OfferKind::Program("FieldDemonstration"),
                    delay,
                    format!("{title} (Field Demonstration)"),
                    targets,
                ));
            }
            if p.idx % 9 < 4 {
                let n = orng.range(2, 5) as usize;
                let targets = text::GEO_COUNTRIES[..n]
                    .iter()
                    .map(|c| ("CountryCodes", c.to_string()))
                    .collect();
                let delay = orng.range(10, 400);
                po.geo = Some(make(
                    &mut orng,
                    OfferKind::Geo,
                    delay,
                    format!("{title}, EMEA pricing"),
                    targets,
                ));
            }
            p.offers = po;
        }

        World {
            seed,
            scale,
            brand,
            seller,
            resellers,
            partners,
            products,
            offers,
            accounts: RefCell::new(HashMap::new()),
            buyers: RefCell::new(HashMap::new()),
            roots: RefCell::new(HashMap::new()),
        }
    }

    /// (public, private) deals accepted on `day`.
    pub fn deals_on(&self, day: Day) -> (u32, u32) {
        if day < BF_START {
            return (0, 0);
        }
        let m = day.month();
        if day <= BF_END {
            return (
                per_day(per_month(self.scale.backfill_milli, m), day),
                per_day(per_month(self.scale.backfill_private_milli, m), day),
            );
        }
        (
            per_day(per_month(self.scale.public_milli, m), day),
            per_day(per_month(self.scale.private_milli, m), day),
        )
    }

    /// The planned account of `seed`, memoized.
    pub fn account(&self, seed: AccountSeed) -> Rc<Account> {
        if let Some(a) = self.accounts.borrow().get(&seed.key) {
            return a.clone();
        }
        let a = Rc::new(Account::plan(self.seed, seed, self.brand));
        self.accounts.borrow_mut().insert(seed.key, a.clone());
        a
    }

    /// The low-discrepancy stream of deal `(day, j)`: deals are numbered consecutively per
    /// class (backfill/live × public/private), in closed form.
    pub fn strata(&self, day: Day, j: u32, stream: usize) -> Strata {
        let (_, private) = self.deals_on(day);
        let backfill = day <= BF_END;
        let (milli, idx) = match (backfill, j < private) {
            (true, true) => (self.scale.backfill_private_milli, j),
            (true, false) => (self.scale.backfill_milli, j - private),
            (false, true) => (self.scale.private_milli, j),
            (false, false) => (self.scale.public_milli, j - private),
        };
        let class_start = if backfill { BF_START } else { LIVE_START };
        let m = day.month();
        let months_before = |month: Month| (month.0 - BF_START.month().0) as u64 * milli / 1000;
        let this_month = per_month(milli, m);
        let dom = u64::from(day.day_of_month());
        let k = months_before(m) - months_before(class_start.month())
            + (dom - 1) * this_month / u64::from(m.days())
            + u64::from(idx);
        Strata::new(
            &[
                self.seed,
                tag::ROOT,
                u64::from(backfill),
                u64::from(j < private),
            ],
            k,
            stream,
        )
    }

    /// Kind of deal `(day, j)`; cheap, used both to plan deals and to pick buyers.
    pub fn kind_of(&self, day: Day, j: u32) -> Kind {
        self.decode_kind(&mut self.strata(day, j, stream::SHAPE), day, j)
    }

    /// The first choice of a deal's shape stream.
    pub fn decode_kind(&self, shape: &mut Strata, day: Day, j: u32) -> Kind {
        let (_, private) = self.deals_on(day);
        if j < private {
            return [Kind::Private, Kind::Cppo, Kind::Resell][shape.weighted(&[55, 33, 12])];
        }
        [
            Kind::Sub,
            Kind::Usage,
            Kind::Contract,
            Kind::Program,
            Kind::Fdp,
            Kind::Geo,
        ][shape.weighted(&[64, 7, 9, 9, 3, 5])]
    }

    /// The buyer (acceptor) of deal `(day, j)`: a new account or one that bought before.
    pub fn buyer_seed(&self, day: Day, j: u32) -> AccountSeed {
        if let Some(s) = self.buyers.borrow().get(&(day.0, j)) {
            return *s;
        }
        let kind = self.kind_of(day, j);
        let mut rng = Rng::new(&[self.seed, tag::PICK, day.0 as u64, u64::from(j)]);
        let mut strata = self.strata(day, j, stream::BUYER);
        // Country and home place come from the deal's strata (they decide how many tax and
        // EMEA rows the deal yields); a returning buyer must be from the same country.
        let country = if kind == Kind::Geo {
            [1, 2, 3, 4, 5][strata.weighted(&[4, 2, 4, 1, 1])]
        } else {
            strata.weighted(COUNTRY_WEIGHTS)
        };
        let place = strata.weighted(&vec![1; COUNTRIES[country].places.len()]);
        let mut found = None;
        if !strata.chance(560) {
            for _ in 0..8 {
                let back = rng.range(1, 540) as i32;
                let d = day.plus(-back);
                if d < BF_START {
                    continue;
                }
                let (a, b) = self.deals_on(d);
                if a + b == 0 {
                    continue;
                }
                let other = self.buyer_seed(d, rng.below(u64::from(a + b)) as u32);
                if other.country == country {
                    found = Some(other);
                    break;
                }
            }
        }
        let seed = found.unwrap_or_else(|| AccountSeed {
            key: hash(&[self.seed, tag::ACCOUNT, day.0 as u64, u64::from(j)]),
            created: day.plus(-(rng.range(0, 12) as i32)),
            country,
            place,
            role: Role::Buyer,
        });
        self.buyers.borrow_mut().insert((day.0, j), seed);
        seed
    }

    /// The plan of deal `(day, j)`, memoized; `None` if no product was on sale yet.
    pub fn root(&self, day: Day, j: u32) -> Option<Rc<Root>> {
        if let Some(r) = self.roots.borrow().get(&(day.0, j)) {
            return Some(r.clone());
        }
        let root = Rc::new(Root::plan(self, day, j)?);
        self.roots.borrow_mut().insert((day.0, j), root.clone());
        Some(root)
    }

    /// All deals accepted on days `from..=to`, in (day, j) order.
    pub fn roots_between(&self, from: Day, to: Day) -> Vec<Rc<Root>> {
        let mut out = Vec::new();
        let mut d = from.max(BF_START);
        while d <= to {
            let (a, b) = self.deals_on(d);
            for j in 0..a + b {
                if let Some(r) = self.root(d, j) {
                    out.push(r);
                }
            }
            d = d.plus(1);
        }
        out
    }

    /// Products of a kind on sale at `day`.
    pub fn products_on_sale(&self, day: Day, want: impl Fn(&Product) -> bool) -> Vec<usize> {
        self.products
            .iter()
            .filter(|p| p.created.plus(7) <= day && want(p))
            .map(|p| p.idx)
            .collect()
    }

    /// Expiry a private offer revision gets: a few weeks after it is published.
    pub fn private_expiry(t: Ts, rng: &mut Rng) -> Ts {
        Ts::end_of(t.day.plus(rng.range(20, 90) as i32))
    }
}

/// A long-lived offer of the seller for one product, revised every year or two.
#[allow(clippy::too_many_arguments)]
fn standard_offer(
    rng: &mut Rng,
    key: u64,
    kind: OfferKind,
    seller: Rc<Account>,
    p: &Product,
    delay: i64,
    name: String,
    targets: &[(&'static str, String)],
) -> Offer {
    let created = p.created.plus(delay as i32);
    let mut o = Offer::new(key, kind, seller, vec![p.idx], created);
    let mut t = created.at(rng.range(3_600, 70_000) as u32);
    let mut rev = 1;
    while t.day < Day::from_ymd(2040, 1, 1) {
        let label = if rev == 1 {
            name.clone()
        } else {
            format!("{name} (rev {rev})")
        };
        o.add_rev(rng, t, label, never(), targets);
        t = t
            .day
            .plus(rng.range(240, 720) as i32)
            .at(rng.range(3_600, 70_000) as u32);
        rev += 1;
    }
    o
}
