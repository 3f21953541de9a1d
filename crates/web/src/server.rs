//! The accept loop: HTTP/1.1 with hyper, on plain TCP or TLS, with every wait bounded.
//!
//! A connection is closed when its request headers take longer than the header timeout (TLS
//! handshake included), when it stays idle after a response for longer than the keep-alive
//! timeout, or when the peer does not take the response's bytes for the write timeout; a
//! request body must arrive within the body timeout ([`crate::respond`]). At most
//! `max_connections` are served at once: further ones wait in the kernel's backlog, so slow
//! clients can hold no more than that many descriptors, and each for a bounded time.

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::Sleep;
use tower::ServiceExt;

/// The server's limits. The defaults suit a public server behind or without a reverse proxy
/// (docs/deployment.md says why each).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// From a connection's start, or from the end of its previous response, until its
    /// request headers are complete (the TLS handshake counts too). Default 10 s.
    pub header_read_timeout: Duration,
    /// How long a connection may stay idle after a response before it is closed. Default
    /// 5 s. (Hyper's header timer also runs while idle, so the header timeout bounds it too.)
    pub keep_alive_timeout: Duration,
    /// From the request headers until its body is complete. Default 10 s.
    pub body_timeout: Duration,
    /// How long a write may wait for the peer to take bytes. Default 30 s.
    pub write_timeout: Duration,
    /// Connections served at once. Default 512.
    pub max_connections: usize,
    /// Largest request body (no route takes one today). Default 64 KiB.
    pub max_body_bytes: usize,
    /// Largest request head (request line and headers): larger ones get 431. Default 16 KiB
    /// (hyper's floor is 8 KiB).
    pub max_header_bytes: usize,
    /// How long a shutdown waits for responses in flight. Default 5 s.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_connections: 512,
            max_body_bytes: 64 * 1024,
            max_header_bytes: 16 * 1024,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// The address of the peer of a request's connection (a request extension; absent when the
/// router is called without the accept loop, as in tests).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A limit is zero.
    #[error("invalid server limit: {0} must be above zero")]
    Zero(&'static str),
}

impl ServerConfig {
    /// Checks that no limit is zero.
    pub fn validate(&self) -> Result<(), ServeError> {
        for (name, zero) in [
            ("header timeout", self.header_read_timeout.is_zero()),
            ("keep-alive timeout", self.keep_alive_timeout.is_zero()),
            ("body timeout", self.body_timeout.is_zero()),
            ("write timeout", self.write_timeout.is_zero()),
            ("max connections", self.max_connections == 0),
        ] {
            if zero {
                return Err(ServeError::Zero(name));
            }
        }
        Ok(())
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets the
/// responses in flight finish (up to `shutdown_grace`) and returns.
pub async fn serve_until(
    app: Router,
    listener: TcpListener,
    config: ServerConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    config
        .validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let config = Arc::new(config);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(config.max_header_bytes.max(8192))
        .keep_alive(true);
    let http = Arc::new(http);
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait a little.
                    if !matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (app, config, http, tls, stop) = (
            app.clone(),
            config.clone(),
            http.clone(),
            tls.clone(),
            stop_rx.clone(),
        );
        tokio::spawn(async move {
            let _permit = permit;
            let stream = WriteTimeout::new(stream, config.write_timeout);
            match tls {
                None => connection(stream, peer, app, &config, &http, stop).await,
                Some(acceptor) => {
                    let hs =
                        tokio::time::timeout(config.header_read_timeout, acceptor.accept(stream))
                            .await;
                    if let Ok(Ok(stream)) = hs {
                        connection(stream, peer, app, &config, &http, stop).await;
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a slot: all slots back means every connection is done.
    let _ = tokio::time::timeout(
        config.shutdown_grace,
        slots.acquire_many(config.max_connections as u32),
    )
    .await;
    Ok(())
}

/// When the connection's last response was handed over, and how many requests are in flight.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
    served: AtomicUsize,
}

impl Activity {
    fn idle_since(&self) -> Option<Instant> {
        (self.in_flight.load(Ordering::Acquire) == 0 && self.served.load(Ordering::Acquire) > 0)
            .then(|| self.start + Duration::from_millis(self.last_ms.load(Ordering::Acquire)))
    }
}

/// Serves one connection until it ends, is idle too long, or the server stops.
async fn connection<I>(
    io: I,
    peer: std::net::SocketAddr,
    app: Router,
    config: &ServerConfig,
    http: &hyper::server::conn::http1::Builder,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity {
        start: Instant::now(),
        last_ms: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
        served: AtomicUsize::new(0),
    });
    let act = activity.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(PeerAddr(peer));
        let app = app.clone();
        let act = act.clone();
        act.in_flight.fetch_add(1, Ordering::AcqRel);
        async move {
            let resp = app.oneshot(req.map(axum::body::Body::new)).await;
            // The request stays in flight until its body is written (or dropped).
            resp.map(|r| {
                r.map(|inner| {
                    axum::body::Body::new(Tracked {
                        inner,
                        activity: Some(act),
                    })
                })
            })
        }
    });
    let conn = http.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let keep_alive = config.keep_alive_timeout;
    let mut closing = false;
    loop {
        let idle_deadline = activity
            .idle_since()
            .map(|t| t + keep_alive)
            .unwrap_or_else(|| Instant::now() + keep_alive);
        // The connection first: when its next request has arrived as the idle deadline
        // passes, it is read (and counted in flight) before the deadline is looked at.
        tokio::select! {
            biased;
            _ = conn.as_mut() => return,
            r = stop.changed(), if !closing => {
                if r.is_err() || *stop.borrow() {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            () = tokio::time::sleep_until(idle_deadline.into()), if !closing => {
                if activity.idle_since().is_some_and(|t| t.elapsed() >= keep_alive) {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// A response body that marks the end of its request when written out or dropped.
struct Tracked {
    inner: axum::body::Body,
    activity: Option<Arc<Activity>>,
}

impl Tracked {
    fn done(&mut self) {
        if let Some(a) = self.activity.take() {
            a.last_ms
                .store(a.start.elapsed().as_millis() as u64, Ordering::Release);
            a.served.fetch_add(1, Ordering::AcqRel);
            a.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.done();
    }
}

impl hyper::body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = r {
            self.done();
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A stream whose writes fail with `TimedOut` when the peer takes no byte for `limit`.
pub struct WriteTimeout<S> {
    inner: S,
    limit: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteTimeout<S> {
    /// Wraps a stream.
    pub fn new(inner: S, limit: Duration) -> WriteTimeout<S> {
        WriteTimeout {
            inner,
            limit,
            sleep: None,
        }
    }

    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let limit = self.limit;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.sleep = None;
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the peer took no bytes within the write timeout",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Pending => self.pending(cx),
            r => {
                self.sleep = None;
                r
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Pending => self.pending(cx),
            r => {
                self.sleep = None;
                r
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending => self.pending(cx),
            r => {
                self.sleep = None;
                r
            }
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
