//! Accounts and their addresses, each with its whole planned history.
//!
//! An account's plan (versions, address changes, corrections, soft deletes, re-deliveries)
//! is a pure function of its seed, so any run can emit any of its rows on their delivery
//! day without having simulated the account's past.

use std::rc::Rc;

use crate::date::{Day, Ts};
use crate::feeds::Feed;
use crate::ids;
use crate::out::Output;
use crate::rng::{hash, tag, Rng};
use crate::text::{self, Country, COUNTRIES};
use crate::CATALOG;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Seller,
    Reseller,
    Manufacturer,
    Buyer,
}

/// Everything needed to plan an account; the same key always comes with the same seed.
#[derive(Clone, Copy, Debug)]
pub struct AccountSeed {
    pub key: u64,
    pub created: Day,
    pub country: usize,
    /// Home place (index into the country's places).
    pub place: usize,
    pub role: Role,
}

pub struct Address {
    pub id: Rc<str>,
    pub created: Ts,
    pub place: usize,
    pub company: String,
    pub line1: String,
    pub line2: Option<String>,
}

/// One row of the account feed: a version, a correction, a soft delete or a re-delivery.
pub struct AccountRow {
    pub delivery: Day,
    pub valid_from: Ts,
    pub insert: Ts,
    pub update: Ts,
    pub delete: Option<Ts>,
    pub address: usize,
}

pub struct Account {
    pub key: u64,
    pub id: Rc<str>,
    pub aws: Rc<str>,
    pub encrypted: String,
    pub country: &'static Country,
    pub created: Day,
    pub company: String,
    pub domain: String,
    pub tax_registration: Option<String>,
    pub legal_name: Option<String>,
    pub addresses: Vec<Address>,
    pub rows: Vec<AccountRow>,
}

impl Account {
    pub fn plan(seed: u64, s: AccountSeed, brand: &str) -> Account {
        let mut rng = Rng::new(&[seed, tag::ACCOUNT, s.key]);
        let country = &COUNTRIES[s.country];
        let company = match s.role {
            Role::Seller => format!("{brand} Analytics, Inc."),
            Role::Reseller => {
                text::RESELLER_NAMES[s.key as usize % text::RESELLER_NAMES.len()].to_string()
            }
            Role::Manufacturer => format!(
                "{} Software, Inc.",
                text::PARTNER_BRANDS[s.key as usize % text::PARTNER_BRANDS.len()]
            ),
            Role::Buyer => text::company_name(&mut rng, country),
        };
        let domain = text::email_domain(&company, country, s.key);
        let k = ids::key(&[seed, tag::ACCOUNT, s.key]);
        let (tax_registration, legal_name) = if country.code != "US" && rng.chance(700) {
            let digits = ids::digits(k ^ 1, 9);
            (
                Some(format!("{}{digits}", country.code)),
                Some(company.clone()),
            )
        } else {
            (None, None)
        };
        let home = s.place.min(country.places.len() - 1);
        let mut acct = Account {
            key: s.key,
            id: ids::account_id(k).into(),
            aws: ids::aws_account_number(k).into(),
            encrypted: ids::encrypted_account_id(k),
            country,
            created: s.created,
            company,
            domain,
            tax_registration,
            legal_name,
            addresses: Vec::new(),
            rows: Vec::new(),
        };
        let t0 = s.created.at(rng.range(3_600, 70_000) as u32);
        let first = acct.add_address(&mut rng, k, t0, home);
        acct.rows.push(AccountRow {
            delivery: t0.day,
            valid_from: Ts::midnight(s.created),
            insert: t0,
            update: t0,
            delete: None,
            address: first,
        });
        if s.role != Role::Buyer {
            return acct;
        }
        // A change of address (a new version), sometimes corrected later, maybe in a later month.
        if rng.chance(130) {
            let day = s.created.plus(rng.range(45, 330) as i32);
            let t = day.at(rng.range(3_600, 60_000) as u32);
            let place = rng.below(country.places.len() as u64) as usize;
            let moved = acct.add_address(&mut rng, k, t, place);
            acct.rows.push(AccountRow {
                delivery: day,
                valid_from: Ts::midnight(day),
                insert: t,
                update: t,
                delete: None,
                address: moved,
            });
            if rng.chance(350) {
                let fix = t.plus_secs(rng.range(86_400, 35 * 86_400) as u32);
                let fixed = acct.add_address(&mut rng, k, fix, place);
                acct.rows.push(AccountRow {
                    delivery: fix.day,
                    valid_from: Ts::midnight(day),
                    insert: t,
                    update: fix,
                    delete: None,
                    address: fixed,
                });
            }
        }
        // A version that AWS later withdraws (the correction row carries delete_date).
        if rng.chance(25) {
            let day = s.created.plus(rng.range(20, 300) as i32);
            let t = day.at(rng.range(3_600, 40_000) as u32);
            let place = rng.below(country.places.len() as u64) as usize;
            let wrong = acct.add_address(&mut rng, k, t, place);
            let gone = t.plus_secs(rng.range(86_400, 20 * 86_400) as u32);
            for (update, delete) in [(t, None), (gone, Some(gone))] {
                acct.rows.push(AccountRow {
                    delivery: update.day,
                    valid_from: Ts::midnight(day),
                    insert: t,
                    update,
                    delete,
                    address: wrong,
                });
            }
        }
        // An identical re-delivery of the first row.
        if rng.chance(20) {
            let again = s.created.plus(rng.range(1, 60) as i32);
            acct.rows.push(AccountRow {
                delivery: again,
                valid_from: Ts::midnight(s.created),
                insert: t0,
                update: t0,
                delete: None,
                address: first,
            });
        }
        acct.rows.sort_by_key(|r| (r.delivery, r.update));
        acct
    }

    fn add_address(&mut self, rng: &mut Rng, k: u64, created: Ts, place: usize) -> usize {
        let n = self.addresses.len() as u64;
        let company = if n > 0 && rng.chance(100) {
            format!(
                "{} (formerly {})",
                self.company,
                self.company.split(' ').next().unwrap_or("")
            )
        } else {
            self.company.clone()
        };
        self.addresses.push(Address {
            id: ids::address_id(hash(&[k, 0xad, n])).into(),
            created,
            place,
            company,
            line1: text::street_line(rng, self.country),
            line2: text::second_line(rng),
        });
        self.addresses.len() - 1
    }

    /// The billing/mailing address id as known at `t`: the latest version in force,
    /// ignoring rows not yet delivered and withdrawn versions.
    pub fn address_at(&self, t: Ts) -> &Address {
        let mut best: Option<&AccountRow> = None;
        for row in &self.rows {
            if row.update > t || row.valid_from > t || row.delete.is_some() {
                continue;
            }
            let withdrawn = self
                .rows
                .iter()
                .any(|r| r.valid_from == row.valid_from && r.delete.is_some_and(|d| d <= t));
            if withdrawn {
                continue;
            }
            if best.is_none_or(|b| (row.valid_from, row.update) >= (b.valid_from, b.update)) {
                best = Some(row);
            }
        }
        &self.addresses[best.map_or(0, |r| r.address)]
    }

    pub fn place(&self, a: &Address) -> &'static text::Place {
        &self.country.places[a.place]
    }

    /// Writes row `i` and the address rows it introduces (delivered with it).
    pub fn write_row(&self, out: &mut Output, i: usize) {
        let row = &self.rows[i];
        let addr = &self.addresses[row.address];
        if addr.created == row.update && row.delete.is_none() {
            self.write_address(out, row.address);
        }
        out.row(Feed::Account, |r| {
            r.s(&self.id)
                .s(&self.aws)
                .s(&self.encrypted)
                .s(&addr.id)
                .s(&addr.id)
                .opt(self.tax_registration.as_deref())
                .opt(self.legal_name.as_deref())
                .s(CATALOG)
                .ts(row.valid_from)
                .ts(row.insert)
                .ts(row.update)
                .opt_ts(row.delete);
        });
    }

    fn write_address(&self, out: &mut Output, i: usize) {
        let a = &self.addresses[i];
        let place = self.place(a);
        out.row(Feed::Address, |r| {
            r.s(&a.id)
                .s(&self.aws)
                .s(&self.domain)
                .s(&a.company)
                .s(self.country.code)
                .s(place.state)
                .s(place.city)
                .s(place.postal)
                .s(&a.line1)
                .opt(a.line2.as_deref())
                .none()
                .s(CATALOG)
                .ts(Ts::midnight(a.created.day))
                .none()
                .ts(a.created)
                .ts(a.created)
                .none();
        });
    }

    /// Writes every row delivered in `from..to` (days), in plan order.
    pub fn write_delivered(&self, out: &mut Output, from: Day, to: Day) {
        for i in 0..self.rows.len() {
            let d = self.rows[i].delivery;
            if d >= from && d < to {
                self.write_row(out, i);
            }
        }
    }
}
