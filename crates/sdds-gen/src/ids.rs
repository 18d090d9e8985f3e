//! Identifiers shaped like the real ones (spec §3), derived from hashes so they are stable
//! and practically collision-free without any global counter.

use crate::rng::{hash, mix64, tag};

const B62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const B36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// `len` characters from `alphabet`, drawn from a hash stream keyed by `key`.
fn chars(key: u64, len: usize, alphabet: &[u8]) -> String {
    let mut s = String::with_capacity(len);
    let mut state = key;
    let mut word = 0u64;
    let mut left = 0;
    let n = alphabet.len() as u64;
    for _ in 0..len {
        if left == 0 {
            state = mix64(state.wrapping_add(0x9e37_79b9_7f4a_7c15));
            word = state;
            left = 10;
        }
        s.push(alphabet[(word % n) as usize] as char);
        word /= n;
        left -= 1;
    }
    s
}

pub fn key(parts: &[u64]) -> u64 {
    let mut all = Vec::with_capacity(parts.len() + 1);
    all.push(tag::ID);
    all.extend_from_slice(parts);
    hash(&all)
}

/// Opaque base62 account id (22 characters, like `nwSellerK7q2ZpL9xW4aB3`).
pub fn account_id(k: u64) -> String {
    chars(k ^ 0x0a, 22, B62)
}

/// 12-digit AWS account number; about one in twelve starts with a zero.
pub fn aws_account_number(k: u64) -> String {
    let h = mix64(k ^ 0x0b);
    let n = if h.is_multiple_of(12) {
        h / 12 % 100_000_000_000
    } else {
        100_000_000_000 + h / 12 % 900_000_000_000
    };
    format!("{n:012}")
}

/// Metering CustomerIdentifier, 12 base62 characters.
pub fn encrypted_account_id(k: u64) -> String {
    chars(k ^ 0x0c, 12, B62)
}

pub fn address_id(k: u64) -> String {
    format!("adr-{}", chars(k ^ 0x0d, 20, B36))
}

pub fn product_id(k: u64) -> String {
    format!("prod-{}", chars(k ^ 0x0e, 13, B36))
}

pub fn product_code(k: u64) -> String {
    chars(k ^ 0x0f, 25, B36)
}

pub fn offer_id(k: u64) -> String {
    format!("offer-{}", chars(k ^ 0x10, 13, B36))
}

pub fn agreement_id(k: u64) -> String {
    format!("agmt-{}", chars(k ^ 0x11, 25, B36))
}

pub fn term_id(k: u64) -> String {
    format!("term-{}", chars(k ^ 0x12, 20, B36))
}

pub fn offer_target_id(k: u64) -> String {
    format!("ot-{}", chars(k ^ 0x13, 20, B36))
}

pub fn usage_feed_id(k: u64) -> String {
    format!("du-{}", chars(k ^ 0x14, 24, B36))
}

pub fn tax_item_id(k: u64) -> String {
    format!("ti-{}", chars(k ^ 0x15, 24, B36))
}

/// 40 alphanumerics, the shape of a billing event id.
pub fn billing_event_id(k: u64) -> [u8; 40] {
    let s = chars(k ^ 0x16, 40, B36);
    let mut out = [0u8; 40];
    out.copy_from_slice(s.as_bytes());
    out
}

/// GUID text (lowercase hex, 8-4-4-4-12), for legacy ids and transaction references.
pub fn guid(k: u64) -> String {
    let a = mix64(k ^ 0x17);
    let b = mix64(a ^ 0x18);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// Resale authorization id (`resaleauth-...`), the CPPO offers' opportunity_id.
pub fn resale_auth_id(k: u64) -> String {
    format!("resaleauth-{}", chars(k ^ 0x19, 12, B36))
}

/// Numeric text of `digits` digits without a leading zero.
pub fn digits(k: u64, digits: u32) -> String {
    let lo = 10u64.pow(digits - 1);
    let n = lo + mix64(k ^ 0x1a) % (9 * lo);
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(account_id(1).len(), 22);
        let n = aws_account_number(5);
        assert!(n.len() == 12 && n.bytes().all(|b| b.is_ascii_digit()));
        let zeros = (0..1200)
            .filter(|&k| aws_account_number(k).starts_with('0'))
            .count();
        assert!((50..160).contains(&zeros), "{zeros}");
        assert!(product_id(3).starts_with("prod-"));
        assert_eq!(billing_event_id(9).len(), 40);
        let g = guid(4);
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "4");
        assert_eq!(digits(8, 9).len(), 9);
        assert_ne!(account_id(1), account_id(2));
    }
}
