//! OpenID Connect login for the platform: a relying party for the authorization-code flow
//! with PKCE (docs/oidc.md).
//!
//! [`RelyingParty::discover`] reads the provider's discovery document (its issuer must be the
//! configured one, character for character) and its keys. [`RelyingParty::begin`] makes a
//! [`PendingLogin`] (random `state`, `nonce` and PKCE verifier, the local page to return to,
//! when it started) and the URL to send the person to; the web layer keeps the pending login
//! ([`PendingLogins`] hands each one out once). [`RelyingParty::complete`] takes the callback,
//! checks state, age and the answer's issuer, exchanges the code at the token endpoint
//! (`client_secret_basic`, `client_secret_post`, or a public client with PKCE only) and
//! verifies the ID token — an asymmetric signature (RS*, PS*, ES256/384) by a key of the
//! provider, fetched again when a token names a new key id; issuer, audience and `azp`,
//! expiry and issue time with a small clock skew, the nonce — and returns the
//! [`VerifiedIdentity`]: issuer, subject, e-mail (and whether verified), name.
//!
//! Which account that identity is, and whether it may log in, is not decided here:
//! `aim_access::Store::account_for_oidc_login` maps a linked (issuer, subject) to its
//! account.
//!
//! This crate never:
//! - accepts an ID token signed with `none`, with HMAC, or by a key that is not the
//!   provider's;
//! - talks to a provider over plain http, except on this machine's loopback (tests);
//! - follows a redirect of the provider's server, or reads an answer larger than 1 MiB;
//! - prints the client secret (its `Debug` hides it) or takes it from the command line;
//! - returns the person to a page of another site (the `next` path must be local);
//! - stores anything: pending logins live in memory or with the caller.

mod config;
mod discovery;
mod error;
mod http;
mod id_token;
mod jwks;
mod pending;
mod relying_party;

pub use config::{
    CALLBACK_PATH, ClientAuth, ClientAuthMethod, ClientSecret, Issuer, OidcArgs, OidcConfig,
    SECRET_ENV,
};
pub use discovery::ProviderMetadata;
pub use error::OidcError;
pub use id_token::VerifiedIdentity;
pub use pending::{PendingLogin, PendingLogins, local_path};
pub use relying_party::{Callback, RelyingParty, SCOPES};
