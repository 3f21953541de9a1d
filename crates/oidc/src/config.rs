//! What the relying party is configured with: the provider's issuer, this platform's client
//! (its id, how it authenticates, where the provider sends the person back), and the limits
//! of a login. The client secret is read from a private file or an environment variable,
//! never from the command line.

use crate::OidcError;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;
use url::Url;

/// The environment variable that may hold the client secret (when no secret file is given).
pub const SECRET_ENV: &str = "AIM_OIDC_CLIENT_SECRET";

/// The path of the callback that the web layer serves (the default redirect URI is the
/// public URL with this path).
pub const CALLBACK_PATH: &str = "/login/oidc/callback";

/// A provider's issuer identifier, kept exactly as configured: the ID token's `iss` and the
/// discovery document's `issuer` must equal it character for character (a trailing slash
/// matters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer(String);

impl Issuer {
    /// Checks an issuer identifier: an `https` URL (plain `http` only on a loopback host, for
    /// tests), with no query or fragment.
    pub fn parse(text: &str) -> Result<Self, OidcError> {
        let url = Url::parse(text)
            .map_err(|e| OidcError::Config(format!("the issuer {text:?} is not a URL ({e})")))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(OidcError::Config(format!(
                "the issuer {text:?} must have no query and no fragment"
            )));
        }
        check_transport(&url)
            .map_err(|why| OidcError::Config(format!("issuer {text:?}: {why}")))?;
        Ok(Issuer(text.to_string()))
    }

    /// The identifier, exactly as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the provider's discovery document is.
    pub fn discovery_url(&self) -> Url {
        let base = self.0.trim_end_matches('/');
        Url::parse(&format!("{base}/.well-known/openid-configuration"))
            .expect("an issuer URL with a path appended is a URL")
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a URL may be used to talk to a provider: `https`, or `http` to a loopback host.
pub(crate) fn check_transport(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "{url} uses plain http to a host that is not this machine: only https is allowed"
        )),
        other => Err(format!(
            "{url} uses the scheme {other}: only https is allowed"
        )),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The client secret: never printed (its `Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// A secret given as text (from the environment, a vault, a test).
    pub fn new(secret: impl Into<String>) -> Result<Self, OidcError> {
        let s: String = secret.into();
        let s = s.trim_end_matches(['\n', '\r']).to_string();
        if s.is_empty() {
            return Err(OidcError::Config("the client secret is empty".into()));
        }
        Ok(ClientSecret(s))
    }

    /// Reads the secret from a file that only its owner may read (mode 600 or stricter).
    pub fn from_file(path: &Path) -> Result<Self, OidcError> {
        let err = |source| OidcError::SecretFile {
            path: path.to_path_buf(),
            source,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_err(err)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(OidcError::SecretFileNotPrivate {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        Self::new(std::fs::read_to_string(path).map_err(err)?)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(hidden)")
    }
}

/// How this platform authenticates to the provider's token endpoint.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// `client_secret_basic`: the id and secret in an HTTP Basic header (the default of the
    /// standard).
    SecretBasic(ClientSecret),
    /// `client_secret_post`: the id and secret in the form.
    SecretPost(ClientSecret),
    /// A public client (`none`): no secret, the PKCE verifier alone proves the login.
    None,
}

impl ClientAuth {
    /// The method's name in the provider's metadata.
    pub fn method(&self) -> &'static str {
        match self {
            ClientAuth::SecretBasic(_) => "client_secret_basic",
            ClientAuth::SecretPost(_) => "client_secret_post",
            ClientAuth::None => "none",
        }
    }
}

/// Everything the relying party needs, checked.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// The provider.
    pub issuer: Issuer,
    /// This platform's client id at the provider.
    pub client_id: String,
    /// How the platform authenticates at the token endpoint.
    pub client_auth: ClientAuth,
    /// Where the provider sends the person back (registered at the provider).
    pub redirect_uri: Url,
    /// How far the provider's clock may be from ours (`exp`, `iat`, `nbf`).
    pub clock_skew: Duration,
    /// How long a login may take from its start to the callback.
    pub max_login_age: Duration,
    /// The limit of each request to the provider.
    pub http_timeout: Duration,
    /// The shortest time between two fetches of the provider's keys caused by an unknown
    /// key id (a token naming random key ids cannot make us hammer the provider).
    pub jwks_refresh_interval: Duration,
}

impl OidcConfig {
    /// A configuration with the default limits: 60 s of clock skew, 10 minutes to log in,
    /// 10 s per request, keys re-fetched at most once a minute for an unknown key id.
    pub fn new(
        issuer: Issuer,
        client_id: impl Into<String>,
        client_auth: ClientAuth,
        redirect_uri: Url,
    ) -> Result<Self, OidcError> {
        let client_id = client_id.into();
        if client_id.trim().is_empty() {
            return Err(OidcError::Config("the client id is empty".into()));
        }
        check_transport(&redirect_uri)
            .map_err(|why| OidcError::Config(format!("redirect URI: {why}")))?;
        Ok(OidcConfig {
            issuer,
            client_id,
            client_auth,
            redirect_uri,
            clock_skew: Duration::from_secs(60),
            max_login_age: Duration::from_secs(600),
            http_timeout: Duration::from_secs(10),
            jwks_refresh_interval: Duration::from_secs(60),
        })
    }
}

/// How the client authenticates, as the `--oidc-client-auth` flag says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ClientAuthMethod {
    /// `client_secret_basic`.
    Basic,
    /// `client_secret_post`.
    Post,
    /// A public client: PKCE only.
    None,
}

/// The `aim serve` settings for OpenID Connect login, as flags or environment variables
/// (docs/oidc.md). With the `clap` feature it is a `clap::Args` to flatten into a command.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct OidcArgs {
    /// OpenID Connect provider's issuer URL (exactly as the provider writes it); without it,
    /// no OpenID Connect login.
    #[cfg_attr(feature = "clap", arg(long, env = "AIM_OIDC_ISSUER"))]
    pub oidc_issuer: Option<String>,
    /// This platform's client id at the provider.
    #[cfg_attr(feature = "clap", arg(long, env = "AIM_OIDC_CLIENT_ID"))]
    pub oidc_client_id: Option<String>,
    /// A file (mode 600) holding the client secret; else the environment variable
    /// AIM_OIDC_CLIENT_SECRET. Never give the secret itself on the command line.
    #[cfg_attr(feature = "clap", arg(long, env = "AIM_OIDC_CLIENT_SECRET_FILE"))]
    pub oidc_client_secret_file: Option<std::path::PathBuf>,
    /// How the client authenticates at the token endpoint.
    #[cfg_attr(
        feature = "clap",
        arg(
            long,
            value_enum,
            default_value = "basic",
            env = "AIM_OIDC_CLIENT_AUTH"
        )
    )]
    pub oidc_client_auth: Option<ClientAuthMethod>,
    /// The redirect URI registered at the provider (default: the public URL with the path
    /// /login/oidc/callback).
    #[cfg_attr(feature = "clap", arg(long, env = "AIM_OIDC_REDIRECT_URI"))]
    pub oidc_redirect_uri: Option<String>,
}

impl OidcArgs {
    /// The checked configuration, or `None` when no issuer is given (OpenID Connect login
    /// off). `public_url` is the site's public URL (`aim serve --public-url`); `env` looks up
    /// an environment variable (`|k| std::env::var(k).ok()` in the binary).
    pub fn config(
        &self,
        public_url: Option<&Url>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<OidcConfig>, OidcError> {
        let Some(issuer) = &self.oidc_issuer else {
            return Ok(None);
        };
        let issuer = Issuer::parse(issuer)?;
        let client_id = self.oidc_client_id.clone().ok_or_else(|| {
            OidcError::Config("--oidc-issuer needs --oidc-client-id as well".into())
        })?;
        let redirect_uri = match (&self.oidc_redirect_uri, public_url) {
            (Some(r), _) => Url::parse(r).map_err(|e| {
                OidcError::Config(format!("the redirect URI {r:?} is not a URL ({e})"))
            })?,
            (None, Some(p)) => p.join(CALLBACK_PATH).map_err(|e| {
                OidcError::Config(format!("cannot make the redirect URI from {p} ({e})"))
            })?,
            (None, None) => {
                return Err(OidcError::Config(
                    "give --oidc-redirect-uri, or --public-url to derive it".into(),
                ));
            }
        };
        let secret = || -> Result<ClientSecret, OidcError> {
            match &self.oidc_client_secret_file {
                Some(path) => ClientSecret::from_file(path),
                None => match env(SECRET_ENV) {
                    Some(s) => ClientSecret::new(s),
                    None => Err(OidcError::Config(format!(
                        "a confidential client needs its secret: give --oidc-client-secret-file FILE or set {SECRET_ENV}"
                    ))),
                },
            }
        };
        let client_auth = match self.oidc_client_auth.unwrap_or(ClientAuthMethod::Basic) {
            ClientAuthMethod::Basic => ClientAuth::SecretBasic(secret()?),
            ClientAuthMethod::Post => ClientAuth::SecretPost(secret()?),
            ClientAuthMethod::None => ClientAuth::None,
        };
        OidcConfig::new(issuer, client_id, client_auth, redirect_uri).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_must_be_https_except_on_loopback() {
        assert!(Issuer::parse("https://idp.example.be").is_ok());
        assert!(Issuer::parse("http://127.0.0.1:8080").is_ok());
        assert!(Issuer::parse("http://localhost:8080/realms/aim").is_ok());
        assert!(Issuer::parse("http://[::1]:9000").is_ok());
        for bad in [
            "http://idp.example.be",
            "http://10.0.0.1",
            "ftp://idp.example.be",
            "https://idp.example.be/?a=b",
            "https://idp.example.be/#x",
            "idp.example.be",
        ] {
            assert!(
                matches!(Issuer::parse(bad), Err(OidcError::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn issuer_is_kept_exactly_and_discovery_is_under_it() {
        let i = Issuer::parse("https://idp.example.be/realms/aim").unwrap();
        assert_eq!(i.as_str(), "https://idp.example.be/realms/aim");
        assert_eq!(
            i.discovery_url().as_str(),
            "https://idp.example.be/realms/aim/.well-known/openid-configuration"
        );
        let slash = Issuer::parse("https://idp.example.be/").unwrap();
        assert_eq!(slash.as_str(), "https://idp.example.be/");
        assert_eq!(
            slash.discovery_url().as_str(),
            "https://idp.example.be/.well-known/openid-configuration"
        );
    }

    #[test]
    fn secret_is_never_printed() {
        let s = ClientSecret::new("very-secret-value\n").unwrap();
        assert_eq!(s.expose(), "very-secret-value");
        assert!(!format!("{s:?}").contains("very-secret"));
        let auth = ClientAuth::SecretBasic(s);
        assert!(!format!("{auth:?}").contains("very-secret"));
    }

    #[cfg(unix)]
    #[test]
    fn secret_file_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = ClientSecret::from_file(&path).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(ClientSecret::from_file(&path).unwrap().expose(), "s3cret");
    }

    #[test]
    fn args_make_a_config_or_say_what_is_missing() {
        let public = Url::parse("https://aim.example.be/").unwrap();
        let none = |_: &str| None;
        assert!(
            OidcArgs::default()
                .config(Some(&public), none)
                .unwrap()
                .is_none()
        );

        let mut args = OidcArgs {
            oidc_issuer: Some("https://idp.example.be".into()),
            ..OidcArgs::default()
        };
        let e = args.config(Some(&public), none).unwrap_err();
        assert!(e.to_string().contains("--oidc-client-id"), "{e}");

        args.oidc_client_id = Some("aim".into());
        let e = args.config(Some(&public), none).unwrap_err();
        assert!(e.to_string().contains(SECRET_ENV), "{e}");

        let env = |k: &str| (k == SECRET_ENV).then(|| "from-env".to_string());
        let c = args.config(Some(&public), env).unwrap().unwrap();
        assert_eq!(
            c.redirect_uri.as_str(),
            "https://aim.example.be/login/oidc/callback"
        );
        assert!(
            matches!(c.client_auth, ClientAuth::SecretBasic(ref s) if s.expose() == "from-env")
        );

        args.oidc_client_auth = Some(ClientAuthMethod::None);
        let c = args.config(Some(&public), none).unwrap().unwrap();
        assert!(matches!(c.client_auth, ClientAuth::None));

        let e = args.config(None, none).unwrap_err();
        assert!(e.to_string().contains("--oidc-redirect-uri"), "{e}");

        args.oidc_redirect_uri = Some("http://aim.example.be/cb".into());
        let e = args.config(None, none).unwrap_err();
        assert!(e.to_string().contains("only https"), "{e}");
    }
}

#[cfg(all(test, feature = "clap"))]
mod clap_tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        oidc: OidcArgs,
    }

    #[test]
    fn the_flags_parse() {
        let s = Serve::try_parse_from([
            "serve",
            "--oidc-issuer",
            "https://idp.example.be",
            "--oidc-client-id",
            "aim",
            "--oidc-client-auth",
            "post",
        ])
        .unwrap();
        assert_eq!(
            s.oidc.oidc_issuer.as_deref(),
            Some("https://idp.example.be")
        );
        assert_eq!(s.oidc.oidc_client_auth, Some(ClientAuthMethod::Post));
        // There is no flag for the secret itself.
        assert!(Serve::try_parse_from(["serve", "--oidc-client-secret", "x"]).is_err());
    }
}
