//! The ID token's checks (OpenID Connect Core 1.0, §3.1.3.7): an asymmetric signature by a
//! key of the provider (never `none`, never HMAC), then the claims: issuer, audience (and
//! `azp`), expiry and issue time with a small clock skew, and the login's nonce.

use crate::OidcError;
use crate::pending::same;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::time::Duration;

/// Who logged in, as the provider vouched for it in a verified ID token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedIdentity {
    /// The provider (its issuer identifier, as configured).
    pub issuer: String,
    /// The person's stable identifier at that provider.
    pub subject: String,
    /// Their e-mail, if the provider gives it.
    pub email: Option<String>,
    /// Whether the provider verified that e-mail.
    pub email_verified: bool,
    /// Their name, if the provider gives it.
    pub name: Option<String>,
}

/// The token's header: its algorithm (only those accepted) and key id.
pub(crate) struct Header {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

/// The algorithms accepted for an ID token's signature: asymmetric ones only.
pub(crate) fn accepted(alg: &str) -> Option<Algorithm> {
    Some(match alg {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        _ => return None,
    })
}

/// Reads the header of a compact JWS, refusing `none`, HMAC, unknown algorithms, encrypted
/// tokens and critical extensions.
pub(crate) fn header(token: &str) -> Result<Header, OidcError> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(OidcError::MalformedToken(format!(
            "{} parts instead of 3 (an encrypted or unsigned token?)",
            parts.len()
        )));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(parts[0])
        .map_err(|e| OidcError::MalformedToken(format!("header: {e}")))?;
    let h: Map<String, Value> = serde_json::from_slice(&bytes)
        .map_err(|e| OidcError::MalformedToken(format!("header: {e}")))?;
    let alg = h
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| OidcError::MalformedToken("no alg in the header".into()))?;
    let alg_ok = accepted(alg).ok_or_else(|| OidcError::AlgorithmRefused { alg: alg.into() })?;
    if h.contains_key("crit") {
        return Err(OidcError::MalformedToken(
            "the header has critical extensions (crit) this platform does not know".into(),
        ));
    }
    let kid = match h.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(OidcError::MalformedToken("kid is not a string".into())),
    };
    Ok(Header { alg: alg_ok, kid })
}

/// Checks the signature with `key` and returns the claims (no claim checked yet).
pub(crate) fn verify_signature(
    token: &str,
    header: &Header,
    key: &jsonwebtoken::DecodingKey,
) -> Result<Map<String, Value>, OidcError> {
    let mut v = Validation::new(header.alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims = HashSet::new();
    jsonwebtoken::decode::<Map<String, Value>>(token, key, &v)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::Json(_)
            | jsonwebtoken::errors::ErrorKind::Utf8(_)
            | jsonwebtoken::errors::ErrorKind::Base64(_) => {
                OidcError::MalformedToken(format!("claims: {e}"))
            }
            _ => OidcError::BadSignature(e),
        })
}

/// What the claims must say.
pub(crate) struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now: u64,
    pub skew: Duration,
}

fn number(claims: &Map<String, Value>, name: &'static str) -> Result<Option<u64>, OidcError> {
    match claims.get(name) {
        None => Ok(None),
        // Integers, or (some providers) numbers with a fraction: whole seconds count.
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or(OidcError::Claim(name)),
    }
}

fn text(claims: &Map<String, Value>, name: &'static str) -> Result<Option<String>, OidcError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(OidcError::Claim(name)),
    }
}

/// `email_verified` as a boolean (some providers send the string "true").
pub(crate) fn verified_flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Checks the claims of a token whose signature verified.
pub(crate) fn check_claims(
    claims: &Map<String, Value>,
    want: &Expected<'_>,
) -> Result<VerifiedIdentity, OidcError> {
    let iss = text(claims, "iss")?.ok_or(OidcError::Claim("iss"))?;
    if iss != want.issuer {
        return Err(OidcError::TokenIssuer {
            expected: want.issuer.into(),
            found: iss,
        });
    }
    let sub = text(claims, "sub")?.ok_or(OidcError::Claim("sub"))?;
    if sub.is_empty() || sub.len() > 255 {
        return Err(OidcError::Claim("sub"));
    }
    let audiences: Vec<String> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_string)
                    .ok_or(OidcError::Claim("aud"))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(OidcError::Claim("aud")),
    };
    let azp = text(claims, "azp")?;
    let wrong_audience = || OidcError::WrongAudience {
        client_id: want.client_id.into(),
        found: match &azp {
            Some(a) => format!("{} (azp {a})", audiences.join(", ")),
            None => audiences.join(", "),
        },
    };
    if !audiences.iter().any(|a| a == want.client_id) {
        return Err(wrong_audience());
    }
    match &azp {
        Some(a) if a != want.client_id => return Err(wrong_audience()),
        None if audiences.len() > 1 => return Err(wrong_audience()),
        _ => {}
    }
    let skew = want.skew.as_secs();
    let exp = number(claims, "exp")?.ok_or(OidcError::Claim("exp"))?;
    if want.now > exp.saturating_add(skew) {
        return Err(OidcError::Expired {
            seconds_ago: want.now - exp,
        });
    }
    let iat = number(claims, "iat")?.ok_or(OidcError::Claim("iat"))?;
    for t in [Some(iat), number(claims, "nbf")?].into_iter().flatten() {
        if t > want.now.saturating_add(skew) {
            return Err(OidcError::IssuedInFuture {
                seconds: t - want.now,
            });
        }
    }
    match text(claims, "nonce")? {
        Some(n) if same(&n, want.nonce) => {}
        _ => return Err(OidcError::NonceMismatch),
    }
    Ok(VerifiedIdentity {
        issuer: iss,
        subject: sub,
        email: text(claims, "email")?,
        email_verified: verified_flag(claims.get("email_verified")),
        name: text(claims, "name")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    fn want() -> Expected<'static> {
        Expected {
            issuer: "https://idp.example.be",
            client_id: "aim",
            nonce: "n-0S6_WzA2Mj",
            now: NOW,
            skew: Duration::from_secs(60),
        }
    }

    fn claims(extra: Value) -> Map<String, Value> {
        let mut c = json!({
            "iss": "https://idp.example.be", "sub": "24400320", "aud": "aim",
            "exp": NOW + 300, "iat": NOW - 5, "nonce": "n-0S6_WzA2Mj",
            "email": "tester01@example.be", "email_verified": true, "name": "Tester One"
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c.as_object().unwrap().clone()
    }

    fn token(header: Value) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode("{}"),
            URL_SAFE_NO_PAD.encode("sig")
        )
    }

    #[test]
    fn good_claims_give_the_identity() {
        let id = check_claims(&claims(json!({})), &want()).unwrap();
        assert_eq!(id.subject, "24400320");
        assert_eq!(id.email.as_deref(), Some("tester01@example.be"));
        assert!(id.email_verified);
    }

    #[test]
    fn none_and_hmac_and_unknown_algorithms_are_refused() {
        for alg in [
            "none", "None", "HS256", "HS384", "HS512", "EdDSA", "RSA-OAEP", "",
        ] {
            let e = header(&token(json!({"alg": alg, "kid": "k"})))
                .err()
                .unwrap();
            assert!(
                matches!(e, OidcError::AlgorithmRefused { .. }),
                "{alg}: {e}"
            );
        }
        assert!(matches!(
            header("a.b").err().unwrap(),
            OidcError::MalformedToken(_)
        ));
        assert!(matches!(
            header(&token(json!({"alg": "RS256", "crit": ["exp"]})))
                .err()
                .unwrap(),
            OidcError::MalformedToken(_)
        ));
        let h = header(&token(json!({"alg": "ES256", "kid": "k1"}))).unwrap();
        assert_eq!(h.alg, Algorithm::ES256);
        assert_eq!(h.kid.as_deref(), Some("k1"));
    }

    #[test]
    fn each_claim_is_checked() {
        let w = want();
        let err = |extra| check_claims(&claims(extra), &w).unwrap_err();
        assert!(matches!(
            err(json!({"iss": "https://evil.example"})),
            OidcError::TokenIssuer { .. }
        ));
        assert!(matches!(
            err(json!({"iss": "https://idp.example.be/"})),
            OidcError::TokenIssuer { .. }
        ));
        assert!(matches!(err(json!({"sub": ""})), OidcError::Claim("sub")));
        assert!(matches!(err(json!({"sub": null})), OidcError::Claim("sub")));
        assert!(matches!(
            err(json!({"aud": "other"})),
            OidcError::WrongAudience { .. }
        ));
        assert!(matches!(
            err(json!({"aud": ["aim", "other"]})),
            OidcError::WrongAudience { .. }
        ));
        assert!(matches!(
            err(json!({"aud": ["aim", "other"], "azp": "other"})),
            OidcError::WrongAudience { .. }
        ));
        assert!(check_claims(&claims(json!({"aud": ["aim", "other"], "azp": "aim"})), &w).is_ok());
        assert!(matches!(
            err(json!({"exp": NOW - 61})),
            OidcError::Expired { seconds_ago: 61 }
        ));
        assert!(check_claims(&claims(json!({"exp": NOW - 60})), &w).is_ok());
        assert!(matches!(err(json!({"exp": null})), OidcError::Claim("exp")));
        assert!(matches!(
            err(json!({"iat": NOW + 61})),
            OidcError::IssuedInFuture { seconds: 61 }
        ));
        assert!(matches!(
            err(json!({"nbf": NOW + 120})),
            OidcError::IssuedInFuture { .. }
        ));
        assert!(matches!(
            err(json!({"nonce": "other"})),
            OidcError::NonceMismatch
        ));
        assert!(matches!(
            err(json!({"nonce": null})),
            OidcError::NonceMismatch
        ));
        assert!(matches!(
            err(json!({"email": 3})),
            OidcError::Claim("email")
        ));
        let id =
            check_claims(&claims(json!({"email_verified": "true", "name": null})), &w).unwrap();
        assert!(id.email_verified);
        assert_eq!(id.name, None);
    }

    proptest! {
        /// Expiry is exact to the second: a token is accepted until `exp + skew`, not after.
        #[test]
        fn expiry_is_exact(offset in -500i64..500, skew in 0u64..120) {
            let exp = (NOW as i64 + offset) as u64;
            let mut w = want();
            w.skew = Duration::from_secs(skew);
            let r = check_claims(&claims(json!({"exp": exp, "iat": NOW - 1000})), &w);
            prop_assert_eq!(r.is_ok(), NOW <= exp + skew);
        }

        /// Only our own client id, alone or named as `azp`, is ever accepted as audience.
        #[test]
        fn only_our_audience(auds in proptest::collection::vec("(aim|other|x)", 1..4),
                             azp in proptest::option::of("(aim|other)")) {
            let mut extra = json!({"aud": auds});
            if let Some(a) = &azp { extra["azp"] = json!(a); }
            let r = check_claims(&claims(extra), &want());
            let ok = auds.iter().any(|a| a == "aim")
                && match &azp { Some(a) => a == "aim", None => auds.len() == 1 };
            prop_assert_eq!(r.is_ok(), ok);
        }
    }
}
