//! Exact amounts: what the tables show and the totals are summed in; charts get floats.

use std::fmt;
use std::ops::Add;

/// Decimals every amount shows.
const CENTS: u32 = 2;

/// An exact decimal amount, as Arrow's Decimal128 holds it: `units` × 10^-`scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    units: i128,
    scale: u32,
}

impl Money {
    /// `units` × 10^-`scale`, shown with the digits it needs and at least two decimals (a
    /// report's `1000.0000000000` is `1000.00`): only zeros are dropped.
    pub fn new(units: i128, scale: u32) -> Money {
        let (mut units, mut scale) = (units, scale);
        while scale > CENTS && units % 10 == 0 {
            units /= 10;
            scale -= 1;
        }
        Money { units, scale }.rescaled(CENTS)
    }

    /// The same amount with `scale` digits after the point (`scale` ≥ the current one).
    fn rescaled(self, scale: u32) -> Money {
        let factor = 10i128.pow(scale.saturating_sub(self.scale));
        Money {
            units: self.units * factor,
            scale: scale.max(self.scale),
        }
    }

    /// For plotting only.
    pub fn to_f64(self) -> f64 {
        self.units as f64 / 10f64.powi(self.scale as i32)
    }

    /// Whether it is zero.
    pub fn is_zero(self) -> bool {
        self.units == 0
    }

    /// Digits with a point and no grouping (`-1234.50`), for machines (`data-value`).
    pub fn plain(self) -> String {
        let sign = if self.units < 0 { "-" } else { "" };
        let digits = self.units.unsigned_abs().to_string();
        if self.scale == 0 {
            return format!("{sign}{digits}");
        }
        let scale = self.scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        format!("{sign}{whole}.{fraction}")
    }
}

impl Default for Money {
    /// Zero, in cents.
    fn default() -> Money {
        Money {
            units: 0,
            scale: CENTS,
        }
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, other: Money) -> Money {
        let scale = self.scale.max(other.scale);
        Money {
            units: self.rescaled(scale).units + other.rescaled(scale).units,
            scale,
        }
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::default(), Add::add)
    }
}

/// Grouped thousands for people (`-1,234.50`); every digit kept.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self.plain();
        let (sign, unsigned) = match plain.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", plain.as_str()),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (unsigned, None),
        };
        let mut grouped = String::new();
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        match fraction {
            Some(fraction) => write!(f, "{sign}{grouped}.{fraction}"),
            None => write!(f, "{sign}{grouped}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_and_prints_exactly() {
        let total: Money = [Money::new(2204564, 2), Money::new(-3, 1), Money::new(5, 0)]
            .into_iter()
            .sum();
        assert_eq!(total.plain(), "22050.34");
        assert_eq!(total.to_string(), "22,050.34");
        assert_eq!(Money::default().plain(), "0.00");
        assert_eq!(Money::new(-5, 2).plain(), "-0.05");
        assert_eq!(Money::new(-123456789, 2).to_string(), "-1,234,567.89");
        assert_eq!(Money::new(100, 0).to_string(), "100.00");
        assert_eq!(Money::new(10_000_000_000_000, 10).plain(), "1000.00");
        assert_eq!(Money::new(12_345, 4).plain(), "1.2345");
    }
}
