//! Daily metered usage (dailyusagefeed_v1) of usage-based agreements, as pure functions
//! of the day so the monthly usage invoice can re-add the month.

use crate::date::{Day, Ts};
use crate::deals::{Gen, Root};
use crate::feeds::Feed;
use crate::ids;
use crate::out::Output;
use crate::rng::{hash, tag, Rng};
use crate::text::{DIMS, REGIONS};
use crate::world::World;
use crate::CATALOG;

/// Regions a usage deal runs in (one or two).
pub fn usage_regions(root: &Root) -> &'static [(&'static str, &'static str)] {
    let first = (root.key % REGIONS.len() as u64) as usize;
    let two = root.key.is_multiple_of(5) && first + 1 < REGIONS.len();
    &REGIONS[first..first + if two { 2 } else { 1 }]
}

/// Metered quantity of dimension `k` in region `r` on `day` as first reported.
pub fn usage_first(seed: u64, root: &Root, gen: u32, k: usize, r: usize, day: Day) -> i64 {
    let mut rng = Rng::new(&[
        seed,
        tag::USAGE,
        root.key,
        u64::from(gen),
        k as u64,
        r as u64,
        day.0 as u64,
    ]);
    if rng.chance(40) {
        return 0;
    }
    let d = &DIMS[rootdim(root, k)];
    let weekend = if day.weekday() >= 5 { 60 } else { 100 };
    let q = d.typical * rng.range(50, 150) / 100 * weekend / 100;
    (q / d.step).max(1) * d.step
}

fn rootdim(root: &Root, k: usize) -> usize {
    root.usage_dims.get(k).copied().unwrap_or(0)
}

/// Whether that quantity is restated a day later, and the restated value.
pub fn usage_fix(seed: u64, root: &Root, gen: u32, k: usize, r: usize, day: Day) -> Option<i64> {
    let mut rng = Rng::new(&[
        seed,
        tag::USAGE,
        root.key,
        u64::from(gen),
        k as u64,
        r as u64,
        day.0 as u64,
        1,
    ]);
    if !rng.chance(20) {
        return None;
    }
    let q = usage_first(seed, root, gen, k, r, day);
    let d = &DIMS[rootdim(root, k)];
    let fixed = (q * rng.range(80, 95) / 100 / d.step).max(0) * d.step;
    (fixed != q).then_some(fixed)
}

/// The final (possibly restated) quantity, which the monthly invoice bills.
pub fn usage_final(seed: u64, root: &Root, gen: u32, k: usize, r: usize, day: Day) -> i64 {
    usage_fix(seed, root, gen, k, r, day).unwrap_or_else(|| usage_first(seed, root, gen, k, r, day))
}

/// Writes the daily usage rows of `day` for agreement `g` (delivered the next day).
pub fn write_usage(
    w: &World,
    out: &mut Output,
    seller: &str,
    root: &Root,
    g: &Gen,
    day: Day,
    fixed: Option<(usize, usize)>,
) {
    if !out.writing() || day < crate::USAGE_FEED_START {
        return;
    }
    let offer = root.offer(w);
    let product = &w.products[root.products[0]];
    for (r, &(region, label)) in usage_regions(root).iter().enumerate() {
        for k in 0..root.usage_dims.len() {
            if fixed.is_some_and(|f| f != (k, r)) {
                continue;
            }
            let first = usage_first(w.seed, root, g.n, k, r, day);
            let (qty, update) = match fixed {
                Some(_) => match usage_fix(w.seed, root, g.n, k, r, day) {
                    Some(q) => (q, day.plus(2).at(27_000)),
                    None => continue,
                },
                None => (first, day.plus(1).at(7_200 + (root.key % 1_800) as u32)),
            };
            if qty == 0 {
                continue;
            }
            let d = &DIMS[root.usage_dims[k]];
            let id = ids::usage_feed_id(hash(&[
                root.key,
                u64::from(g.n),
                k as u64,
                r as u64,
                day.0 as u64,
            ]));
            out.row(Feed::DailyUsage, |row| {
                row.s(&id)
                    .ts(Ts::midnight(day))
                    .s(&product.id)
                    .s(&g.id)
                    .s(&root.end_user.id)
                    .s(&root.buyer.id)
                    .s(region)
                    .s(d.key)
                    .s(d.unit)
                    .int(qty)
                    .s(root.currency.code())
                    .cents(qty * d.rate_e4 / 100)
                    .dec(d.rate_e4, 4)
                    .s(&format!(
                        "{} ({} {} per {}, {label} region)",
                        d.label,
                        crate::agreements::rate(d.rate_e4),
                        root.currency.code(),
                        d.per
                    ))
                    .s(&offer.id)
                    .s(seller)
                    .s(CATALOG)
                    .ts(Ts::midnight(day))
                    .ts(update)
                    .ts(update)
                    .none();
            });
        }
    }
}
