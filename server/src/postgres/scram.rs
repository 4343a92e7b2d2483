//! The server side of a SCRAM-SHA-256 exchange (RFC 5802, RFC 7677) as
//! PostgreSQL runs it inside its SASL authentication messages.
//!
//! The exchange is three messages: the client's first (a nonce), the
//! server's first (the combined nonce, the verifier's salt and iteration
//! count), the client's final (the proof). The server checks the proof
//! against the stored verifier and answers with its own signature, so the
//! client knows the server held the verifier. Channel binding is not
//! offered (there is no TLS to bind to): a client that demands it is
//! refused.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustydb_core::sql::roles::ScramVerifier;
use rustydb_core::{Error, Result};

pub const MECHANISM: &str = "SCRAM-SHA-256";
/// Longest SCRAM message accepted.
const MAX_MESSAGE_BYTES: usize = 4096;

/// An exchange between the server's first message and the client's final one.
pub struct ScramExchange {
    verifier: ScramVerifier,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    /// The GS2 header the client sent, which its final message must echo.
    gs2_header: String,
}

impl ScramExchange {
    /// Reads the client's first message; the exchange and the server's
    /// first message to send. `server_nonce` must be fresh and unguessable.
    pub fn start(client_first: &[u8], verifier: ScramVerifier, server_nonce: &str) -> Result<(ScramExchange, String)> {
        let text = message_text(client_first)?;
        let (gs2_header, bare) = split_gs2_header(text)?;
        let mut client_nonce = None;
        for attribute in bare.split(',') {
            match attribute.split_once('=') {
                Some(("n", _)) => {} // PostgreSQL takes the user from the startup packet.
                Some(("r", nonce)) if !nonce.is_empty() && nonce.bytes().all(is_printable) => {
                    client_nonce = Some(nonce)
                }
                Some(("m", _)) => return Err(malformed("mandatory extensions are not supported")),
                _ => return Err(malformed("unexpected attribute in the client's first message")),
            }
        }
        let client_nonce = client_nonce.ok_or_else(|| malformed("the client's first message has no nonce"))?;
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!("r={nonce},s={},i={}", BASE64.encode(&verifier.salt), verifier.iterations);
        let exchange = ScramExchange {
            verifier,
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
            gs2_header: gs2_header.to_string(),
        };
        Ok((exchange, server_first))
    }

    /// Checks the client's final message; the server's final message if the
    /// proof holds, `Ok(None)` if it does not (a wrong password).
    pub fn finish(&self, client_final: &[u8]) -> Result<Option<String>> {
        let text = message_text(client_final)?;
        let (without_proof, proof) =
            text.rsplit_once(",p=").ok_or_else(|| malformed("the client's final message has no proof"))?;
        let mut binding = None;
        let mut nonce = None;
        for attribute in without_proof.split(',') {
            match attribute.split_once('=') {
                Some(("c", value)) => binding = Some(value),
                Some(("r", value)) => nonce = Some(value),
                _ => return Err(malformed("unexpected attribute in the client's final message")),
            }
        }
        if binding != Some(BASE64.encode(&self.gs2_header).as_str()) {
            return Err(malformed("channel binding does not match the client's first message"));
        }
        if nonce != Some(self.nonce.as_str()) {
            return Err(malformed("the nonce does not match"));
        }
        let proof = BASE64.decode(proof).map_err(|_| malformed("the proof is not base64"))?;
        let auth_message = format!("{},{},{without_proof}", self.client_first_bare, self.server_first);
        if !self.verifier.verify_proof(auth_message.as_bytes(), &proof) {
            return Ok(None);
        }
        let signature = self.verifier.server_signature(auth_message.as_bytes());
        Ok(Some(format!("v={}", BASE64.encode(signature))))
    }
}

/// Splits `n,,rest` (or `y,,rest`) into the header `n,,` and `rest`.
fn split_gs2_header(text: &str) -> Result<(&str, &str)> {
    let flag = text.get(..2);
    if flag == Some("p=") || text.starts_with("p=") {
        return Err(malformed("channel binding is not supported without TLS"));
    }
    if !matches!(flag, Some("n,") | Some("y,")) {
        return Err(malformed("the client's first message has no GS2 header"));
    }
    // The authorization identity (`a=`), if any, ends at the next comma.
    let after_flag = &text[2..];
    let comma = after_flag.find(',').ok_or_else(|| malformed("the GS2 header is not terminated"))?;
    if comma > 0 && !after_flag.starts_with("a=") {
        return Err(malformed("unexpected GS2 header field"));
    }
    let split = 2 + comma + 1;
    Ok((&text[..split], &text[split..]))
}

fn message_text(bytes: &[u8]) -> Result<&str> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(malformed("message too long"));
    }
    std::str::from_utf8(bytes).map_err(|_| malformed("message is not UTF-8"))
}

fn is_printable(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b','
}

fn malformed(what: &str) -> Error {
    Error::sql("08P01", format!("malformed SCRAM message: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's example, with its server nonce.
    #[test]
    fn the_rfc_7677_exchange_succeeds_and_a_wrong_proof_fails() {
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let verifier = ScramVerifier::derive(b"pencil", &salt, 4096);
        let (exchange, server_first) =
            ScramExchange::start(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", verifier, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
                .unwrap();
        assert_eq!(
            server_first,
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let client_final = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                            p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        let server_final = exchange.finish(client_final.as_bytes()).unwrap();
        assert_eq!(server_final.as_deref(), Some("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));

        let wrong = client_final.replace("p=dHzb", "p=dHza");
        assert_eq!(exchange.finish(wrong.as_bytes()).unwrap(), None);
    }

    #[test]
    fn malformed_messages_are_protocol_errors() {
        let verifier = || ScramVerifier::derive(b"pw", b"salt", 1);
        for first in [&b"p=tls-server-end-point,,n=,r=abc"[..], b"x,,n=,r=abc", b"n,,n=", b"n,,m=ext,r=a", b"\xff"] {
            let error = ScramExchange::start(first, verifier(), "srv").err().expect("refused");
            assert_eq!(error.sqlstate(), "08P01", "{first:?}");
        }
        let (exchange, _) = ScramExchange::start(b"n,,n=,r=abc", verifier(), "srv").unwrap();
        for last in ["c=biws,r=abcsrv", "c=eSws,r=abcsrv,p=AAAA", "c=biws,r=other,p=AAAA", "c=biws,r=abcsrv,p=!!"] {
            assert!(exchange.finish(last.as_bytes()).is_err(), "{last}");
        }
    }
}
