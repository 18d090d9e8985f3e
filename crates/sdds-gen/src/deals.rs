//! Deals: a buyer accepting an offer, then renewing (or replacing, cancelling) it.
//!
//! A deal ("root") is a chain of agreements ("generations"). Its whole plan — accounts it
//! introduces, its private offer and revisions, every agreement version and term, the
//! invoice schedule — is decided when it is planned, from its own hash stream.

use std::rc::Rc;

use crate::accounts::{Account, AccountSeed, Role};
pub use crate::agreements::{AgreementRow, Billing, Ending, Gen, Planned, Term};
use crate::catalog::{Offer, OfferKind, Opportunity, ProductKind};
use crate::date::{Day, Ts};
use crate::ids;
use crate::rng::{hash, stream, tag, Rng, Strata};
use crate::world::World;
use crate::{Broker, Cur, EMEA_START};

/// Longest time (days) from a deal's first acceptance to the end of its last agreement:
/// three 12-month agreements plus a delayed start.
pub const CHAIN_SPAN: i32 = 1_130;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Public SaaS subscription, billed monthly.
    Sub,
    /// Public metered product, daily usage billed monthly.
    Usage,
    /// Public contract, paid upfront or yearly.
    Contract,
    /// EnterpriseContract program offer.
    Program,
    /// Field demonstration program: invoiced, then forgiven.
    Fdp,
    /// CountryCodes offer for EMEA buyers.
    Geo,
    /// Private offer to one buyer.
    Private,
    /// Channel partner private offer: a reseller sells the seller's product.
    Cppo,
    /// The seller resells a partner's product (pays the partner a wholesale price).
    Resell,
}

pub enum OfferRef {
    Standard(usize),
    Own(Rc<Offer>),
}

pub struct Root {
    pub day: Day,
    pub j: u32,
    pub key: u64,
    pub kind: Kind,
    /// Billed products, one invoice line each (usage deals: one line per dimension).
    pub products: Vec<usize>,
    pub offer: OfferRef,
    pub buyer: Rc<Account>,
    pub end_user: Rc<Account>,
    pub reseller: Option<Rc<Account>>,
    /// Accounts this deal introduces (their rows are emitted on their delivery days).
    pub new_accounts: Vec<Rc<Account>>,
    pub broker: Broker,
    pub currency: Cur,
    pub dcur: Cur,
    pub fee_bp: i64,
    pub net_days: i32,
    /// Wholesale share paid to the partner (Resell), basis points.
    pub wholesale_bp: i64,
    /// Metered dimensions (indices into `text::DIMS`) of a usage deal, else empty.
    pub usage_dims: Vec<usize>,
    pub gens: Vec<Gen>,
}

impl Root {
    pub fn plan(w: &World, day: Day, j: u32) -> Option<Root> {
        let mut shape = w.strata(day, j, stream::SHAPE);
        let kind0 = w.decode_kind(&mut shape, day, j);
        let key = hash(&[w.seed, tag::ROOT, day.0 as u64, u64::from(j)]);
        let mut rng = Rng::new(&[key]);
        let own = |p: &crate::catalog::Product| p.kind != ProductKind::Partner;
        let live = |o: Option<usize>| o.is_some_and(|i| w.offers[i].created < day);
        let mut kind = kind0;
        let candidates: Vec<usize> = match kind {
            Kind::Usage => w.products_on_sale(day, |p| p.kind == ProductKind::Metered),
            Kind::Program => w.products_on_sale(day, |p| live(p.offers.program)),
            Kind::Fdp => w.products_on_sale(day, |p| live(p.offers.fdp)),
            Kind::Geo => w.products_on_sale(day, |p| live(p.offers.geo)),
            Kind::Resell => w.products_on_sale(day, |p| p.kind == ProductKind::Partner),
            Kind::Sub | Kind::Contract => {
                w.products_on_sale(day, |p| own(p) && p.kind != ProductKind::Metered)
            }
            Kind::Private | Kind::Cppo => w.products_on_sale(day, own),
        };
        let candidates = if candidates.is_empty() {
            kind = if kind0 == Kind::Resell {
                Kind::Private
            } else {
                Kind::Contract
            };
            w.products_on_sale(day, own)
        } else {
            candidates
        };
        if candidates.is_empty() {
            return None;
        }
        let main = candidates[w
            .strata(day, j, stream::PRODUCT)
            .weighted(&vec![1; candidates.len()])];
        let mut products = vec![main];
        // The shape stream is decoded most-consequential first: kind, the first agreement's
        // renewal, billing and term, then extra invoice lines.
        let first = Choices::decode(&mut shape, kind, true);
        let multi = matches!(
            kind,
            Kind::Private | Kind::Cppo | Kind::Contract | Kind::Sub | Kind::Program
        );
        let extra = multi && shape.chance(450);
        let third = extra && shape.chance(250);
        if extra {
            let extra: Vec<usize> = w.products_on_sale(day, |p| {
                own(p) && p.kind != ProductKind::Metered && p.idx != main
            });
            if !extra.is_empty() {
                products.push(*rng.pick(&extra));
                if third {
                    let third = *rng.pick(&extra);
                    if !products.contains(&third) {
                        products.push(third);
                    }
                }
            }
        }

        let buyer_seed = w.buyer_seed(day, j);
        let buyer = w.account(buyer_seed);
        let mut new_accounts = Vec::new();
        if buyer_seed.key == hash(&[w.seed, tag::ACCOUNT, day.0 as u64, u64::from(j)]) {
            new_accounts.push(buyer.clone());
        }
        let end_user = if rng.chance(150) {
            let linked = w.account(AccountSeed {
                key: hash(&[w.seed, tag::ACCOUNT, day.0 as u64, u64::from(j), 7]),
                created: day.plus(-(rng.range(0, 10) as i32)),
                country: buyer_seed.country,
                place: buyer_seed.place,
                role: Role::Buyer,
            });
            new_accounts.push(linked.clone());
            linked
        } else {
            buyer.clone()
        };
        let reseller = (kind == Kind::Cppo).then(|| rng.pick(&w.resellers).clone());

        let broker = if buyer.country.emea && day >= EMEA_START {
            Broker::AwsEurope
        } else {
            Broker::AwsInc
        };
        let (currency, dcur) = match broker {
            Broker::AwsInc => (Cur::Usd, Cur::Usd),
            Broker::AwsEurope => {
                let c = match rng.below(20) {
                    0..=4 => Cur::Usd,
                    5..=9 if buyer.country.code == "GB" => Cur::Gbp,
                    _ => Cur::Eur,
                };
                (c, if rng.chance(750) { Cur::Usd } else { c })
            }
        };
        let product = &w.products[main];
        let fee_bp = match kind {
            Kind::Sub | Kind::Usage | Kind::Contract => product.fee_bp,
            Kind::Fdp => 0,
            _ => 300,
        };
        let net_days = match kind {
            Kind::Private | Kind::Cppo | Kind::Program | Kind::Resell => {
                [30, 45, 60, 90, 200][rng.weighted(&[50, 15, 20, 13, 2])]
            }
            _ => 30,
        };

        let mut root = Root {
            day,
            j,
            key,
            kind,
            products,
            offer: OfferRef::Standard(0),
            buyer,
            end_user,
            reseller,
            new_accounts,
            broker,
            currency,
            dcur,
            fee_bp,
            net_days,
            wholesale_bp: rng.range(6_000, 8_500),
            usage_dims: if kind == Kind::Usage {
                w.products[main].dims.clone()
            } else {
                Vec::new()
            },
            gens: Vec::new(),
        };
        root.plan_gens(w, &mut rng, &mut shape, first);
        root.offer = root.plan_offer(w, &mut rng);
        Some(root)
    }

    fn plan_gens(&mut self, w: &World, rng: &mut Rng, shape: &mut Strata, first: Choices) {
        let product = &w.products[self.products[0]];
        let fx = self.currency.per_usd_e4();
        let scale = |cents: i64| cents * fx / 10_000 / 100 * 100;
        let big = matches!(self.kind, Kind::Private | Kind::Cppo | Kind::Resell);
        let mut accept = self.day.at(rng.range(1_800, 80_000) as u32);
        let mut start = if big && rng.chance(400) {
            accept.day.plus(rng.range(1, 12) as i32)
        } else {
            accept.day
        };
        let mut intent = "NEW";
        let mut preceding: Option<Rc<str>> = None;
        for n in 0..6u32 {
            let Choices {
                renew,
                geo_monthly,
                variant,
                term,
                cancel,
                replace,
            } = if n == 0 {
                first
            } else {
                Choices::decode(shape, self.kind, false)
            };
            let months = if self.kind == Kind::Fdp { 3 } else { term };
            let end = start.add_months(months).plus(-1);
            let uplift = 100 + rng.range(0, 8) * i64::from(n.min(1));
            let billing = match self.kind {
                Kind::Sub | Kind::Fdp => {
                    Billing::Monthly(scale(product.monthly_cents * rng.range(1, 4)) * uplift / 100)
                }
                Kind::Usage => Billing::Usage,
                Kind::Geo if geo_monthly => {
                    Billing::Monthly(scale(product.monthly_cents * rng.range(1, 3)))
                }
                _ => {
                    let yearly =
                        scale(product.annual_cents * if big { rng.range(2, 5) } else { 1 })
                            * uplift
                            / 100;
                    let years = i64::from(months / 12).max(1);
                    match variant {
                        0 => Billing::Upfront(yearly * years),
                        1 => Billing::Schedule {
                            n: years as u32,
                            every: 12,
                            amount: yearly,
                        },
                        2 => Billing::Schedule {
                            n: 4 * years as u32,
                            every: 3,
                            amount: yearly / 4 / 100 * 100,
                        },
                        _ => Billing::Schedule {
                            n: 12 * years as u32,
                            every: 1,
                            amount: yearly / 12 / 100 * 100,
                        },
                    }
                }
            };
            let value = match billing {
                Billing::Monthly(p) => p * i64::from(months),
                Billing::Upfront(t) => t,
                Billing::Schedule { n, amount, .. } => amount * i64::from(n),
                Billing::Usage => scale(product.monthly_cents * 12 * rng.range(1, 6)),
            };
            let id: Rc<str> = ids::agreement_id(ids::key(&[self.key, u64::from(n)])).into();
            let monthly = matches!(billing, Billing::Monthly(_) | Billing::Usage);
            // Room for one more 12-month agreement within the chain span (calendar-exact, so
            // the chain length does not depend on leap years).
            let last_ok = end.plus(1).add_months(12).plus(-1).0 - self.day.0 <= CHAIN_SPAN;
            let (ending, stop) = if monthly && cancel {
                let at = start.plus(rng.range(20, i64::from(end.0 - start.0 - 10)) as i32);
                (
                    Ending::Cancelled(at.at(rng.range(3_600, 80_000) as u32)),
                    at,
                )
            } else if !monthly
                && self.kind != Kind::Fdp
                && replace
                && end.0 - start.0 > 200
                && last_ok
            {
                let at = start.plus(rng.range(90, i64::from(end.0 - start.0 - 60)) as i32);
                (
                    Ending::Replaced(at.at(rng.range(3_600, 80_000) as u32)),
                    at.plus(-1),
                )
            } else if renew && last_ok {
                (Ending::Renewed, end)
            } else {
                (Ending::Expired, end)
            };
            let mut gen = Gen {
                n,
                id,
                accept,
                start,
                end,
                stop,
                intent,
                preceding: preceding.clone(),
                ending,
                billing,
                value,
                rows: Vec::new(),
                terms: Vec::new(),
            };
            gen.plan_rows(rng, self.kind);
            gen.plan_terms(self, w, rng);
            let next = match ending {
                Ending::Renewed => Some((
                    Ts::new(
                        end.plus(-(rng.range(1, 14) as i32)),
                        rng.range(3_600, 80_000) as u32,
                    ),
                    end.plus(1),
                    "RENEW",
                )),
                Ending::Replaced(at) => Some((at, at.day, "REPLACE")),
                _ => None,
            };
            preceding = Some(gen.id.clone());
            self.gens.push(gen);
            match next {
                Some((a, s, i)) => {
                    accept = a;
                    start = s;
                    intent = i;
                }
                None => break,
            }
        }
    }

    fn plan_offer(&self, w: &World, rng: &mut Rng) -> OfferRef {
        let p = &w.products[self.products[0]];
        let std = match self.kind {
            Kind::Sub | Kind::Usage | Kind::Contract => Some(p.offers.public),
            Kind::Program => p.offers.program,
            Kind::Fdp => p.offers.fdp,
            Kind::Geo => p.offers.geo,
            _ => None,
        };
        if let Some(i) = std {
            return OfferRef::Standard(i);
        }
        let (kind, seller) = match self.kind {
            Kind::Cppo => (
                OfferKind::Cppo,
                self.reseller.clone().unwrap_or_else(|| w.seller.clone()),
            ),
            Kind::Resell => (OfferKind::Resell, w.seller.clone()),
            _ => (OfferKind::Private, w.seller.clone()),
        };
        let created = self.gens[0].accept.day.plus(-(rng.range(2, 15) as i32));
        let mut offer = Offer::new(
            self.key ^ 0x0ff,
            kind,
            seller.clone(),
            self.products.clone(),
            created,
        );
        let title = p.rows[0].title.clone();
        let short: String = self
            .buyer
            .company
            .split([',', '('])
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        if kind != OfferKind::Private {
            let (grantor, auth_key) = match kind {
                OfferKind::Resell => (
                    p.manufacturer.company.clone(),
                    hash(&[p.manufacturer.key, p.idx as u64]),
                ),
                _ => (w.brand.to_string(), hash(&[seller.key, p.idx as u64])),
            };
            let titles: Vec<&str> = self
                .products
                .iter()
                .map(|&i| w.products[i].rows[0].title.as_str())
                .collect();
            offer.opportunity = Some(Opportunity {
                id: ids::resale_auth_id(auth_key),
                name: format!(
                    "{} resale – {grantor} FY{}",
                    seller.company,
                    created.ymd().0 % 100 + 1
                ),
                description: format!(
                    "Resale authorization for {}: {}; {}% wholesale discount",
                    seller.company,
                    titles.join(", "),
                    (10_000 - self.wholesale_bp) / 100
                ),
            });
        }
        let mut targets = vec![("BuyerAccounts", self.buyer.aws.to_string())];
        if self.end_user.key != self.buyer.key {
            targets.push(("BuyerAccounts", self.end_user.aws.to_string()));
        }
        let mut last = Ts::midnight(created);
        for g in &self.gens {
            let t = g
                .accept
                .day
                .plus(-(rng.range(1, 6) as i32))
                .at(rng.range(3_600, 80_000) as u32)
                .max(last.plus_secs(60));
            last = t;
            let months = (g.end.0 - g.start.0 + 20) / 30;
            let name = match (g.n, kind) {
                (0, OfferKind::Cppo) => format!("{short} – {title} (via {})", seller.company),
                (0, _) => format!("{short} – {title}, private pricing"),
                (_, _) => format!(
                    "{short} \"{}\" renewal, {months} months",
                    if g.intent == "REPLACE" {
                        "Amended"
                    } else {
                        "Enterprise"
                    }
                ),
            };
            let expiry = World::private_expiry(t, rng);
            offer.add_rev(rng, t, name, expiry, &targets);
        }
        OfferRef::Own(Rc::new(offer))
    }

    pub fn offer<'a>(&'a self, w: &'a World) -> &'a Offer {
        match &self.offer {
            OfferRef::Standard(i) => &w.offers[*i],
            OfferRef::Own(o) => o,
        }
    }

    /// The proposer of the agreements (the reseller for channel deals).
    pub fn proposer<'a>(&'a self, w: &'a World) -> &'a Account {
        self.reseller.as_deref().unwrap_or(&w.seller)
    }

    /// Last day any row caused by this deal can be delivered.
    pub fn last_activity(&self, seed: u64) -> Day {
        self.gens
            .last()
            .map_or(self.day, |g| self.last_delivery(seed, g))
    }

    /// Last day a row caused by agreement `g` can arrive: its last status change, or the
    /// last consequence of one of its invoices.
    pub fn last_delivery(&self, seed: u64, g: &Gen) -> Day {
        let broker = if g.accept.day <= crate::BF_END {
            Broker::AwsInc
        } else {
            self.broker
        };
        let mut last = g
            .rows
            .iter()
            .map(|r| r.delivery)
            .max()
            .unwrap_or(g.accept.day);
        for p in g.invoices() {
            let key = crate::billing::invoice_key(seed, self, g.n, p.seq);
            let due = p.day.plus(self.net_days);
            last = last.max(crate::billing::fate_last(
                seed, key, p.day, due, self.kind, broker,
            ));
        }
        last
    }
}

/// The choices that decide how many rows an agreement yields.
#[derive(Clone, Copy, Debug)]
pub struct Choices {
    renew: bool,
    geo_monthly: bool,
    variant: usize,
    term: i32,
    cancel: bool,
    replace: bool,
}

impl Choices {
    /// Decodes, from the deal's shape stream, only the choices that apply to `kind`, in
    /// order of how many rows they move (keeps their joint shares exact, see `Strata`).
    fn decode(shape: &mut Strata, kind: Kind, first: bool) -> Choices {
        let renew_pm = match kind {
            Kind::Sub | Kind::Private => 550,
            Kind::Usage => 600,
            Kind::Contract | Kind::Cppo => 450,
            Kind::Program | Kind::Resell => 400,
            Kind::Fdp => 0,
            Kind::Geo => 500,
        };
        let geo_monthly = kind == Kind::Geo && shape.chance(500);
        let contract = !matches!(kind, Kind::Sub | Kind::Usage | Kind::Fdp) && !geo_monthly;
        let variant = if contract {
            shape.weighted(&[3, 2, 3, 2])
        } else {
            0
        };
        let renew = shape.chance(renew_pm);
        let term = if first && matches!(kind, Kind::Contract | Kind::Program | Kind::Private) {
            [12, 24, 36][shape.weighted(&[75, 18, 7])]
        } else {
            12
        };
        let cancel = !contract && kind != Kind::Fdp && shape.chance(45);
        let replace = contract && shape.chance(30);
        Choices {
            renew,
            geo_monthly,
            variant,
            term,
            cancel,
            replace,
        }
    }
}
