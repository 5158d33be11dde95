//! The HTTP endpoint: `/metrics`, a landing page, `/-/healthy`, `/-/ready`.
//!
//! Routing is a plain function ([`route`]) from method, path and `Accept` header to a response,
//! testable without a socket; [`serve`] only moves bytes.

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};
use tokio::net::TcpListener;

use crate::aggregate::{Aggregator, Counters, SourceState};
use crate::expose::{self, BuildInfo};

// --web.config.file (TLS, basic auth) and the bounds on connections.
pub mod admission;
pub mod auth;
pub mod failures;
pub mod limits;
pub mod server;
pub mod status;
pub mod tls;
pub mod webconfig;

/// What the endpoint serves from.
pub struct Shared {
    pub agg: Counters,
    pub telemetry_path: String,
    pub build: BuildInfo,
    /// The web configuration in force: `build_info`'s `scheme` follows its TLS across reloads.
    pub web: Arc<webconfig::WebHandle>,
    /// Where counters are saved before each scrape is answered.
    pub state: Option<Arc<crate::state::StateFile>>,
    /// The MTA queues read at scrape time (see [`crate::queue`]).
    pub queues: Arc<crate::queue::Queues>,
    /// The connections held by client, and those refused (a self-metric).
    pub admission: Arc<admission::Admission>,
}

#[cfg(test)]
impl Shared {
    /// The endpoint over `agg`, with the default paths, no state file and no queues.
    pub(crate) fn for_tests(agg: Aggregator) -> Shared {
        Shared {
            agg: Counters::new(agg),
            telemetry_path: "/metrics".into(),
            build: BuildInfo::CURRENT,
            web: Arc::default(),
            state: None,
            queues: Arc::default(),
            admission: Arc::default(),
        }
    }
}

type Resp = Response<Full<Bytes>>;

fn text(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// Which workers answer a request: scrapes never wait behind the pages people look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Answered on the spot: `/-/healthy`, an unknown path or method.
    Inline,
    /// The telemetry path and `/-/ready`: the scrapers' own threads.
    Scrape,
    /// `/` and `/failures`: rendered one at a time, a short queue, else 503.
    Page,
}

/// The lane of a request to `path` (without its query).
pub fn lane(method: &Method, path: &str, telemetry_path: &str) -> Lane {
    if method != Method::GET && method != Method::HEAD {
        Lane::Inline
    } else if path == telemetry_path || path == "/-/ready" {
        Lane::Scrape
    } else if path == "/" || path == "/failures" {
        Lane::Page
    } else {
        Lane::Inline
    }
}

/// Answers one request.
/// `target`: the path with its query, if any.
pub fn route(method: &Method, target: &str, accept: Option<&str>, shared: &Shared) -> Resp {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method != Method::GET && method != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "only GET and HEAD are served\n",
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if path == shared.telemetry_path {
        return metrics(accept, shared);
    }
    if path == "/failures" {
        return failures_page(query, shared);
    }
    if path == "/" {
        // Counted under the lock, rendered outside it.
        return text(
            StatusCode::OK,
            "text/html; charset=utf-8",
            status::page(shared),
        );
    }
    match path {
        "/-/healthy" => text(StatusCode::OK, "text/plain; charset=utf-8", "OK\n"),
        "/-/ready" => {
            let agg = shared.agg.lock();
            let not_ready: Vec<String> = agg
                .sources_by_id()
                .filter_map(|(i, s)| {
                    let state = agg.state_of(i)?;
                    // An input that ended keeps its final counts served: still ready.
                    (!matches!(state, SourceState::Following | SourceState::Ended))
                        .then(|| format!("{} ({}): {}", s.name, s.location, state.describe()))
                })
                .collect();
            if not_ready.is_empty() {
                text(
                    StatusCode::OK,
                    "text/plain; charset=utf-8",
                    ready_text(&agg),
                )
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain; charset=utf-8",
                    format!("not ready:\n{}\n", not_ready.join("\n")),
                )
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            format!(
                "not found: try {} for metrics or / for the landing page\n",
                shared.telemetry_path
            ),
        ),
    }
}

/// `/failures`: 404 where the configuration turned it off, 400 for a bad query.
fn failures_page(query: &str, shared: &Shared) -> Resp {
    let now = Counters::now();
    let q = match failures::Query::parse(query, now) {
        Ok(q) => q,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                "text/plain; charset=utf-8",
                format!("/failures: {e}\n"),
            )
        }
    };
    // Selected under the lock, rendered outside it: a scrape waits for the copy only.
    let selection = {
        let agg = shared.agg.lock();
        agg.recent
            .enabled()
            .then(|| failures::Selection::of(&agg, &q))
    };
    let Some(selection) = selection else {
        return text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "/failures is turned off in the configuration (failures.enabled: false)\n",
        );
    };
    if q.json() {
        text(StatusCode::OK, "application/json", selection.json())
    } else {
        text(
            StatusCode::OK,
            "text/html; charset=utf-8",
            failures::render(&selection, &q, now),
        )
    }
}

/// `OK`, and which inputs have ended (standard input after its last line).
fn ready_text(agg: &Aggregator) -> String {
    let mut t = String::from("OK\n");
    for (i, s) in agg.sources_by_id() {
        if agg.state_of(i) == Some(&SourceState::Ended) {
            let _ = writeln!(
                t,
                "{} ({}): {}",
                s.name,
                s.location,
                SourceState::Ended.describe()
            );
        }
    }
    t
}

/// `/metrics`: the counters, saved to the state file before they are answered, so that no
/// value a scraper has seen can go backwards after a restart. The snapshot is taken inside the
/// state writer's lock (then the counters' lock, the order every saver uses), so snapshots
/// reach the disk in the order they were taken and a later one is never overwritten by an
/// earlier one.
fn metrics(accept: Option<&str>, shared: &Shared) -> Resp {
    let format = expose::Format::negotiate(accept);
    let build = (shared.build).over_tls(shared.web.current().tls.is_some());
    let families = match &shared.state {
        Some(state) => {
            let (families, seen) = {
                let agg = shared.agg.lock();
                (expose::families(&agg, &build), agg.marks())
            };
            let saved = state.save_covering(seen, || shared.agg.lock().marked_snapshot());
            if let Err(e) = saved {
                tracing::error!("{e:#}");
            }
            families
        }
        None => expose::families(&shared.agg.lock(), &build),
    };
    // The queues were read (or their cached reading kept) before this request was routed.
    let mut families = families;
    families.list.extend(expose::queue_families(&shared.queues));
    let refused = shared.admission.refused().map(|(r, n)| (r.label(), n));
    families.list.push(expose::refused_family(&refused));
    match expose::encode(&families, format) {
        Ok(body) => text(StatusCode::OK, format.content_type(), body),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            format!("cannot encode metrics: {e:#}\n"),
        ),
    }
}

fn html_escape(s: &str) -> String {
    expose::svg::escape(s)
}

/// Serves connections on an already bound listener until `shutdown` resolves: plain HTTP, no
/// authentication, with the limits of [`limits`] ([`server::serve`] takes a web config).
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let web = Arc::new(webconfig::WebHandle::default());
    server::serve(listener, shared, web, shutdown).await;
}

/// Parses `--web.listen-address`: `:9978` (every interface), `127.0.0.1:9978`, `[::1]:9978`.
pub fn parse_listen_address(s: &str) -> Result<Vec<SocketAddr>, String> {
    let hint = "use HOST:PORT such as :9978, 127.0.0.1:9978 or [::1]:9978";
    if let Some(port) = s.strip_prefix(':') {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("invalid port in {s:?}: {hint}"))?;
        // Both stacks; where IPv6 is off the IPv4 address still serves.
        return Ok(vec![
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)),
            SocketAddr::from(([0, 0, 0, 0], port)),
        ]);
    }
    s.parse::<SocketAddr>()
        .map(|a| vec![a])
        .map_err(|_| format!("invalid listen address {s:?}: {hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Bounds;

    fn shared() -> Shared {
        let mut agg = Aggregator::new(
            vec![("postfix".into(), "postfix".into())],
            &Bounds::default(),
        );
        agg.sources[0].location = "/var/log/mail.log".into();
        Shared::for_tests(agg)
    }

    #[test]
    fn failures_is_served_checked_and_can_be_off() {
        let s = shared();
        let get = Method::GET;
        let json = route(&get, "/failures?format=json&class=5xx", None, &s);
        assert_eq!(json.status(), StatusCode::OK);
        assert_eq!(json.headers()[CONTENT_TYPE], "application/json");
        let page = route(&get, "/failures", None, &s);
        assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let bad = route(&get, "/failures?clas=5xx", None, &s);
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let off = Shared {
            agg: Counters::new(Aggregator::new(
                vec![("postfix".into(), "postfix".into())],
                &Bounds {
                    recent: crate::aggregate::RecentConfig {
                        keep: 0,
                        ..Default::default()
                    },
                    ..Bounds::default()
                },
            )),
            ..shared()
        };
        assert_eq!(
            route(&get, "/failures", None, &off).status(),
            StatusCode::NOT_FOUND
        );
        // The metrics path still answers with a query string.
        assert_eq!(
            route(&get, "/metrics?x=1", None, &s).status(),
            StatusCode::OK
        );
    }

    #[test]
    fn routes() {
        let s = shared();
        let get = Method::GET;
        assert_eq!(route(&get, "/-/healthy", None, &s).status(), StatusCode::OK);
        assert_eq!(
            route(&get, "/-/ready", None, &s).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        s.agg.lock().sources[0].state = SourceState::Following;
        assert_eq!(route(&get, "/-/ready", None, &s).status(), StatusCode::OK);
        assert_eq!(route(&get, "/", None, &s).status(), StatusCode::OK);
        s.agg.lock().sources[0].auto = Some(false);
        let page = status::page(&s);
        assert!(page.contains("auto: not yet detected"), "{page}");
        assert!(
            page.contains("held now: 0; refused since the start: 0 per_client, 0 global"),
            "{page}"
        );
        s.agg.lock().sources[0].auto = Some(true);
        assert!(status::page(&s).contains("postfix (auto: detected)"));
        assert_eq!(
            route(&get, "/nope", None, &s).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            route(&Method::POST, "/metrics", None, &s).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        let m = route(&get, "/metrics", None, &s);
        assert!(m.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let om = route(
            &get,
            "/metrics",
            Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
            &s,
        );
        assert!(om.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"));
    }

    #[test]
    fn scrapes_and_pages_have_their_own_lanes() {
        let get = Method::GET;
        for (method, path, want) in [
            (&get, "/metrics", Lane::Scrape),
            (&Method::HEAD, "/metrics", Lane::Scrape),
            (&get, "/-/ready", Lane::Scrape),
            (&get, "/", Lane::Page),
            (&get, "/failures", Lane::Page),
            (&get, "/-/healthy", Lane::Inline),
            (&get, "/nope", Lane::Inline),
            (&Method::POST, "/metrics", Lane::Inline),
        ] {
            assert_eq!(lane(method, path, "/metrics"), want, "{method} {path}");
        }
        assert_eq!(lane(&get, "/custom", "/custom"), Lane::Scrape);
    }

    #[test]
    fn an_ended_input_is_ready_and_says_so() {
        let s = shared();
        s.agg.lock().sources[0].state = SourceState::Ended;
        let r = route(&Method::GET, "/-/ready", None, &s);
        assert_eq!(r.status(), StatusCode::OK);
        let page = format!("{:?}", r.body());
        assert!(page.contains("end of input"), "{page}");
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(parse_listen_address(":9978").unwrap().len(), 2);
        assert_eq!(
            parse_listen_address("127.0.0.1:0").unwrap()[0].to_string(),
            "127.0.0.1:0"
        );
        assert!(parse_listen_address("localhost").is_err());
        assert!(parse_listen_address(":99999").is_err());
    }
}
