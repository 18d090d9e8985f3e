//! Issuing an invoice: its lines, charge rows (spec §4) and tax items.

use std::rc::Rc;

use crate::accounts::Account;
use crate::catalog::{Product, ProductKind};
use crate::date::{Month, Ts};
use crate::deals::{Billing, Gen, Kind, Planned, Root};
use crate::ids;
use crate::rng::{hash, Rng};
use crate::text::{Place, DIMS};
use crate::usage::{usage_final, usage_regions};
use crate::{Broker, BF_END, BF_START, BUYER_FIELDS_START};

use super::{
    charge_id, convert, invoice_key, pct, round_div, Bill, BuyerInvoice, Charge, Inv, Line, TType,
    TaxItem,
};

/// Adds a charge row to an invoice line: (invoice, row number, type, from, to, amount,
/// balance impacting) -> index of the charge.
type AddCharge<'a> = dyn Fn(&mut Inv, u64, TType, &Rc<str>, &Rc<str>, i64, bool) -> usize + 'a;

/// Decisions taken once per invoice that shape its lines.
struct Terms {
    key: u64,
    month: Month,
    backfill: bool,
    cppo: bool,
    eu: bool,
    payer: Rc<str>,
    place: &'static Place,
    /// Separate listing-fee invoice (AWS_EUROPE).
    listing_fee: Option<Rc<str>>,
    /// Seller-issued VAT invoice (AWS_EUROPE).
    seller_issued: Option<Rc<str>>,
    /// The wholesale invoice the seller pays a partner on (resale of a partner product).
    wholesale: Rc<str>,
    taxed: bool,
    seller_liable: bool,
    exempt: bool,
    credit: bool,
}

impl Bill<'_> {
    /// Issues invoice `p` of agreement `g`; `None` if a usage month had no usage.
    pub fn issue(&self, root: &Root, g: &Gen, p: &Planned) -> Option<Inv> {
        let key = invoice_key(self.w.seed, root, g.n, p.seq);
        let mut rng = Rng::new(&[key]);
        let digits = format!(
            "{:05}{:04}{}{:02}",
            root.day.0 - BF_START.0,
            root.j,
            g.n,
            p.seq
        );
        let eu = root.broker == Broker::AwsEurope;
        let invoice_id: Rc<str> = if eu {
            format!("EUINV{digits}")
        } else {
            format!("7{digits}")
        }
        .into();
        let mut secs = rng.range(7_200, 72_000) as u32;
        if p.day == g.accept.day {
            secs = secs.max(g.accept.sec + 60).min(86_000);
        }
        let mut date = p.day.at(secs);
        if rng.chance(25) {
            date = date.with_ms(rng.range(1, 999) as u16);
        }
        let delivered = Ts::new(
            date.day,
            (date.sec + rng.range(120, 900) as u32).min(86_399),
        );
        let amounts = self.line_amounts(root, g, p)?;

        let backfill = p.day <= BF_END;
        let cppo = root.kind == Kind::Cppo;
        // Channel sales are paid by the reseller; the end customer stays the end user.
        let payer_account: &Account = match &root.reseller {
            Some(r) if cppo => r,
            _ => &root.buyer,
        };
        let addr = payer_account.address_at(date);
        let place = payer_account.place(addr);
        let trx: Rc<str> = ids::guid(key ^ 0x7).into();
        let buyer = (p.day >= BUYER_FIELDS_START && !rng.chance(80)).then(|| {
            if cppo {
                // The reseller's own purchase invoice, issued moments earlier.
                BuyerInvoice {
                    id: format!("6{digits}").into(),
                    date: Ts::new(date.day, date.sec.saturating_sub(32)),
                    trx: ids::guid(key ^ 0x8).into(),
                }
            } else {
                BuyerInvoice {
                    id: invoice_id.clone(),
                    date,
                    trx: trx.clone(),
                }
            }
        });
        let mut inv = Inv {
            key,
            invoice_id: Some(invoice_id),
            date,
            due: Some(Ts::midnight(p.day.plus(root.net_days))),
            period: Some((Ts::midnight(p.from), Ts::end_of(p.to))),
            broker: (!backfill).then_some(root.broker),
            currency: root.currency,
            dcur: root.dcur,
            payer: Some(payer_account.id.clone()),
            end_user: Some(root.end_user.id.clone()),
            agreement: (!backfill).then(|| g.id.clone()),
            offer: (!backfill).then(|| root.offer(self.w).id.clone()),
            address: Some(addr.id.clone()),
            trx: Some(trx),
            buyer,
            delivered,
            lines: Vec::new(),
            charges: Vec::new(),
            taxes: Vec::new(),
            tax_place: Some((
                place,
                payer_account.country.code,
                payer_account.country.tax_type,
            )),
            product_ids: Vec::new(),
            tax_codes: Vec::new(),
        };
        let terms = Terms {
            key,
            month: p.day.month(),
            backfill,
            cppo,
            eu,
            payer: payer_account.id.clone(),
            place,
            listing_fee: (eu && rng.chance(800)).then(|| format!("EULF{digits}").into()),
            seller_issued: (eu && rng.chance(200))
                .then(|| format!("SIV-{}-{digits}", root.buyer.country.code).into()),
            wholesale: format!("5{digits}").into(),
            taxed: !place.taxes.is_empty()
                && rng.chance(if root.buyer.country.emea { 700 } else { 950 }),
            seller_liable: cppo && rng.chance(300) || (!eu && !cppo && rng.chance(80)),
            exempt: !eu && rng.chance(25),
            credit: !backfill && rng.chance(30),
        };
        for (l, &(product, amount)) in amounts.iter().enumerate() {
            self.add_line(
                &mut inv,
                &terms,
                &mut rng,
                root,
                l,
                &self.w.products[product],
                amount,
            );
        }
        Some(inv)
    }

    /// (product, amount) per invoice line: the agreement's products share the amount; a
    /// usage invoice has one line per dimension with the month's metered revenue.
    fn line_amounts(&self, root: &Root, g: &Gen, p: &Planned) -> Option<Vec<(usize, i64)>> {
        let mut amounts = Vec::new();
        if g.billing == Billing::Usage {
            for (k, &d) in root.usage_dims.iter().enumerate() {
                let mut total = 0;
                let mut day = p.from;
                while day <= p.to {
                    for r in 0..usage_regions(root).len() {
                        total +=
                            usage_final(self.w.seed, root, g.n, k, r, day) * DIMS[d].rate_e4 / 100;
                    }
                    day = day.plus(1);
                }
                if total > 0 {
                    amounts.push((root.products[0], total));
                }
            }
            return (!amounts.is_empty()).then_some(amounts);
        }
        let mut left = p.amount;
        for (i, &product) in root.products.iter().enumerate() {
            let share = if i + 1 == root.products.len() {
                left
            } else {
                left * [75, 60, 50][i.min(2)] / 100 / 100 * 100
            };
            left -= share;
            amounts.push((product, share));
        }
        Some(amounts)
    }

    /// Adds line `l` and its charge rows: the seller's revenue, AWS's listing fee, taxes,
    /// and now and then a credit, an infrastructure share or a wholesale cost.
    #[allow(clippy::too_many_arguments)]
    fn add_line(
        &self,
        inv: &mut Inv,
        t: &Terms,
        rng: &mut Rng,
        root: &Root,
        l: usize,
        prod: &Product,
        amount: i64,
    ) {
        let item: Rc<str> =
            format!("li-{}-{}", inv.invoice_id.as_deref().unwrap_or(""), l + 1).into();
        let buyer_item = inv.buyer.as_ref().map(|b| -> Rc<str> {
            if t.cppo {
                format!("li-{}-{}", b.id, l + 1).into()
            } else {
                item.clone()
            }
        });
        // Backfill-era rows name products by their legacy GUID.
        let written = match (&prod.legacy, t.backfill) {
            (Some(legacy), true) => Rc::from(legacy.as_str()),
            _ => prod.id.clone(),
        };
        inv.lines.push(Line {
            item,
            product: written,
            buyer_item,
        });
        inv.product_ids.push(prod.id.clone());
        inv.tax_codes.push(prod.tax_code);

        let seed = self.w.seed;
        let (seller, aws, payer) = (&self.seller, &self.aws, &t.payer);
        let variant = match (t.backfill, t.cppo) {
            (true, _) => None,
            (false, true) => Some("RESALE"),
            (false, false) => Some("PURCHASE"),
        };
        let ck = |n: u64| hash(&[t.key, l as u64, n]);
        let add = |inv: &mut Inv,
                   n: u64,
                   ttype: TType,
                   from: &Rc<str>,
                   to: &Rc<str>,
                   amount: i64,
                   bi: bool| {
            let k = ck(n);
            inv.charges.push(Charge {
                key: k,
                id: charge_id(k),
                line: l as u8,
                ttype,
                from: from.clone(),
                to: to.clone(),
                amount,
                bi,
                // Informational rows (AWS-remitted tax) are never disbursed.
                disb: bi.then(|| convert(seed, amount, inv.currency, inv.dcur, t.month)),
                invoice_id: None,
                variant,
                charge_variant: None,
                side: None,
                parent: None,
            });
            inv.charges.len() - 1
        };
        let on_invoice = |c: &mut Charge,
                          invoice: &Rc<str>,
                          variant: &'static str,
                          charge: Option<&'static str>,
                          parent: [u8; 40]| {
            c.invoice_id = Some(invoice.clone());
            c.variant = Some(variant);
            c.charge_variant = charge;
            c.parent = Some(parent);
        };

        let srs = add(inv, 1, TType::SellerRevShare, payer, seller, amount, true);
        if t.cppo && !t.backfill {
            inv.charges[srs].charge_variant = Some("RESALE");
            inv.charges[srs].side = Some("SELLING");
        }
        let srs_id = inv.charges[srs].id;
        let fee = pct(amount, root.fee_bp);
        if fee > 0 {
            let ars = add(inv, 2, TType::AwsRevShare, seller, aws, -fee, true);
            if let Some(lf) = &t.listing_fee {
                on_invoice(
                    &mut inv.charges[ars],
                    lf,
                    "LISTING_FEE",
                    Some("LISTING_FEE"),
                    srs_id,
                );
                if rng.chance(300) {
                    // VAT on the listing fee, charged to the seller.
                    let vat = add(
                        inv,
                        3,
                        TType::AwsTaxShare,
                        seller,
                        aws,
                        -pct(fee, 2_000),
                        true,
                    );
                    on_invoice(
                        &mut inv.charges[vat],
                        lf,
                        "LISTING_FEE",
                        Some("LISTING_FEE"),
                        srs_id,
                    );
                }
            } else if !t.eu
                && !t.cppo
                && prod.kind != ProductKind::Partner
                && inv.date.day >= BUYER_FIELDS_START
                && rng.chance(350)
            {
                // AWS_INC's seller listing-fee invoice, not surfaced in invoice_id.
                inv.charges[ars].charge_variant = Some("LISTING_FEE");
            }
        }
        if t.taxed {
            self.add_taxes(inv, t, &ck, l, amount, &add);
        }
        if let Some(siv) = &t.seller_issued {
            let vat = pct(
                amount,
                i64::from(t.place.taxes.first().map_or(0, |x| x.2)) / 100,
            );
            if vat > 0 {
                let i = add(inv, 6, TType::SellerTaxShare, aws, seller, vat, true);
                on_invoice(&mut inv.charges[i], siv, "TAX_VAT", None, srs_id);
            }
        }
        if t.credit && fee > 0 {
            let credit = pct(amount, 1_000);
            add(
                inv,
                7,
                TType::SellerRevShareCredit,
                seller,
                payer,
                -credit,
                true,
            );
            add(
                inv,
                8,
                TType::AwsRevShareCredit,
                aws,
                seller,
                pct(credit, root.fee_bp),
                true,
            );
        }
        if prod.kind == ProductKind::Model && !t.backfill {
            add(
                inv,
                9,
                TType::AwsInfraShare,
                seller,
                aws,
                -pct(amount, 800),
                true,
            );
        }
        if root.kind == Kind::Resell && !t.backfill {
            // The seller owes the manufacturer its wholesale price (cost of goods).
            let wholesale = pct(amount, root.wholesale_bp);
            let i = add(
                inv,
                10,
                TType::SellerRevShare,
                seller,
                &prod.manufacturer.id,
                -wholesale,
                true,
            );
            let c = &mut inv.charges[i];
            c.invoice_id = Some(t.wholesale.clone());
            c.variant = Some("RESALE");
            c.charge_variant = Some("RESALE");
            c.side = Some("BUYING");
        }
    }

    /// Tax items per jurisdiction and the tax charge they add up to (collected by AWS, or
    /// by the seller when it is liable); an exempt line gets a zero item with a certificate.
    fn add_taxes(
        &self,
        inv: &mut Inv,
        t: &Terms,
        ck: &dyn Fn(u64) -> u64,
        l: usize,
        amount: i64,
        add: &AddCharge,
    ) {
        let line = l as u8;
        if t.exempt {
            let (level, jurisdiction, rate_ppm) = t.place.taxes[0];
            inv.taxes.push(TaxItem {
                key: ck(20),
                line,
                liable: "AWS",
                level,
                jurisdiction,
                rate_ppm,
                taxable: amount,
                amount: 0,
                exempt: true,
            });
            return;
        }
        let liable = if t.seller_liable { "Seller" } else { "AWS" };
        let mut total = 0;
        for (i, &(level, jurisdiction, rate_ppm)) in t.place.taxes.iter().enumerate() {
            let tax = round_div(i128::from(amount) * i128::from(rate_ppm), 1_000_000);
            total += tax;
            inv.taxes.push(TaxItem {
                key: ck(20 + i as u64),
                line,
                liable,
                level,
                jurisdiction,
                rate_ppm,
                taxable: amount,
                amount: tax,
                exempt: false,
            });
        }
        if t.seller_liable {
            add(
                inv,
                4,
                TType::SellerTaxShare,
                &t.payer,
                &self.seller,
                total,
                true,
            );
        } else {
            add(
                inv,
                5,
                TType::AwsTaxShare,
                &t.payer,
                &self.aws,
                total,
                false,
            );
        }
    }
}
