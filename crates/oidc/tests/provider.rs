//! Logins against a real OpenID Connect provider (the npm `oidc-provider`, started on a
//! loopback port by tests/oidc/provider.mjs): the whole authorization-code flow as a browser
//! drives it, each client authentication, RS256 and ES256 tokens, key rotation, and what
//! must be refused — a wrong state, a replayed code, a wrong nonce or PKCE verifier, a token
//! for another client, a tampered or unsigned token, a login that took too long, a provider
//! that is not the configured issuer. Then the account mapping in a real accounts store.

mod support;

use aim_oidc::{
    Callback, ClientAuth, ClientSecret, Issuer, OidcConfig, OidcError, PendingLogin, PendingLogins,
    RelyingParty, VerifiedIdentity,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};
use support::{Agent, LOGIN, Provider, SECRET};

/// One provider for the tests of this file (stopped with the test process).
fn provider() -> Option<&'static Provider> {
    static P: OnceLock<Option<Provider>> = OnceLock::new();
    P.get_or_init(|| support::available().then(Provider::start))
        .as_ref()
}

fn config(p: &Provider, client: &str) -> OidcConfig {
    let secret = || ClientSecret::new(SECRET).unwrap();
    let auth = match client {
        "aim-basic" => ClientAuth::SecretBasic(secret()),
        "aim-post" => ClientAuth::SecretPost(secret()),
        _ => ClientAuth::None,
    };
    OidcConfig::new(
        Issuer::parse(&p.issuer).unwrap(),
        client,
        auth,
        p.redirect_uri.clone(),
    )
    .unwrap()
}

async fn rp(p: &Provider, client: &str) -> RelyingParty {
    RelyingParty::discover(config(p, client)).await.unwrap()
}

/// Starts a login and drives the provider to the callback: the pending login and the
/// callback.
fn log_in(rp: &RelyingParty, p: &Provider) -> (PendingLogin, Callback) {
    let (pending, url) = rp.begin("/atlas?indicator=diabetes").unwrap();
    let query = Agent::default().log_in(&url, &p.redirect_uri, LOGIN, false);
    (pending, Callback::from_query(&query))
}

fn expect_tester(id: &VerifiedIdentity, p: &Provider) {
    assert_eq!(id.issuer, p.issuer);
    assert_eq!(id.subject, LOGIN);
    assert_eq!(id.email.as_deref(), Some("tester01@example.be"));
    assert!(id.email_verified);
    assert_eq!(id.name.as_deref(), Some("Tester One"));
}

/// Exchanges a code as the client `client` would, outside the relying party, to get the raw
/// ID token (for the tests that alter or misdirect it).
fn raw_id_token(rp: &RelyingParty, p: &Provider, client: &str) -> (String, String) {
    let (pending, cb) = log_in(rp, p);
    let saved = serde_json::to_value(&pending).unwrap();
    let verifier = saved["pkce_verifier"].as_str().unwrap();
    let nonce = saved["nonce"].as_str().unwrap().to_string();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", cb.code.as_deref().unwrap()),
        ("redirect_uri", p.redirect_uri.as_str()),
        ("code_verifier", verifier),
        ("client_id", client),
    ];
    let mut headers = Vec::new();
    match client {
        "aim-post" => form.push(("client_secret", SECRET)),
        "aim-basic" => headers.push((
            "Authorization",
            format!("Basic {}", STANDARD.encode(format!("{client}:{SECRET}"))),
        )),
        _ => {}
    }
    let a = Agent::default().request("POST", &rp.metadata().token_endpoint, &headers, Some(&form));
    assert_eq!(a.status, 200, "{}", a.body);
    let answer: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    (answer["id_token"].as_str().unwrap().to_string(), nonce)
}

fn header_of(token: &str) -> serde_json::Value {
    let h = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
}

#[tokio::test]
async fn a_login_with_client_secret_basic_and_rs256() {
    let Some(p) = provider() else { return };
    let rp = rp(p, "aim-basic").await;
    let (pending, url) = rp.begin("/atlas").unwrap();
    // What the person's browser is sent to.
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["scope"], "openid email profile");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["state"], pending.state());
    // The verifier stays here; only its S256 challenge goes out.
    let saved = serde_json::to_value(&pending).unwrap();
    let verifier = saved["pkce_verifier"].as_str().unwrap();
    assert!(!url.as_str().contains(verifier));
    assert_eq!(q["code_challenge"].len(), 43);

    // The web layer keeps the pending login under its state until the callback.
    let logins = PendingLogins::new(Duration::from_secs(600), 1000);
    logins.insert(pending, SystemTime::now());
    let query = Agent::default().log_in(&url, &p.redirect_uri, LOGIN, false);
    let callback = Callback::from_query(&query);
    assert_eq!(callback.iss.as_deref(), Some(p.issuer.as_str()));
    let pending = logins
        .take(callback.state.as_deref().unwrap(), SystemTime::now())
        .unwrap();
    assert_eq!(pending.next(), "/atlas");
    let id = rp.complete(pending, &callback).await.unwrap();
    expect_tester(&id, p);
    // Taken once: the same callback again finds no pending login.
    assert!(matches!(
        logins.take(callback.state.as_deref().unwrap(), SystemTime::now()),
        Err(OidcError::UnknownState)
    ));
}

#[tokio::test]
async fn a_login_with_client_secret_post_and_es256() {
    let Some(p) = provider() else { return };
    let rp = rp(p, "aim-post").await;
    let (pending, cb) = log_in(&rp, p);
    expect_tester(&rp.complete(pending, &cb).await.unwrap(), p);
    // The provider signs this client's ID tokens with ES256, and they verify.
    let (token, nonce) = raw_id_token(&rp, p, "aim-post");
    assert_eq!(header_of(&token)["alg"], "ES256");
    assert_eq!(
        rp.verify_id_token(&token, &nonce).await.unwrap().subject,
        LOGIN
    );
}

#[tokio::test]
async fn a_public_client_logs_in_with_pkce_alone() {
    let Some(p) = provider() else { return };
    let rp = rp(p, "aim-public").await;
    let (pending, cb) = log_in(&rp, p);
    expect_tester(&rp.complete(pending, &cb).await.unwrap(), p);
}

#[tokio::test]
async fn a_wrong_state_is_refused() {
    let Some(p) = provider() else { return };
    let rp = rp(p, "aim-basic").await;
    let (pending, mut cb) = log_in(&rp, p);
    cb.state = Some("not-the-state-we-sent".into());
    assert!(matches!(
        rp.complete(pending.clone(), &cb).await,
        Err(OidcError::StateMismatch)
    ));
    cb.state = None;
    assert!(matches!(
        rp.complete(pending, &cb).await,
        Err(OidcError::StateMismatch)
    ));
    let logins = PendingLogins::new(Duration::from_secs(600), 10);
    assert!(matches!(
        logins.take("not-the-state-we-sent", SystemTime::now()),
        Err(OidcError::UnknownState)
    ));
}

#[tokio::test]
async fn a_replayed_code_is_refused_by_the_provider() {
    let Some(p) = provider() else { return };
    let rp = rp(p, "aim-basic").await;
    let (pending, cb) = log_in(&rp, p);
    // A copy of the pending login, as a cookie replayed by an attacker would give back.
    let copy: PendingLogin =
        serde_json::from_str(&serde_json::to_string(&pending).unwrap()).unwrap();
    rp.complete(pending, &cb).await.unwrap();
    match rp.complete(copy, &cb).await {
        Err(OidcError::CodeRejected { error, .. }) => assert_eq!(error, "invalid_grant"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_nonce_or_pkce_verifier_is_refused() {
    let Some(p) = provider() else { return };
    let rp = rp(p, "aim-basic").await;
    // The provider's token carries the login's nonce; a pending login with another nonce
    // (a token injected into another login) is refused.
    let (pending, cb) = log_in(&rp, p);
    let mut altered = serde_json::to_value(&pending).unwrap();
    altered["nonce"] = "another-nonce".into();
    let altered: PendingLogin = serde_json::from_value(altered).unwrap();
    let e = rp.complete(altered, &cb).await.unwrap_err();
    assert!(matches!(e, OidcError::NonceMismatch), "{e}");
    assert!(e.to_string().contains("nonce"), "{e}");

    // Another PKCE verifier: the provider refuses the code.
    let (pending, cb) = log_in(&rp, p);
    let mut altered = serde_json::to_value(&pending).unwrap();
    altered["pkce_verifier"] = "x".repeat(43).into();
    let altered: PendingLogin = serde_json::from_value(altered).unwrap();
    match rp.complete(altered, &cb).await {
        Err(OidcError::CodeRejected { error, .. }) => assert_eq!(error, "invalid_grant"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_token_for_another_client_is_refused() {
    let Some(p) = provider() else { return };
    let basic = rp(p, "aim-basic").await;
    let post = rp(p, "aim-post").await;
    let (token, nonce) = raw_id_token(&post, p, "aim-post");
    let e = basic.verify_id_token(&token, &nonce).await.unwrap_err();
    assert!(matches!(e, OidcError::WrongAudience { .. }), "{e}");
    assert!(e.to_string().contains("aim-post"), "{e}");
    // And a code of one client is not exchanged by another.
    let (pending, cb) = log_in(&post, p);
    let e = basic.complete(pending, &cb).await.unwrap_err();
    assert!(matches!(e, OidcError::CodeRejected { .. }), "{e}");
}

#[tokio::test]
async fn a_tampered_or_unsigned_token_is_refused() {
    let Some(p) = provider() else { return };
    let rp = rp(p, "aim-basic").await;
    let (token, nonce) = raw_id_token(&rp, p, "aim-basic");
    assert_eq!(header_of(&token)["alg"], "RS256");
    assert!(rp.verify_id_token(&token, &nonce).await.is_ok());
    let parts: Vec<&str> = token.split('.').collect();

    // Another subject in the claims, the provider's signature kept.
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    // This provider keeps the scopes' claims out of the ID token (they came from its
    // user-info endpoint in the logins above).
    assert!(claims.get("email").is_none(), "{claims}");
    claims["sub"] = "someone-else".into();
    let forged_claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let forged = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
    let e = rp.verify_id_token(&forged, &nonce).await.unwrap_err();
    assert!(matches!(e, OidcError::BadSignature(_)), "{e}");

    // One bit of the signature flipped.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert!(matches!(
        rp.verify_id_token(&flipped, &nonce).await,
        Err(OidcError::BadSignature(_))
    ));

    // Unsigned (alg none), and HMAC keyed with the provider's public key (key confusion).
    for alg in ["none", "HS256"] {
        let mut h = header_of(&token);
        h["alg"] = alg.into();
        let t = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(h.to_string()),
            forged_claims,
            if alg == "none" { "" } else { parts[2] }
        );
        let e = rp.verify_id_token(&t, &nonce).await.unwrap_err();
        assert!(
            matches!(e, OidcError::AlgorithmRefused { .. }),
            "{alg}: {e}"
        );
    }

    // A key id the provider never had.
    let mut h = header_of(&token);
    h["kid"] = "not-a-key-of-the-provider".into();
    let t = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(h.to_string()),
        parts[1],
        parts[2]
    );
    assert!(matches!(
        rp.verify_id_token(&t, &nonce).await,
        Err(OidcError::UnknownKey { .. })
    ));

    // The genuine token, an hour and a half later, has expired.
    let later = SystemTime::now() + Duration::from_secs(5400);
    assert!(matches!(
        rp.verify_id_token_at(&token, &nonce, later).await,
        Err(OidcError::Expired { .. })
    ));
}

#[tokio::test]
async fn a_login_that_took_too_long_is_refused() {
    let Some(p) = provider() else { return };
    let rp = rp(p, "aim-basic").await;
    let (pending, cb) = log_in(&rp, p);
    let late = SystemTime::now() + Duration::from_secs(11 * 60);
    let e = rp
        .complete_at(pending.clone(), &cb, late)
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::LoginExpired { .. }), "{e}");
    assert!(e.to_string().contains("start it again"), "{e}");
    let logins = PendingLogins::new(Duration::from_secs(600), 10);
    let state = pending.state().to_string();
    logins.insert(pending, SystemTime::now());
    assert!(matches!(
        logins.take(&state, late),
        Err(OidcError::LoginExpired { .. })
    ));
}

#[tokio::test]
async fn a_cancelled_login_says_so() {
    let Some(p) = provider() else { return };
    let rp = rp(p, "aim-basic").await;
    let (pending, url) = rp.begin("/").unwrap();
    let query = Agent::default().log_in(&url, &p.redirect_uri, LOGIN, true);
    let cb = Callback::from_query(&query);
    match rp.complete(pending, &cb).await {
        Err(OidcError::ProviderRefused { error, .. }) => assert_eq!(error, "access_denied"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_provider_that_is_not_the_configured_issuer_is_refused() {
    let Some(p) = provider() else { return };
    // The same server named with a trailing slash: its document says otherwise.
    let mut c = config(p, "aim-basic");
    c.issuer = Issuer::parse(&format!("{}/", p.issuer)).unwrap();
    let e = RelyingParty::discover(c).await.unwrap_err();
    assert!(matches!(e, OidcError::WrongIssuer { .. }), "{e}");
    assert!(e.to_string().contains("character for character"), "{e}");

    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut c = config(p, "aim-basic");
    c.issuer = Issuer::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let e = RelyingParty::discover(c).await.unwrap_err();
    assert!(matches!(e, OidcError::Unreachable { .. }), "{e}");
    assert!(e.to_string().contains("unreachable"), "{e}");
}

#[tokio::test]
async fn new_keys_of_the_provider_are_fetched_when_a_token_names_them() {
    if !support::available() {
        return;
    }
    let first = Provider::start();
    let (port, redirect) = (first.port, first.redirect_uri.clone());
    let mut c = config(&first, "aim-basic");
    c.jwks_refresh_interval = Duration::ZERO;
    let rp = RelyingParty::discover(c).await.unwrap();
    let (pending, cb) = log_in(&rp, &first);
    rp.complete(pending, &cb).await.unwrap();
    let old_kids = first.kids.clone();
    first.stop();

    // The provider restarts on the same address with new keys.
    let second = Provider::start_on(port, redirect);
    assert!(second.kids.iter().all(|k| !old_kids.contains(k)));
    let (pending, cb) = log_in(&rp, &second);
    expect_tester(&rp.complete(pending, &cb).await.unwrap(), &second);
}

#[tokio::test]
async fn a_verified_login_is_the_linked_account_only() {
    let Some(p) = provider() else { return };
    let rp = rp(p, "aim-basic").await;
    let (pending, cb) = log_in(&rp, p);
    let id = rp.complete(pending, &cb).await.unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let location = aim_access::StoreLocation::Sqlite(tmp.path().join("access.db"));
    let mut store = aim_access::Store::open(&location).unwrap();
    store
        .init_administrator("admin@agency.example.be", "A. Admin", "agency")
        .unwrap();
    store
        .create_account(&aim_access::NewAccount {
            // The same e-mail as the provider's: still not the account until linked.
            email: "tester01@example.be".into(),
            name: "Tester One".into(),
            organisation: "agency".into(),
            roles: [aim_access::Role::AgencyAnalyst].into(),
        })
        .unwrap();
    assert!(matches!(
        store.account_for_oidc_login(&id.issuer, &id.subject),
        Err(aim_access::AccessError::OidcNotLinked { .. })
    ));
    store
        .link_oidc("tester01@example.be", &id.issuer, &id.subject)
        .unwrap();
    let a = store
        .account_for_oidc_login(&id.issuer, &id.subject)
        .unwrap();
    assert_eq!(a.email, "tester01@example.be");
    store.set_enabled("tester01@example.be", false).unwrap();
    assert!(matches!(
        store.account_for_oidc_login(&id.issuer, &id.subject),
        Err(aim_access::AccessError::Disabled { .. })
    ));
}
