//! The textual encodings of binary data that `encode(bytea, format)` and
//! `decode(text, format)` convert between: `hex`, `base64` (RFC 4648, 76
//! characters a line as PostgreSQL writes it) and `escape` (printable bytes
//! as themselves, a backslash doubled, anything else as `\ooo` octal).
//! Decoding skips whitespace in `hex` and `base64`, as PostgreSQL does, and
//! fails with 22023 on anything else that is not the format.

use crate::{Error, Result};

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// Characters per base64 line; PostgreSQL breaks lines there.
const BASE64_LINE: usize = 76;

fn invalid(message: impl Into<String>) -> Error {
    Error::sql("22023", message.into())
}

fn unknown_format(format: &str) -> Error {
    invalid(format!("unrecognized encoding: \"{format}\""))
}

/// `encode(bytes, format)`.
pub fn encode(bytes: &[u8], format: &str) -> Result<String> {
    match format.to_ascii_lowercase().as_str() {
        "hex" => Ok(bytes.iter().map(|b| format!("{b:02x}")).collect()),
        "base64" => Ok(encode_base64(bytes)),
        "escape" => Ok(encode_escape(bytes)),
        _ => Err(unknown_format(format)),
    }
}

/// `decode(text, format)`.
pub fn decode(text: &str, format: &str) -> Result<Vec<u8>> {
    match format.to_ascii_lowercase().as_str() {
        "hex" => decode_hex(text),
        "base64" => decode_base64(text),
        "escape" => decode_escape(text),
        _ => Err(unknown_format(format)),
    }
}

fn encode_base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4 + bytes.len() / 57);
    let mut line = 0;
    for chunk in bytes.chunks(3) {
        if line == BASE64_LINE {
            out.push('\n');
            line = 0;
        }
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            let c = if i <= chunk.len() { BASE64[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' };
            out.push(c);
        }
        line += 4;
    }
    out
}

fn encode_escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            0 | 0x80..=0xff => out.push_str(&format!("\\{b:03o}")),
            _ => out.push(b as char),
        }
    }
    out
}

fn hex_digit(c: u8) -> Result<u8> {
    (c as char)
        .to_digit(16)
        .map(|d| d as u8)
        .ok_or_else(|| invalid(format!("invalid hexadecimal digit: \"{}\"", c as char)))
}

fn decode_hex(text: &str) -> Result<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(invalid("invalid hexadecimal data: odd number of digits"));
    }
    digits.chunks(2).map(|pair| Ok(hex_digit(pair[0])? << 4 | hex_digit(pair[1])?)).collect()
}

fn decode_base64(text: &str) -> Result<Vec<u8>> {
    let symbols: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let padding = symbols.iter().rev().take_while(|&&b| b == b'=').count();
    if !symbols.len().is_multiple_of(4) || padding > 2 {
        return Err(invalid("invalid base64 end sequence"));
    }
    let mut out = Vec::with_capacity(symbols.len() / 4 * 3);
    for quad in symbols[..symbols.len() - padding].chunks(4) {
        let mut n = 0u32;
        for (i, &c) in quad.iter().enumerate() {
            let value = BASE64.iter().position(|&s| s == c).ok_or_else(|| {
                invalid(format!("invalid symbol \"{}\" found while decoding base64 sequence", c as char))
            })?;
            n |= (value as u32) << (18 - 6 * i);
        }
        let kept = quad.len() * 6 / 8;
        out.extend((0..kept).map(|i| (n >> (16 - 8 * i)) as u8));
    }
    Ok(out)
}

fn decode_escape(text: &str) -> Result<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let octal = bytes.get(i + 1..i + 4).filter(|d| d[0] <= b'3' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
            let digits = octal.ok_or_else(|| invalid("invalid input syntax for type bytea"))?;
            out.push(digits.iter().fold(0u8, |n, d| n << 3 | (d - b'0')));
            i += 4;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let data: Vec<u8> = (0..=255).collect();
        for format in ["hex", "base64", "escape", "HEX"] {
            assert_eq!(decode(&encode(&data, format).unwrap(), format).unwrap(), data, "{format}");
        }
        for len in 0..8 {
            let data = &b"abcdefgh"[..len];
            assert_eq!(decode(&encode(data, "base64").unwrap(), "base64").unwrap(), data);
        }
    }

    #[test]
    fn postgresqls_outputs() {
        assert_eq!(encode(b"hello", "hex").unwrap(), "68656c6c6f");
        assert_eq!(encode(b"hello", "base64").unwrap(), "aGVsbG8=");
        assert_eq!(encode(b"hi", "base64").unwrap(), "aGk=");
        assert_eq!(encode(b"a\\b\x00\xff", "escape").unwrap(), "a\\\\b\\000\\377");
        assert_eq!(encode(&[b'x'; 60], "base64").unwrap().lines().map(str::len).collect::<Vec<_>>(), [76, 4]);
        assert_eq!(decode("aGVs\nbG8=", "base64").unwrap(), b"hello");
        assert_eq!(decode("68 65", "hex").unwrap(), b"he");
    }

    #[test]
    fn bad_input_is_an_error() {
        for (text, format) in [("abc", "hex"), ("zz", "hex"), ("a", "base64"), ("a!==", "base64"), ("\\9", "escape")] {
            assert_eq!(decode(text, format).unwrap_err().sqlstate(), "22023", "{text} {format}");
        }
        assert_eq!(encode(b"x", "rot13").unwrap_err().sqlstate(), "22023");
    }
}
