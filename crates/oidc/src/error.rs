//! Why a login failed, in words an administrator (or the person logging in) can act on; each
//! error keeps its source.

/// A failed step of an OpenID Connect login, or of setting the relying party up.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The configuration cannot work (bad issuer URL, plain http to a remote host, …).
    #[error("OpenID Connect configuration: {0}")]
    Config(String),
    /// The HTTP client could not be set up (no TLS roots, …).
    #[error("cannot set up the HTTP client for OpenID Connect")]
    HttpClient(#[source] reqwest::Error),
    /// The client secret file could not be read.
    #[error("cannot read the OpenID Connect client secret from {path}")]
    SecretFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The client secret file can be read by other users.
    #[error(
        "the OpenID Connect client secret file {path} can be read by other users (mode {mode:o}): make it private with `chmod 600 {path}`"
    )]
    SecretFileNotPrivate {
        /// The file.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The provider could not be reached, or answered with something that is not HTTP.
    #[error("the identity provider is unreachable ({what}: {url})")]
    Unreachable {
        /// What was being fetched.
        what: &'static str,
        /// Where.
        url: String,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The provider answered with an HTTP error status.
    #[error("the identity provider answered {status} to {what} ({url})")]
    HttpStatus {
        /// What was being fetched.
        what: &'static str,
        /// Where.
        url: String,
        /// The status.
        status: u16,
    },
    /// The provider's answer is larger than any sane answer of its kind.
    #[error("the identity provider's {what} is larger than {limit} bytes: refused")]
    TooLarge {
        /// What was being fetched.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The provider's answer is not the JSON it must be.
    #[error("the identity provider's {what} is not valid: {detail}")]
    BadDocument {
        /// What was being read.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The discovery document names another issuer than the one configured.
    #[error(
        "wrong issuer: the provider at {configured} says its issuer is {found} (they must be equal, character for character)"
    )]
    WrongIssuer {
        /// The configured issuer.
        configured: String,
        /// What the provider said.
        found: String,
    },
    /// The provider cannot do what this relying party needs.
    #[error("the identity provider cannot be used: {0}")]
    Unsupported(String),
    /// The callback carries no pending login of ours (unknown, already used, or forged state).
    #[error(
        "this login link is unknown or was already used: start the login again from the login page"
    )]
    UnknownState,
    /// The callback's state is not the pending login's.
    #[error(
        "the login answer does not belong to this login (state mismatch): start the login again"
    )]
    StateMismatch,
    /// The pending login is too old.
    #[error(
        "the login took too long (started {age_seconds} s ago, at most {max_seconds} s): start it again"
    )]
    LoginExpired {
        /// How old it was.
        age_seconds: u64,
        /// The limit.
        max_seconds: u64,
    },
    /// The provider refused the login (the person cancelled, or the provider refused).
    #[error(
        "the identity provider refused the login: {error}{}",
        describe(description)
    )]
    ProviderRefused {
        /// The OAuth error code (`access_denied`, …).
        error: String,
        /// The provider's explanation, if any.
        description: Option<String>,
    },
    /// The callback has no authorization code.
    #[error("the login answer has no authorization code")]
    NoCode,
    /// The authorization response names another issuer (RFC 9207: a mix-up attempt or a
    /// misconfigured provider).
    #[error("the login answer comes from another issuer ({found}, expected {expected})")]
    CallbackIssuer {
        /// The configured issuer.
        expected: String,
        /// What the answer said.
        found: String,
    },
    /// The token endpoint refused the code (used already, expired, wrong client, wrong PKCE
    /// verifier, …).
    #[error(
        "the identity provider refused to exchange the code: {error}{}",
        describe(description)
    )]
    CodeRejected {
        /// The OAuth error code (`invalid_grant`, `invalid_client`, …).
        error: String,
        /// The provider's explanation, if any.
        description: Option<String>,
    },
    /// The ID token is not a signed JWT of a form we accept.
    #[error("the ID token is malformed: {0}")]
    MalformedToken(String),
    /// The ID token is signed with an algorithm we refuse (`none`, HMAC, unknown).
    #[error(
        "the ID token is signed with the algorithm {alg}, which is refused (accepted: RS256/384/512, PS256/384/512, ES256, ES384)"
    )]
    AlgorithmRefused {
        /// The header's `alg`.
        alg: String,
    },
    /// No key of the provider can check the token (unknown `kid`, even after a refresh).
    #[error(
        "no signing key of the identity provider matches the ID token (key id {}, algorithm {alg})",
        kid.as_deref().unwrap_or("none")
    )]
    UnknownKey {
        /// The header's `kid`.
        kid: Option<String>,
        /// The header's `alg`.
        alg: String,
    },
    /// The signature does not verify.
    #[error("the ID token's signature is invalid: it was not signed by the identity provider")]
    BadSignature(#[source] jsonwebtoken::errors::Error),
    /// The ID token was issued by another issuer.
    #[error("the ID token was issued by {found}, not by {expected}")]
    TokenIssuer {
        /// The configured issuer.
        expected: String,
        /// The token's `iss`.
        found: String,
    },
    /// The ID token is for another client.
    #[error("the ID token is meant for {found}, not for this platform's client {client_id}")]
    WrongAudience {
        /// Our client id.
        client_id: String,
        /// The token's audiences (and `azp`).
        found: String,
    },
    /// The ID token has expired.
    #[error("the ID token expired {seconds_ago} s ago: log in again")]
    Expired {
        /// How long ago.
        seconds_ago: u64,
    },
    /// The ID token claims to be issued in the future (clocks out of step).
    #[error(
        "the ID token is issued {seconds} s in the future: the clocks of the platform and the identity provider differ"
    )]
    IssuedInFuture {
        /// By how much.
        seconds: u64,
    },
    /// The ID token's nonce is not the pending login's (a replayed or injected token).
    #[error("the ID token's nonce does not match this login (a replayed or injected token)")]
    NonceMismatch,
    /// A claim is missing or not of its type.
    #[error("the ID token lacks a valid {0} claim")]
    Claim(&'static str),
    /// The user-info answer is for another person than the ID token.
    #[error("the identity provider's user info is about another subject than the ID token")]
    UserInfoSubject,
    /// The local path to return to after the login is not a local path.
    #[error("the page to return to after the login must be a path on this site (got {0:?})")]
    NotLocalPath(String),
}

fn describe(d: &Option<String>) -> String {
    d.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
}
