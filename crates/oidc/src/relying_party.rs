//! The relying party: starts a login (the authorization URL) and completes it (the callback's
//! checks, the code exchange, the ID token's verification).

use crate::OidcError;
use crate::config::{ClientAuth, OidcConfig};
use crate::discovery::ProviderMetadata;
use crate::http::{Http, parse};
use crate::id_token::{self, Expected, VerifiedIdentity, verified_flag};
use crate::jwks::KeyCache;
use crate::pending::{PendingLogin, same, unix_seconds};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::time::SystemTime;
use url::Url;

/// The scopes asked for.
pub const SCOPES: &str = "openid email profile";

/// The query parameters of the provider's redirect back to us.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Callback {
    /// The authorization code.
    #[serde(default)]
    pub code: Option<String>,
    /// Our `state`, echoed.
    #[serde(default)]
    pub state: Option<String>,
    /// The provider's refusal (`access_denied`, …).
    #[serde(default)]
    pub error: Option<String>,
    /// Its explanation.
    #[serde(default)]
    pub error_description: Option<String>,
    /// The issuer of the answer (RFC 9207), when the provider sends it.
    #[serde(default)]
    pub iss: Option<String>,
}

impl Callback {
    /// Reads the callback from a query string (`code=…&state=…`).
    pub fn from_query(query: &str) -> Self {
        let mut c = Callback::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match k.as_ref() {
                "code" => &mut c.code,
                "state" => &mut c.state,
                "error" => &mut c.error,
                "error_description" => &mut c.error_description,
                "iss" => &mut c.iss,
                _ => continue,
            };
            slot.get_or_insert_with(|| v.into_owned());
        }
        c
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// A relying party for one provider, set up from its discovery document.
#[derive(Debug)]
pub struct RelyingParty {
    config: OidcConfig,
    metadata: ProviderMetadata,
    http: Http,
    keys: KeyCache,
}

impl RelyingParty {
    /// Fetches and checks the provider's discovery document and its keys.
    pub async fn discover(config: OidcConfig) -> Result<Self, OidcError> {
        let http = Http::new(config.http_timeout)?;
        let metadata = ProviderMetadata::discover(&http, &config).await?;
        let keys = KeyCache::new(metadata.jwks_uri.clone(), config.jwks_refresh_interval);
        keys.refresh(&http).await?;
        Ok(RelyingParty {
            config,
            metadata,
            http,
            keys,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// The provider's checked metadata.
    pub fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    /// Starts a login that returns to the local path `next`: the pending login to keep, and
    /// the URL to send the person to.
    pub fn begin(&self, next: &str) -> Result<(PendingLogin, Url), OidcError> {
        self.begin_at(next, SystemTime::now())
    }

    /// [`RelyingParty::begin`] at a given time.
    pub fn begin_at(&self, next: &str, now: SystemTime) -> Result<(PendingLogin, Url), OidcError> {
        let pending = PendingLogin::new(next, now)?;
        let url = self.authorization_url(&pending);
        Ok((pending, url))
    }

    /// The authorization URL of a pending login: `response_type=code`, the scopes, `state`,
    /// `nonce` and the PKCE S256 challenge.
    pub fn authorization_url(&self, pending: &PendingLogin) -> Url {
        let mut url = self.metadata.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", self.config.redirect_uri.as_str())
            .append_pair("scope", SCOPES)
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &pending.pkce_challenge())
            .append_pair("code_challenge_method", "S256");
        url
    }

    /// Completes a login: the callback must carry the pending login's state and a code (or
    /// the provider's refusal), the login must not be older than `max_login_age`; then the
    /// code is exchanged and the ID token verified. Consumes the pending login: a login is
    /// completed at most once.
    pub async fn complete(
        &self,
        pending: PendingLogin,
        callback: &Callback,
    ) -> Result<VerifiedIdentity, OidcError> {
        self.complete_at(pending, callback, SystemTime::now()).await
    }

    /// [`RelyingParty::complete`] at a given time.
    pub async fn complete_at(
        &self,
        pending: PendingLogin,
        callback: &Callback,
        now: SystemTime,
    ) -> Result<VerifiedIdentity, OidcError> {
        match &callback.state {
            Some(s) if same(s, &pending.state) => {}
            _ => return Err(OidcError::StateMismatch),
        }
        pending.check_age(now, self.config.max_login_age)?;
        if let Some(iss) = &callback.iss
            && iss != self.config.issuer.as_str()
        {
            return Err(OidcError::CallbackIssuer {
                expected: self.config.issuer.to_string(),
                found: iss.clone(),
            });
        }
        if let Some(error) = &callback.error {
            return Err(OidcError::ProviderRefused {
                error: error.clone(),
                description: callback.error_description.clone(),
            });
        }
        let code = callback.code.as_deref().ok_or(OidcError::NoCode)?;
        let answer = self.exchange(code, &pending.pkce_verifier).await?;
        let id_token = answer.id_token.ok_or(OidcError::BadDocument {
            what: "token answer",
            detail: "no id_token (was the scope openid granted?)".into(),
        })?;
        let mut identity = self
            .verify_id_token_at(&id_token, &pending.nonce, now)
            .await?;
        if identity.email.is_none()
            && let (Some(endpoint), Some(token)) = (
                &self.metadata.userinfo_endpoint,
                answer.access_token.as_deref(),
            )
        {
            self.add_user_info(&mut identity, endpoint, token).await?;
        }
        Ok(identity)
    }

    /// Exchanges a code at the token endpoint, authenticating as configured.
    async fn exchange(&self, code: &str, verifier: &str) -> Result<TokenAnswer, OidcError> {
        let redirect = self.config.redirect_uri.as_str();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ];
        let mut authorization = None;
        match &self.config.client_auth {
            ClientAuth::SecretBasic(secret) => {
                // RFC 6749 §2.3.1: both form-encoded before base64.
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let pair = format!("{}:{}", enc(&self.config.client_id), enc(secret.expose()));
                authorization = Some(format!("Basic {}", STANDARD.encode(pair)));
            }
            ClientAuth::SecretPost(secret) => {
                form.push(("client_id", &self.config.client_id));
                form.push(("client_secret", secret.expose()));
            }
            ClientAuth::None => form.push(("client_id", &self.config.client_id)),
        }
        let answer = self
            .http
            .post_form(
                "token answer",
                &self.metadata.token_endpoint,
                &form,
                authorization,
            )
            .await?;
        match answer.status {
            200 => parse("token answer", &answer.body),
            400 | 401 => {
                let e: TokenError = parse("token error", &answer.body)?;
                Err(OidcError::CodeRejected {
                    error: e.error,
                    description: e.error_description,
                })
            }
            status => Err(OidcError::HttpStatus {
                what: "token answer",
                url: self.metadata.token_endpoint.to_string(),
                status,
            }),
        }
    }

    /// Verifies an ID token for the login whose nonce this is: signature by a key of the
    /// provider, issuer, audience, times, nonce.
    pub async fn verify_id_token(
        &self,
        token: &str,
        nonce: &str,
    ) -> Result<VerifiedIdentity, OidcError> {
        self.verify_id_token_at(token, nonce, SystemTime::now())
            .await
    }

    /// [`RelyingParty::verify_id_token`] at a given time.
    pub async fn verify_id_token_at(
        &self,
        token: &str,
        nonce: &str,
        now: SystemTime,
    ) -> Result<VerifiedIdentity, OidcError> {
        let header = id_token::header(token)?;
        let key = self
            .keys
            .key_for(&self.http, header.kid.as_deref(), header.alg)
            .await?;
        let claims = id_token::verify_signature(token, &header, &key)?;
        id_token::check_claims(
            &claims,
            &Expected {
                issuer: self.config.issuer.as_str(),
                client_id: &self.config.client_id,
                nonce,
                now: unix_seconds(now),
                skew: self.config.clock_skew,
            },
        )
    }

    /// Fills the e-mail and name from the user-info endpoint, which must speak of the same
    /// subject.
    async fn add_user_info(
        &self,
        identity: &mut VerifiedIdentity,
        endpoint: &Url,
        access_token: &str,
    ) -> Result<(), OidcError> {
        let info: Map<String, Value> = self
            .http
            .get_json("user info", endpoint, Some(access_token))
            .await?;
        if info.get("sub").and_then(Value::as_str) != Some(identity.subject.as_str()) {
            return Err(OidcError::UserInfoSubject);
        }
        let text = |k: &str| info.get(k).and_then(Value::as_str).map(str::to_string);
        identity.email = text("email");
        identity.email_verified = verified_flag(info.get("email_verified"));
        if identity.name.is_none() {
            identity.name = text("name");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_reads_the_query() {
        let c = Callback::from_query("code=abc&state=s%2B1&iss=http%3A%2F%2F127.0.0.1%3A9&x=1");
        assert_eq!(c.code.as_deref(), Some("abc"));
        assert_eq!(c.state.as_deref(), Some("s+1"));
        assert_eq!(c.iss.as_deref(), Some("http://127.0.0.1:9"));
        let e =
            Callback::from_query("error=access_denied&error_description=End-User+aborted&state=s");
        assert_eq!(e.error.as_deref(), Some("access_denied"));
        assert_eq!(e.error_description.as_deref(), Some("End-User aborted"));
        // A repeated parameter: the first counts.
        assert_eq!(
            Callback::from_query("state=a&state=b").state.as_deref(),
            Some("a")
        );
    }
}
