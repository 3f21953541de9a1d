//! The few HTTP requests to the provider: JSON documents fetched with a time limit and a size
//! limit, no redirects followed, https only (plain http to this machine for tests).

use crate::OidcError;
use crate::config::check_transport;
use serde::de::DeserializeOwned;
use std::time::Duration;
use url::Url;

/// The largest answer accepted from a provider (discovery, keys, tokens, user info).
const MAX_BODY: usize = 1 << 20;

/// An HTTP client for one provider.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
}

/// An answer: its status and body.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Http {
    pub fn new(timeout: Duration) -> Result<Self, OidcError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A connection per request: logins are rare, and a kept connection to a
            // provider that restarted fails the next code exchange (a POST is not retried).
            .pool_max_idle_per_host(0)
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("aim-oidc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(OidcError::HttpClient)?;
        Ok(Http { client })
    }

    fn checked(url: &Url) -> Result<(), OidcError> {
        check_transport(url).map_err(OidcError::Unsupported)
    }

    async fn read(
        what: &'static str,
        url: &Url,
        sent: reqwest::RequestBuilder,
    ) -> Result<Answer, OidcError> {
        let unreachable = |source| OidcError::Unreachable {
            what,
            url: url.to_string(),
            source,
        };
        let mut response = sent.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY as u64)
        {
            return Err(OidcError::TooLarge {
                what,
                limit: MAX_BODY,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(OidcError::TooLarge {
                    what,
                    limit: MAX_BODY,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body })
    }

    /// GETs a JSON document (with a bearer token, for user info); any status but 200 is an
    /// error.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        what: &'static str,
        url: &Url,
        bearer: Option<&str>,
    ) -> Result<T, OidcError> {
        Self::checked(url)?;
        let mut request = self
            .client
            .get(url.clone())
            .header("accept", "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let answer = Self::read(what, url, request).await?;
        if answer.status != 200 {
            return Err(OidcError::HttpStatus {
                what,
                url: url.to_string(),
                status: answer.status,
            });
        }
        parse(what, &answer.body)
    }

    /// POSTs a form (with an HTTP Basic header already encoded, for client_secret_basic) and
    /// returns the answer whatever its status.
    pub async fn post_form(
        &self,
        what: &'static str,
        url: &Url,
        form: &[(&str, &str)],
        authorization: Option<String>,
    ) -> Result<Answer, OidcError> {
        Self::checked(url)?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = self
            .client
            .post(url.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body);
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        Self::read(what, url, request).await
    }
}

/// Parses a JSON document, saying which one is not valid.
pub(crate) fn parse<T: DeserializeOwned>(what: &'static str, body: &[u8]) -> Result<T, OidcError> {
    serde_json::from_slice(body).map_err(|e| OidcError::BadDocument {
        what,
        detail: e.to_string(),
    })
}
