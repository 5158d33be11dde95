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

use crate::aggregate::{Aggregator, Counters, LineResult, SourceState};
use crate::codes;
use crate::expose::{self, BuildInfo};

// --web.config.file (TLS, basic auth) and the bounds on connections.
pub mod auth;
pub mod failures;
pub mod limits;
pub mod server;
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
}

type Resp = Response<Full<Bytes>>;

fn text(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
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
    let agg = shared.agg.lock();
    match path {
        "/" => text(
            StatusCode::OK,
            "text/html; charset=utf-8",
            landing_page(&agg, shared),
        ),
        "/-/healthy" => text(StatusCode::OK, "text/plain; charset=utf-8", "OK\n"),
        "/-/ready" => {
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
    let agg = shared.agg.lock();
    if !agg.recent.enabled() {
        return text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "/failures is turned off in the configuration (failures.enabled: false)\n",
        );
    }
    if q.json() {
        text(StatusCode::OK, "application/json", failures::json(&agg, &q))
    } else {
        text(
            StatusCode::OK,
            "text/html; charset=utf-8",
            failures::html(&agg, &q, now),
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

fn landing_page(agg: &Aggregator, shared: &Shared) -> String {
    let b = &shared.build;
    let mut h = String::with_capacity(4096);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>SMTP status exporter</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:0.2em 0.6em;text-align:left}}</style></head><body>\
         <h1>SMTP status exporter</h1><p>Version {} (revision {}, rustc {})</p>\
         <ul><li><a href=\"{}\">Metrics</a></li><li><a href=\"/-/healthy\">Health</a></li>\
         <li><a href=\"/-/ready\">Readiness</a></li>\
         <li><a id=\"failures\" href=\"failures\">Recent failures</a>: which messages, and why</li></ul><h2>Sources</h2>\
         <table><tr><th>source</th><th>mta</th><th>reads</th><th>state</th><th>lines counted</th>\
         <th>ignored</th><th>unrecognised</th></tr>",
        html_escape(b.version),
        html_escape(b.revision),
        html_escape(b.rustc),
        html_escape(&shared.telemetry_path),
    );
    for (i, s) in agg.sources_by_id() {
        let state = agg
            .state_of(i)
            .map(SourceState::describe)
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&s.name),
            mta_cell(s),
            html_escape(&s.location),
            html_escape(&state),
            s.lines(LineResult::Counted),
            s.lines(LineResult::Ignored),
            s.lines(LineResult::Unrecognised)
        );
    }
    h.push_str("</table>");
    queues_section(&mut h, &shared.queues);
    providers_table(&mut h, agg);
    stages_table(&mut h, agg);
    h.push_str("<h2>Codes seen</h2>");
    codes_table(&mut h, agg);
    h.push_str("</body></html>\n");
    h
}

/// One line per queue read: what it holds, or why it cannot be read.
fn queues_section(h: &mut String, queues: &crate::queue::Queues) {
    if queues.is_empty() {
        return;
    }
    h.push_str("<h2>Queues</h2><ul>");
    for r in &queues.readers {
        let s = &r.spec;
        let state = match r.last() {
            None => "not read yet (read at each scrape)".to_owned(),
            Some(Ok(reading)) => {
                let per: Vec<String> = reading
                    .queues
                    .iter()
                    .map(|q| format!("{} {}", q.queue, q.messages))
                    .collect();
                format!("{} {}: {}", reading.total(), s.kind.unit(), per.join(", "))
            }
            Some(Err(e)) => format!("cannot be read: {e}"),
        };
        let _ = write!(
            h,
            "<li>{} ({}): {} &mdash; {} read error(s) so far</li>",
            html_escape(&s.source),
            html_escape(&s.kind.describe()),
            html_escape(&state),
            r.errors()
        );
    }
    h.push_str("</ul>");
}

/// A relative link to `/failures` filtered by `filters`.
fn failures_link(filters: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::from("failures?"));
    q.extend_pairs(filters);
    q.finish()
}

/// Who refused: outbound replies by provider, the share deferred and the top failure code.
fn providers_table(h: &mut String, agg: &Aggregator) {
    let rows = crate::expose::summary::by_provider(agg);
    if rows.is_empty() {
        return;
    }
    h.push_str(
        "<h2>Outbound by provider</h2><table><tr><th>provider</th><th>delivered</th>\
         <th>deferred</th><th>bounced</th><th>deferred %</th><th>top failure code</th></tr>",
    );
    for p in rows {
        let _ = write!(
            h,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&failures_link(&[("direction", "outbound"), ("provider", &p.name)])),
            html_escape(if p.name.is_empty() {
                "(local)"
            } else {
                &p.name
            }),
            p.delivered,
            p.deferred,
            p.bounced,
            p.deferred_percent()
                .map_or_else(|| "-".to_owned(), |x| format!("{x:.1}")),
            html_escape(
                &p.top_failure
                    .map(crate::expose::summary::code_with_meaning)
                    .unwrap_or_default()
            ),
        );
    }
    h.push_str("</table>");
}

/// At which step of the SMTP dialogue failures came, where the log says it.
fn stages_table(h: &mut String, agg: &Aggregator) {
    let rows = crate::expose::summary::by_stage(agg);
    if rows.is_empty() {
        return;
    }
    h.push_str(
        "<h2>Failures by stage of the SMTP dialogue</h2><table><tr><th>direction</th>\
         <th>stage</th><th>failures</th></tr>",
    );
    for (d, st, n) in rows {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td><a href=\"{}\">{n}</a></td></tr>",
            d.as_str(),
            crate::expose::summary::stage_name(st),
            html_escape(&failures_link(&[
                ("direction", d.as_str()),
                ("stage", st.as_str())
            ])),
        );
    }
    h.push_str("</table>");
}

/// The live table of the codes seen, most frequent first, with the knowledge base's meaning
/// and what to do: readable without Grafana.
fn codes_table(h: &mut String, agg: &Aggregator) {
    let mut by_code = std::collections::BTreeMap::new();
    for (k, v) in &agg.replies {
        *by_code.entry((k.code, k.enhanced)).or_insert(0u64) += v.n;
    }
    if by_code.is_empty() {
        h.push_str("<p>No replies counted yet.</p>");
        return;
    }
    let mut rows: Vec<_> = by_code.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    h.push_str(
        "<table><tr><th>replies</th><th>class</th><th>code</th><th>enhanced</th>\
         <th>meaning</th><th>what to do</th></tr>",
    );
    for ((code, enh), n) in rows {
        let d = codes::describe_reply(code, enh);
        let _ = write!(
            h,
            "<tr><td>{n}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            codes::class_label(code, enh),
            code.map(|c| c.to_string()).unwrap_or_default(),
            enh.map(|c| c.to_string()).unwrap_or_default(),
            html_escape(&d.meaning),
            html_escape(&d.action),
        );
    }
    h.push_str("</table>");
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

/// The `mta` column: the format, and under `--log.format auto` whether it was detected.
fn mta_cell(s: &crate::aggregate::SourceStats) -> String {
    match s.auto {
        None => s.mta().to_owned(),
        Some(true) => format!("{} (auto: detected)", s.mta()),
        Some(false) => "auto: not yet detected (no line any format claims)".to_owned(),
    }
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
        Shared {
            agg: Counters::new(agg),
            telemetry_path: "/metrics".into(),
            build: BuildInfo::CURRENT,
            web: Arc::default(),
            state: None,
            queues: Arc::default(),
        }
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
        let page = landing_page(&s.agg.lock(), &s);
        assert!(page.contains("auto: not yet detected"), "{page}");
        s.agg.lock().sources[0].auto = Some(true);
        assert!(landing_page(&s.agg.lock(), &s).contains("postfix (auto: detected)"));
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
