//! The accept loop: a bounded number of connections, each with the HTTP limits of
//! [`super::limits`], over TLS when the web config says so, every request past basic auth
//! when it names users, then [`super::route`].

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::auth;
use super::limits::{self, IdleIo};
use super::webconfig::{WebConfig, WebHandle};
use super::{route, Shared};

type Resp = Response<Full<Bytes>>;

/// Requests answered at once on blocking threads.
static ROUTE_THREADS: Semaphore = Semaphore::const_new(4);
/// bcrypt verifications at once.
static BCRYPT_THREADS: Semaphore = Semaphore::const_new(2);

fn unauthorized() -> Resp {
    let mut r = Response::new(Full::new(Bytes::from_static(b"Unauthorized\n")));
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"smtp-status-exporter\", charset=\"UTF-8\""),
    );
    r
}

/// Whether the request may be answered under `web`'s `basic_auth_users`.
async fn authorized(web: &Arc<WebConfig>, req: &Request<Incoming>) -> bool {
    let Some(users) = &web.users else {
        return true;
    };
    let Some(creds) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|h| auth::parse_basic(h.as_bytes()))
    else {
        return false;
    };
    if users.remembered(&creds) {
        return true;
    }
    // bcrypt takes tens of milliseconds: off the async workers, and two at a time, so a flood
    // of wrong passwords costs at most two cores' worth and no pile of threads (credentials
    // that verified before skip this).
    let _turn = BCRYPT_THREADS.acquire().await;
    let web = Arc::clone(web);
    tokio::task::spawn_blocking(move || web.users.as_ref().is_some_and(|u| u.verify(&creds)))
        .await
        .unwrap_or(false)
}

async fn answer(shared: Arc<Shared>, web: Arc<WebHandle>, req: Request<Incoming>) -> Resp {
    // The configuration in force now: a reload applies to kept-alive connections too.
    let config = web.current();
    if !authorized(&config, &req).await {
        return unauthorized();
    }
    if req.uri().path() == shared.telemetry_path && !shared.queues.is_empty() {
        // Bounded by --queue.timeout; a failure only shows as a self-metric.
        shared.queues.refresh().await;
    }
    let accept = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let (method, path) = (req.method().clone(), target);
    // A scrape saves the state file (write and fsync) before it is answered, and concurrent
    // scrapes queue for that: off the two async workers, so that the accept loop, TLS
    // handshakes and /-/healthy never wait behind a disk. A few threads at a time (they would
    // only queue on the state file's lock; each thread more is memory).
    let _turn = ROUTE_THREADS.acquire().await;
    tokio::task::spawn_blocking(move || route(&method, &path, accept.as_deref(), &shared))
        .await
        .unwrap_or_else(|e| {
            let mut r = Response::new(Full::new(Bytes::from(format!("internal error: {e}\n"))));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}

async fn connection<I>(io: I, shared: Arc<Shared>, web: Arc<WebHandle>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req: Request<Incoming>| {
        let (shared, web) = (Arc::clone(&shared), Arc::clone(&web));
        async move { Ok::<_, Infallible>(answer(shared, web, req).await) }
    });
    if let Err(e) = limits::http1()
        .serve_connection(TokioIo::new(io), service)
        .await
    {
        tracing::debug!("connection ended with an error: {e}");
    }
}

/// Serves connections on an already bound listener until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    web: Arc<WebHandle>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let slots = Arc::new(Semaphore::new(limits::MAX_CONNECTIONS));
    loop {
        // A free slot first: beyond the bound, connections wait in the kernel's backlog.
        let slot = tokio::select! {
            _ = &mut shutdown => return,
            s = Arc::clone(&slots).acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => return,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (shared, web) = (Arc::clone(&shared), Arc::clone(&web));
        tokio::spawn(async move {
            let _slot = slot;
            let io = IdleIo::new(stream, limits::IDLE_TIMEOUT);
            // TLS or not is decided per connection, by the configuration in force when it came.
            match web.current().tls.clone() {
                Some(tls) => match tokio_rustls::TlsAcceptor::from(tls).accept(io).await {
                    Ok(stream) => connection(stream, shared, web).await,
                    Err(e) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                },
                None => connection(io, shared, web).await,
            }
        });
    }
}
