//! The provider's public signing keys (its JWK set): fetched once, kept, and fetched again
//! when a token names a key id we do not know (the provider rotated its keys), at most once
//! per `jwks_refresh_interval`.

use crate::OidcError;
use crate::http::Http;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use url::Url;

/// One public key of the set (RSA or elliptic-curve; other kinds are ignored).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

impl Jwk {
    /// Whether this key can check a signature of `alg`.
    fn fits(&self, alg: Algorithm) -> bool {
        let kind = match alg {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => self.kty == "RSA",
            Algorithm::ES256 => self.kty == "EC" && self.crv.as_deref() == Some("P-256"),
            Algorithm::ES384 => self.kty == "EC" && self.crv.as_deref() == Some("P-384"),
            // HMAC and EdDSA are never accepted (see `id_token::accepted`).
            _ => false,
        };
        kind && self.use_.as_deref().is_none_or(|u| u == "sig")
            && self.alg.as_deref().is_none_or(|a| a == format!("{alg:?}"))
    }

    /// The key for jsonwebtoken.
    fn decoding_key(&self) -> Result<DecodingKey, OidcError> {
        let bad = |e: jsonwebtoken::errors::Error| OidcError::BadDocument {
            what: "key set",
            detail: format!("key {}: {e}", self.kid.as_deref().unwrap_or("(no kid)")),
        };
        let missing = |c: &str| OidcError::BadDocument {
            what: "key set",
            detail: format!(
                "key {} has no {c}",
                self.kid.as_deref().unwrap_or("(no kid)")
            ),
        };
        match self.kty.as_str() {
            "RSA" => DecodingKey::from_rsa_components(
                self.n.as_deref().ok_or_else(|| missing("n"))?,
                self.e.as_deref().ok_or_else(|| missing("e"))?,
            )
            .map_err(bad),
            _ => DecodingKey::from_ec_components(
                self.x.as_deref().ok_or_else(|| missing("x"))?,
                self.y.as_deref().ok_or_else(|| missing("y"))?,
            )
            .map_err(bad),
        }
    }
}

/// A JWK set as the provider publishes it.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct KeySet {
    keys: Vec<Jwk>,
}

impl KeySet {
    /// The key for a token's `kid` and `alg`: the key of that id, or, when the token names
    /// none, the only key that fits the algorithm (several fitting keys: none chosen).
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&Jwk> {
        let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
        match kid {
            Some(kid) => fitting.find(|k| k.kid.as_deref() == Some(kid)),
            None => {
                let first = fitting.next()?;
                fitting.next().is_none().then_some(first)
            }
        }
    }
}

/// The cached key set and when it was last fetched.
#[derive(Debug)]
pub(crate) struct KeyCache {
    url: Url,
    refresh_interval: Duration,
    state: Mutex<(KeySet, Option<Instant>)>,
}

impl KeyCache {
    pub fn new(url: Url, refresh_interval: Duration) -> Self {
        KeyCache {
            url,
            refresh_interval,
            state: Mutex::new((KeySet::default(), None)),
        }
    }

    /// Fetches the key set now (at start, to fail early when the provider is unreachable).
    pub async fn refresh(&self, http: &Http) -> Result<(), OidcError> {
        let keys: KeySet = http.get_json("key set", &self.url, None).await?;
        *self.state.lock().await = (keys, Some(Instant::now()));
        Ok(())
    }

    /// The decoding key for a token's header, fetching the set again once if the key is not
    /// known and the last fetch is older than the refresh interval.
    pub async fn key_for(
        &self,
        http: &Http,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, OidcError> {
        let mut state = self.state.lock().await;
        if let Some(k) = state.0.find(kid, alg) {
            return k.decoding_key();
        }
        let stale = state
            .1
            .is_none_or(|at| at.elapsed() >= self.refresh_interval);
        if stale {
            let keys: KeySet = http.get_json("key set", &self.url, None).await?;
            *state = (keys, Some(Instant::now()));
            if let Some(k) = state.0.find(kid, alg) {
                return k.decoding_key();
            }
        }
        Err(OidcError::UnknownKey {
            kid: kid.map(str::to_string),
            alg: format!("{alg:?}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> KeySet {
        serde_json::from_value(serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "r2", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "e1", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "oct", "kid": "h1", "k": "c2VjcmV0"},
            {"kty": "OKP", "kid": "d1", "crv": "Ed25519", "x": "AA"}
        ]}))
        .unwrap()
    }

    #[test]
    fn keys_are_chosen_by_id_kind_and_use() {
        let s = set();
        assert_eq!(
            s.find(Some("r1"), Algorithm::RS256).unwrap().kid.as_deref(),
            Some("r1")
        );
        // A key declared for RS256 is not used for PS256; an encryption key never signs.
        assert!(s.find(Some("r1"), Algorithm::PS256).is_none());
        assert!(s.find(Some("r2"), Algorithm::RS256).is_none());
        assert!(s.find(Some("e1"), Algorithm::ES256).is_some());
        assert!(s.find(Some("e1"), Algorithm::ES384).is_none());
        assert!(s.find(Some("e1"), Algorithm::RS256).is_none());
        // A symmetric key never checks anything, even named by its id.
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            assert!(s.find(Some("h1"), alg).is_none());
            assert!(s.find(Some("r1"), alg).is_none());
        }
        assert!(s.find(Some("d1"), Algorithm::EdDSA).is_none());
        assert!(s.find(Some("unknown"), Algorithm::RS256).is_none());
        // Without a kid: the only fitting key, if there is exactly one.
        assert!(s.find(None, Algorithm::ES256).is_some());
        assert!(s.find(None, Algorithm::RS256).is_some());
    }
}
