//! The signed-in part of the site (docs/web-projects.md): on when `aim serve` is given an
//! accounts store. [`Portal`] holds the store, the session limits and the login policy; every
//! store call runs on a blocking thread ([`Portal::with_store`]), one at a time.

use aim_access::{SessionLimits, Store, StoreError};
use aim_projects::{HealthIndex, PriceList, Workflow};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How sign-in behaves.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// Idle and absolute session lifetimes (default 30 minutes idle, 12 hours in all).
    pub limits: SessionLimits,
    /// Failed logins of one account within the window before its logins are refused
    /// (default 5).
    pub max_failures_per_account: i64,
    /// Failed logins from one address within the window before its logins are refused
    /// (default 20).
    pub max_failures_per_address: i64,
    /// The window failed logins are counted in, in seconds (default 15 minutes).
    pub failure_window_secs: i64,
    /// How long the answer to a failed login waits (default 1 s): slows down guessing.
    pub failure_delay: Duration,
}

impl Default for PortalConfig {
    fn default() -> PortalConfig {
        PortalConfig {
            limits: SessionLimits::default(),
            max_failures_per_account: 5,
            max_failures_per_address: 20,
            failure_window_secs: 15 * 60,
            failure_delay: Duration::from_secs(1),
        }
    }
}

/// Why a request to the portal could not be served (a 500 page says so).
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// The accounts store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A store call panicked or was cancelled.
    #[error("the accounts store could not be reached: {0}")]
    Unavailable(String),
}

/// The accounts store and what the project pages need, shared by every request.
pub struct Portal {
    store: Arc<Mutex<Store>>,
    /// The session and login settings.
    pub config: PortalConfig,
    /// The requests' workflow (states, transitions, documents, lead times).
    pub workflow: Workflow,
    /// The price list of quotes.
    pub prices: PriceList,
    /// The health index of quotes' day rates.
    pub index: HealthIndex,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Portal({:?})", self.config)
    }
}

impl Portal {
    /// A portal on an open store, with the built-in workflow, prices and index.
    pub fn new(store: Store, config: PortalConfig) -> Portal {
        Portal {
            store: Arc::new(Mutex::new(store)),
            config,
            workflow: Workflow::builtin(),
            prices: PriceList::builtin(),
            index: HealthIndex::builtin(),
        }
    }

    /// Runs `f` on the store on a blocking thread.
    pub async fn with_store<T, F>(&self, f: F) -> Result<T, PortalError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> T + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = store
                .lock()
                .map_err(|_| PortalError::Unavailable("a previous call failed midway".into()))?;
            Ok(f(&mut guard))
        })
        .await
        .map_err(|e| PortalError::Unavailable(e.to_string()))?
    }
}

/// Now, in Unix seconds.
pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}
