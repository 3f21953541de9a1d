//! The provider's discovery document (`/.well-known/openid-configuration`, OpenID Connect
//! Discovery 1.0), checked against the configuration: same issuer, endpoints over https, the
//! authorization-code flow and our way of authenticating supported.

use crate::OidcError;
use crate::config::{OidcConfig, check_transport};
use crate::http::Http;
use serde::Deserialize;
use url::Url;

/// What the relying party uses of the provider's metadata.
#[derive(Clone, Debug, Deserialize)]
pub struct ProviderMetadata {
    /// The issuer identifier: must equal the configured one.
    pub issuer: String,
    /// Where the person is sent to log in.
    pub authorization_endpoint: Url,
    /// Where the code is exchanged.
    pub token_endpoint: Url,
    /// The provider's public keys.
    pub jwks_uri: Url,
    /// The user-info endpoint (for claims the ID token does not carry).
    #[serde(default)]
    pub userinfo_endpoint: Option<Url>,
    /// The response types the provider does.
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    /// The PKCE methods, if the provider says.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// How clients may authenticate at the token endpoint (default: client_secret_basic).
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

impl ProviderMetadata {
    /// Fetches and checks the discovery document of the configured issuer.
    pub(crate) async fn discover(http: &Http, config: &OidcConfig) -> Result<Self, OidcError> {
        let url = config.issuer.discovery_url();
        let m: ProviderMetadata = http.get_json("discovery document", &url, None).await?;
        m.check(config)?;
        Ok(m)
    }

    /// Checks the document against the configuration.
    pub(crate) fn check(&self, config: &OidcConfig) -> Result<(), OidcError> {
        if self.issuer != config.issuer.as_str() {
            return Err(OidcError::WrongIssuer {
                configured: config.issuer.to_string(),
                found: self.issuer.clone(),
            });
        }
        for (name, url) in [
            ("authorization endpoint", Some(&self.authorization_endpoint)),
            ("token endpoint", Some(&self.token_endpoint)),
            ("key set", Some(&self.jwks_uri)),
            ("user-info endpoint", self.userinfo_endpoint.as_ref()),
        ] {
            if let Some(url) = url {
                check_transport(url)
                    .map_err(|why| OidcError::Unsupported(format!("its {name}: {why}")))?;
            }
        }
        if !self.response_types_supported.iter().any(|t| t == "code") {
            return Err(OidcError::Unsupported(
                "it does not offer the authorization-code flow (response type `code`)".into(),
            ));
        }
        if let Some(methods) = &self.code_challenge_methods_supported
            && !methods.iter().any(|m| m == "S256")
        {
            return Err(OidcError::Unsupported(
                "it does not offer PKCE with S256".into(),
            ));
        }
        let ours = config.client_auth.method();
        let offered = self
            .token_endpoint_auth_methods_supported
            .clone()
            .unwrap_or_else(|| vec!["client_secret_basic".into()]);
        if !offered.iter().any(|m| m == ours) {
            return Err(OidcError::Unsupported(format!(
                "it does not accept the client authentication {ours} (it offers {})",
                offered.join(", ")
            )));
        }
        Ok(())
    }
}
