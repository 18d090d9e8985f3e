//! One CSV record in the SDDS dialect (RFC 4180, quote only when needed, LF endings),
//! appended straight into a byte buffer so writing a row allocates nothing.

use crate::date::Ts;

/// Builds one record into `buf`; fields are separated automatically.
pub struct Row<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Row<'a> {
    pub fn new(buf: &'a mut Vec<u8>) -> Row<'a> {
        Row { buf, first: true }
    }

    fn sep(&mut self) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
    }

    /// A text field, quoted if it holds a comma, quote, CR or LF (quotes doubled).
    pub fn s(&mut self, v: &str) -> &mut Self {
        self.sep();
        push_field(self.buf, v);
        self
    }

    /// An empty field (NULL).
    pub fn none(&mut self) -> &mut Self {
        self.sep();
        self
    }

    pub fn opt(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.s(v),
            None => self.none(),
        }
    }

    pub fn ts(&mut self, v: Ts) -> &mut Self {
        self.sep();
        v.write(self.buf);
        self
    }

    pub fn opt_ts(&mut self, v: Option<Ts>) -> &mut Self {
        match v {
            Some(v) => self.ts(v),
            None => self.none(),
        }
    }

    /// An amount in cents, always with two decimals (`-12.36`, `1000.00`).
    pub fn cents(&mut self, v: i64) -> &mut Self {
        self.sep();
        push_fixed(self.buf, v, 2, false);
        self
    }

    pub fn opt_cents(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.cents(v),
            None => self.none(),
        }
    }

    /// A decimal `v / 10^scale` without trailing zeros (`0.0625`, `6000`, `0.1`).
    pub fn dec(&mut self, v: i64, scale: u32) -> &mut Self {
        self.sep();
        push_fixed(self.buf, v, scale, true);
        self
    }

    pub fn int(&mut self, v: i64) -> &mut Self {
        self.sep();
        push_int(self.buf, v);
        self
    }

    /// `1` or `0`.
    pub fn flag(&mut self, v: bool) -> &mut Self {
        self.sep();
        self.buf.push(if v { b'1' } else { b'0' });
        self
    }

    /// Ends the record with LF.
    pub fn end(&mut self) {
        self.buf.push(b'\n');
    }
}

fn push_field(buf: &mut Vec<u8>, v: &str) {
    let bytes = v.as_bytes();
    if !bytes
        .iter()
        .any(|&b| b == b',' || b == b'"' || b == b'\n' || b == b'\r')
    {
        buf.extend_from_slice(bytes);
        return;
    }
    buf.push(b'"');
    for &b in bytes {
        if b == b'"' {
            buf.push(b'"');
        }
        buf.push(b);
    }
    buf.push(b'"');
}

fn push_int(buf: &mut Vec<u8>, v: i64) {
    let mut tmp = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        buf.push(b'-');
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn push_fixed(buf: &mut Vec<u8>, v: i64, scale: u32, trim: bool) {
    let p = 10u64.pow(scale);
    let a = v.unsigned_abs();
    if v < 0 {
        buf.push(b'-');
    }
    push_int(buf, (a / p) as i64);
    let mut frac = a % p;
    let mut digits = scale;
    if trim {
        while digits > 0 && frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
    }
    if digits > 0 {
        buf.push(b'.');
        let mut tmp = [b'0'; 20];
        let mut f = frac;
        for i in (0..digits as usize).rev() {
            tmp[i] = b'0' + (f % 10) as u8;
            f /= 10;
        }
        buf.extend_from_slice(&tmp[..digits as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::Day;

    fn line(f: impl FnOnce(&mut Row)) -> String {
        let mut buf = Vec::new();
        let mut row = Row::new(&mut buf);
        f(&mut row);
        row.end();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let got = line(|r| {
            r.s("plain")
                .s("a, b")
                .s("Dock \"C\"")
                .s("two\nlines")
                .none()
                .s("Zürich");
        });
        assert_eq!(
            got,
            "plain,\"a, b\",\"Dock \"\"C\"\"\",\"two\nlines\",,Zürich\n"
        );
    }

    #[test]
    fn numbers_are_plain() {
        let got = line(|r| {
            r.cents(-1236)
                .cents(100_000)
                .cents(5)
                .dec(625, 4)
                .dec(6000, 0)
                .dec(1000, 4)
                .dec(-35, 2)
                .int(-80)
                .flag(true);
        });
        assert_eq!(got, "-12.36,1000.00,0.05,0.0625,6000,0.1,-0.35,-80,1\n");
        let d = Day::from_ymd(2026, 9, 15);
        assert_eq!(
            line(|r| {
                r.ts(d.at(0));
            }),
            "2026-09-15T00:00:00Z\n"
        );
    }
}
