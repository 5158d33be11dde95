//! The accept loop: each connection admitted or closed at once by [`super::admission`], served
//! with the HTTP limits of [`super::limits`], over TLS when the web config says so, every
//! request past basic auth when it names users, then [`super::route`] on its [`Lane`]'s
//! workers.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{
    HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE,
};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::admission::{Busy, Ticket};
use super::auth;
use super::limits::{self, IdleIo};
use super::webconfig::{WebConfig, WebHandle};
use super::{lane, route, Lane, Shared};

type Resp = Response<Full<Bytes>>;

/// Scrapes (and `/-/ready`) answered at once on blocking threads.
static SCRAPE_THREADS: Semaphore = Semaphore::const_new(4);
/// Pages rendered at once: one, so that on two cores a scrape always finds one free.
static PAGE_THREADS: Semaphore = Semaphore::const_new(1);
/// Page requests waiting for their turn; beyond, a page is answered 503 at once.
const PAGES_WAITING_MAX: usize = 8;
static PAGES_WAITING: AtomicUsize = AtomicUsize::new(0);
/// Longest the accept loop waits for a connection closed to make room.
const EVICTION_WAIT: std::time::Duration = std::time::Duration::from_millis(100);
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
    let accept = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let method = req.method().clone();
    let path = req.uri().path();
    let lane = lane(&method, path, &shared.telemetry_path);
    if path == shared.telemetry_path && !shared.queues.is_empty() {
        // Bounded by --queue.timeout; a failure only shows as a self-metric.
        shared.queues.refresh().await;
    }
    // A scrape saves the state file (write and fsync) before it is answered, and a page copies
    // the counters: off the two async workers, so that the accept loop, TLS handshakes and
    // /-/healthy never wait behind a disk or a page. Each lane has its own few threads.
    let _turn = match lane {
        Lane::Inline => return route(&method, &target, accept.as_deref(), &shared),
        Lane::Scrape => SCRAPE_THREADS.acquire().await,
        Lane::Page => {
            let Some(_waiting) = PageQueue::join(&PAGES_WAITING, PAGES_WAITING_MAX) else {
                return pages_busy();
            };
            PAGE_THREADS.acquire().await
        }
    };
    tokio::task::spawn_blocking(move || route(&method, &target, accept.as_deref(), &shared))
        .await
        .unwrap_or_else(|e| {
            let mut r = Response::new(Full::new(Bytes::from(format!("internal error: {e}\n"))));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}

/// A place among the page requests waiting for their turn; given back when dropped.
struct PageQueue<'a>(&'a AtomicUsize);

impl PageQueue<'_> {
    /// A place among at most `max` waiting, or none.
    fn join(waiting: &AtomicUsize, max: usize) -> Option<PageQueue<'_>> {
        if waiting.fetch_add(1, Ordering::AcqRel) >= max {
            waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(PageQueue(waiting))
    }
}

impl Drop for PageQueue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn pages_busy() -> Resp {
    let mut r = Response::new(Full::new(Bytes::from_static(
        b"busy rendering pages for other clients: try again in a few seconds \
          (/metrics is not affected)\n",
    )));
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

/// A response body that keeps its connection marked busy (not to be closed to make room)
/// until hyper has written it and dropped it.
struct Tracked {
    body: Full<Bytes>,
    _busy: Busy,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

async fn connection<I>(io: I, shared: Arc<Shared>, web: Arc<WebHandle>, ticket: Arc<Ticket>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req: Request<Incoming>| {
        let (shared, web) = (Arc::clone(&shared), Arc::clone(&web));
        let busy = ticket.busy();
        async move {
            let (parts, body) = answer(shared, web, req).await.into_parts();
            let body = Tracked { body, _busy: busy };
            Ok::<_, Infallible>(Response::from_parts(parts, body))
        }
    });
    if let Err(e) = limits::http1()
        .serve_connection(TokioIo::new(io), service)
        .await
    {
        tracing::debug!("connection ended with an error: {e}");
    }
}

/// Serves one admitted connection until it ends, or until it must make room for another
/// client's (see [`super::admission`]).
async fn serve_one(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    ticket: Ticket,
    shared: Arc<Shared>,
    web: Arc<WebHandle>,
) {
    let ticket = Arc::new(ticket);
    let io = IdleIo::new(stream, limits::IDLE_TIMEOUT);
    // TLS or not is decided per connection, by the configuration in force when it came.
    let work = async {
        let Some(tls) = web.current().tls.clone() else {
            return connection(io, shared, web, Arc::clone(&ticket)).await;
        };
        let accept = tokio_rustls::TlsAcceptor::from(tls).accept(io);
        match tokio::time::timeout(limits::HANDSHAKE_TIMEOUT, accept).await {
            Ok(Ok(stream)) => connection(stream, shared, web, Arc::clone(&ticket)).await,
            Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
            Err(_) => tracing::debug!(%peer, "TLS handshake not done in time: closed"),
        }
    };
    tokio::select! {
        () = work => {}
        () = ticket.evicted() => tracing::debug!(%peer, "closed unserved to make room"),
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
    let admission = Arc::clone(&shared.admission);
    loop {
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
        // Accepted at once and admitted or closed at once: nothing waits in the kernel's
        // backlog behind a client that holds its connections.
        match admission.admit(peer.ip(), &web.current().limits) {
            Ok(admitted) => {
                if let Some(evicted) = admitted.evicted {
                    // Closed within a task switch; the bound waits for it, never for long.
                    let _ = tokio::time::timeout(EVICTION_WAIT, evicted.closed()).await;
                }
                let (shared, web) = (Arc::clone(&shared), Arc::clone(&web));
                tokio::spawn(serve_one(stream, peer, admitted.ticket, shared, web));
            }
            // A reset rather than a close: no TIME_WAIT left behind per refused connection.
            Err(_) => {
                let _ = stream.set_zero_linger();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_queue_up_to_the_bound_and_give_their_place_back() {
        let waiting = AtomicUsize::new(0);
        let places: Vec<_> = (0..3).map(|_| PageQueue::join(&waiting, 3)).collect();
        assert!(places.iter().all(Option::is_some));
        assert!(PageQueue::join(&waiting, 3).is_none(), "a fourth waits not");
        drop(places);
        assert_eq!(waiting.load(Ordering::Acquire), 0);
        assert!(PageQueue::join(&waiting, 3).is_some());
        let busy = pages_busy();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[RETRY_AFTER], "5");
    }
}
