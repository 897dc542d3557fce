//! A strict, non-allocating JSON scanner that finds value boundaries, and decoding of the two
//! kinds of leaf value the Artifact documents need: strings (escapes decoded straight into a
//! fixed-capacity string) and small unsigned integers.
//!
//! Documents are kept as raw bytes (meta-data must stay raw; type-info `artifact_depends` is
//! "a string or a list of strings"), validated here once, and decoded value by value. A
//! serde-based decoder (serde-json-core) did this before; it cost 2 KB of flash on Cortex-M
//! and a 256-byte scratch buffer on the stack of every decode, for these two cases.
use crate::limits::MAX_JSON_DEPTH;

/// The kind of a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

/// Invalid JSON, or a value that does not fit its fixed-capacity type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    Syntax,
    TooDeep,
    /// Valid JSON, but not of the expected type (or too long for its capacity).
    Type,
}

impl JsonError {
    /// A short fixed name (see [`crate::text::Brief`]).
    pub const fn name(self) -> &'static str {
        match self {
            JsonError::Syntax => "invalid JSON",
            JsonError::TooDeep => "JSON nested too deep",
            JsonError::Type => "JSON value of the wrong type",
        }
    }
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while let Some(c) = b.get(i) {
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        } else {
            break;
        }
    }
    i
}

fn string_end(b: &[u8], mut i: usize) -> Result<usize, JsonError> {
    // b[i] is the opening quote.
    i += 1;
    loop {
        match b.get(i) {
            None => return Err(JsonError::Syntax),
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => match b.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    let hex = b.get(i + 2..i + 6).ok_or(JsonError::Syntax)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(JsonError::Syntax);
                    }
                    i += 6;
                }
                _ => return Err(JsonError::Syntax),
            },
            Some(c) if *c < 0x20 => return Err(JsonError::Syntax),
            Some(_) => i += 1,
        }
    }
}

fn digits(b: &[u8], mut i: usize) -> (usize, usize) {
    let start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    (i, i - start)
}

fn number_end(b: &[u8], mut i: usize) -> Result<usize, JsonError> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(b, i).0,
        _ => return Err(JsonError::Syntax),
    }
    if b.get(i) == Some(&b'.') {
        let (j, n) = digits(b, i + 1);
        if n == 0 {
            return Err(JsonError::Syntax);
        }
        i = j;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let (j, n) = digits(b, i);
        if n == 0 {
            return Err(JsonError::Syntax);
        }
        i = j;
    }
    Ok(i)
}

fn literal_end(b: &[u8], i: usize, lit: &[u8]) -> Result<usize, JsonError> {
    if b.get(i..i + lit.len()) == Some(lit) {
        Ok(i + lit.len())
    } else {
        Err(JsonError::Syntax)
    }
}

/// Scans the value starting at `i` (after whitespace); returns its kind and end offset.
fn value(b: &[u8], i: usize, depth: usize) -> Result<(Kind, usize), JsonError> {
    let i = ws(b, i);
    match b.get(i) {
        Some(&open @ (b'{' | b'[')) => {
            if depth >= MAX_JSON_DEPTH {
                return Err(JsonError::TooDeep);
            }
            // Objects and arrays are scanned alike; an object's members have a key first.
            let (kind, close) = if open == b'{' {
                (Kind::Object, b'}')
            } else {
                (Kind::Array, b']')
            };
            let mut j = ws(b, i + 1);
            if b.get(j) == Some(&close) {
                return Ok((kind, j + 1));
            }
            loop {
                if kind == Kind::Object {
                    if b.get(j) != Some(&b'"') {
                        return Err(JsonError::Syntax);
                    }
                    j = ws(b, string_end(b, j)?);
                    if b.get(j) != Some(&b':') {
                        return Err(JsonError::Syntax);
                    }
                    j += 1;
                }
                j = ws(b, value(b, j, depth + 1)?.1);
                match b.get(j) {
                    Some(b',') => j = ws(b, j + 1),
                    Some(&c) if c == close => return Ok((kind, j + 1)),
                    _ => return Err(JsonError::Syntax),
                }
            }
        }
        Some(b'"') => Ok((Kind::String, string_end(b, i)?)),
        Some(b't') => Ok((Kind::Bool, literal_end(b, i, b"true")?)),
        Some(b'f') => Ok((Kind::Bool, literal_end(b, i, b"false")?)),
        Some(b'n') => Ok((Kind::Null, literal_end(b, i, b"null")?)),
        Some(_) => Ok((Kind::Number, number_end(b, i)?)),
        None => Err(JsonError::Syntax),
    }
}

/// Validates that `doc` is exactly one JSON value (surrounding whitespace allowed) and returns
/// its kind. Strings are checked for valid escapes; the document must be UTF-8.
pub fn validate(doc: &[u8]) -> Result<Kind, JsonError> {
    Value::of(doc).map(|v| v.kind)
}

/// A value inside a validated document.
#[derive(Debug, Clone, Copy)]
pub struct Value<'a> {
    pub kind: Kind,
    /// The raw bytes of the value (for strings: including the quotes).
    pub raw: &'a [u8],
}

impl<'a> Value<'a> {
    /// The whole document as a value, validated as [`validate`] does (in the same one scan).
    pub fn of(doc: &'a [u8]) -> Result<Value<'a>, JsonError> {
        if core::str::from_utf8(doc).is_err() {
            return Err(JsonError::Syntax);
        }
        let (kind, end) = value(doc, 0, 0)?;
        if ws(doc, end) != doc.len() {
            return Err(JsonError::Syntax);
        }
        Ok(Value {
            kind,
            raw: doc.get(ws(doc, 0)..end).ok_or(JsonError::Syntax)?,
        })
    }

    /// Members of an object value (empty for other kinds).
    pub fn members(&self) -> Members<'a> {
        Members {
            b: self.raw,
            pos: if self.kind == Kind::Object {
                1
            } else {
                self.raw.len()
            },
        }
    }

    /// Elements of an array value (empty for other kinds).
    pub fn elements(&self) -> Elements<'a> {
        Elements {
            b: self.raw,
            pos: if self.kind == Kind::Array {
                1
            } else {
                self.raw.len()
            },
        }
    }

    /// The value itself as a list of one (the shape of [`Value::elements`]).
    pub(crate) fn alone(&self) -> Elements<'a> {
        Elements {
            b: self.raw,
            pos: 0,
        }
    }

    /// Decodes a string value into a `heapless::String<N>`. Not a string, or longer than `N`
    /// bytes once decoded: [`JsonError::Type`]. A `\u` escape of a UTF-16 surrogate (half of a
    /// pair, which mender-artifact never writes: Go escapes no non-ASCII character but U+2028
    /// and U+2029) is [`JsonError::Syntax`].
    pub fn string<const N: usize>(&self) -> Result<heapless::String<N>, JsonError> {
        let mut out = heapless::String::new();
        unescape(self, N, Some(out.as_mut_view()))?;
        Ok(out)
    }

    /// What [`Value::string`] with capacity `max` would return, without keeping the string:
    /// validation needs only the verdict, and one copy of this code serves every capacity.
    pub(crate) fn check_string(&self, max: usize) -> Result<(), JsonError> {
        unescape(self, max, None)
    }

    /// Decodes a number value that is a non-negative integer fitting `u32` (no sign, fraction
    /// or exponent); anything else is [`JsonError::Type`].
    pub fn u32(&self) -> Result<u32, JsonError> {
        if self.kind != Kind::Number || self.raw.is_empty() {
            return Err(JsonError::Type);
        }
        self.raw.iter().try_fold(0u32, |n, &d| {
            if !d.is_ascii_digit() {
                return Err(JsonError::Type);
            }
            n.checked_mul(10)
                .and_then(|n| n.checked_add(u32::from(d - b'0')))
                .ok_or(JsonError::Type)
        })
    }
}

/// Decodes a string value of a validated document, escapes decoded, appending the characters
/// to `out` if given; not a string, or more than `max` bytes (or than `out` holds), is
/// [`JsonError::Type`]. The value is UTF-8 (the document was validated) and its escapes are
/// well formed. A runtime capacity and a string view, not `String<N>`: one copy of this code
/// for every capacity.
fn unescape(
    v: &Value<'_>,
    max: usize,
    mut out: Option<&mut heapless::string::StringView>,
) -> Result<(), JsonError> {
    if v.kind != Kind::String {
        return Err(JsonError::Type);
    }
    let mut len = 0;
    let mut put = |c: char| {
        len += c.len_utf8();
        if len > max {
            return Err(JsonError::Type);
        }
        match out.as_deref_mut() {
            Some(out) => out.push(c).map_err(|_| JsonError::Type),
            None => Ok(()),
        }
    };
    let raw = v.raw;
    let inner = raw
        .get(1..raw.len().saturating_sub(1))
        .ok_or(JsonError::Syntax)?;
    let text = core::str::from_utf8(inner).map_err(|_| JsonError::Syntax)?;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            put(c)?;
            continue;
        }
        let decoded = match chars.next() {
            Some('"') => '"',
            Some('\\') => '\\',
            Some('/') => '/',
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => {
                let mut n = 0;
                for _ in 0..4 {
                    let digit = chars.next().and_then(|d| d.to_digit(16));
                    n = n * 16 + digit.ok_or(JsonError::Syntax)?;
                }
                char::from_u32(n).ok_or(JsonError::Syntax)?
            }
            _ => return Err(JsonError::Syntax),
        };
        put(decoded)?;
    }
    Ok(())
}

/// Iterator over `(key, value)` of an object whose bytes were validated.
pub struct Members<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Members<'a> {
    /// The raw key (with quotes) and the value.
    type Item = (Value<'a>, Value<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        let b = self.b;
        let k0 = ws(b, self.pos);
        if b.get(k0) != Some(&b'"') {
            self.pos = b.len();
            return None;
        }
        let k1 = string_end(b, k0).ok()?;
        let colon = ws(b, k1);
        let v0 = ws(b, colon + 1);
        let (kind, v1) = value(b, v0, 1).ok()?;
        let after = ws(b, v1);
        self.pos = after + 1; // skips ',' or the closing '}'
        Some((
            Value {
                kind: Kind::String,
                raw: b.get(k0..k1)?,
            },
            Value {
                kind,
                raw: b.get(v0..v1)?,
            },
        ))
    }
}

/// Iterator over the elements of an array whose bytes were validated.
pub struct Elements<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Value<'a>;
    fn next(&mut self) -> Option<Self::Item> {
        let b = self.b;
        let v0 = ws(b, self.pos);
        if matches!(b.get(v0), None | Some(b']')) {
            self.pos = b.len();
            return None;
        }
        let (kind, v1) = value(b, v0, 1).ok()?;
        self.pos = ws(b, v1) + 1;
        Some(Value {
            kind,
            raw: b.get(v0..v1)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_walks() {
        let doc = br#" {"a":"x\u0026y","b":[1,"2",{"c":null}],"d":-1.5e3,"e":true} "#;
        let v = Value::of(doc).unwrap();
        assert_eq!(v.kind, Kind::Object);
        let m: heapless::Vec<_, 8> = v.members().collect();
        assert_eq!(m.len(), 4);
        let key: heapless::String<8> = m[0].0.string().unwrap();
        assert_eq!(key.as_str(), "a");
        let val: heapless::String<8> = m[0].1.string().unwrap();
        assert_eq!(val.as_str(), "x&y");
        assert_eq!(m[1].1.elements().count(), 3);
        assert_eq!(m[2].1.kind, Kind::Number);
    }

    /// The elements of `doc`, an array of the values under test.
    fn values(doc: &[u8]) -> heapless::Vec<Value<'_>, 16> {
        Value::of(doc).unwrap().elements().collect()
    }

    #[test]
    fn strings_decode_escapes_and_respect_capacity() {
        let doc = br#"["a\"b\\c\/d\be\ff\ng\rh\ti", "\u00e9\u0041\u20AC", "plain", "\ud83d\ude00", "\ud800", "", 5]"#;
        let v = values(doc);
        let s: heapless::String<32> = v[0].string().unwrap();
        assert_eq!(s.as_str(), "a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti");
        let s: heapless::String<32> = v[1].string().unwrap();
        assert_eq!(s.as_str(), "\u{e9}A\u{20ac}");
        // Exactly full is fine, one byte short is a type error (the capacity is the type).
        let s: heapless::String<5> = v[2].string().unwrap();
        assert_eq!(s.as_str(), "plain");
        assert_eq!(v[2].string::<4>(), Err(JsonError::Type));
        assert_eq!(
            v[1].string::<5>(),
            Err(JsonError::Type),
            "é A € are 6 bytes"
        );
        // Surrogates, paired or not, are refused (as serde-json-core refused them).
        assert_eq!(v[3].string::<8>(), Err(JsonError::Syntax));
        assert_eq!(v[4].string::<8>(), Err(JsonError::Syntax));
        assert_eq!(v[5].string::<0>().unwrap().as_str(), "");
        assert_eq!(v[6].string::<8>(), Err(JsonError::Type));
    }

    #[test]
    fn u32_takes_plain_non_negative_integers_only() {
        let doc = br#"[0, 3, 4294967295, 4294967296, -1, 3.0, 1e2, "3", true]"#;
        let got: heapless::Vec<_, 16> = values(doc).iter().map(Value::u32).collect();
        assert_eq!(
            got.as_slice(),
            [
                Ok(0),
                Ok(3),
                Ok(u32::MAX),
                Err(JsonError::Type),
                Err(JsonError::Type),
                Err(JsonError::Type),
                Err(JsonError::Type),
                Err(JsonError::Type),
                Err(JsonError::Type),
            ]
        );
    }

    #[test]
    fn rejects_bad_json() {
        for bad in [
            &b"{"[..],
            b"{\"a\":}",
            b"{\"a\":1,}",
            b"[1 2]",
            b"\"\\x\"",
            b"\"\\u12g4\"",
            b"01",
            b"{} x",
            b"\"a\x01\"",
            b"",
            b"tru",
        ] {
            assert!(validate(bad).is_err(), "{:?}", core::str::from_utf8(bad));
        }
        let mut deep = [b'['; 40];
        deep[39] = b']';
        assert_eq!(validate(&deep), Err(JsonError::TooDeep));
    }

    #[test]
    fn string_capacity_is_a_type_error() {
        let v = Value::of(br#""abcdefghij""#).unwrap();
        assert_eq!(v.string::<4>(), Err(JsonError::Type));
    }
}
