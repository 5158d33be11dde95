//! New Postfix lines made from real ones of tests/fixtures/postfix/e2e-run.log, for the
//! alerting and dashboards end-to-end tests: a delivery and a RCPT TO deferral, each with a
//! queue id and recipient of its own, relayed to Google's MX host for `gmail.com`.

// Test code: a fixture without the lines it needs is a failed test.
#![allow(clippy::expect_used)]

use std::fs;
use std::path::Path;

/// Real Postfix lines of tests/fixtures/postfix/e2e-run.log, made into new ones (the
/// dashboards' end-to-end test feeds them too).
pub struct Lines {
    delivered: String,
    deferred: String,
}

/// A recipient domain whose mail goes to a provider's MX host, and that host as Postfix logs
/// it (`relay=gmail-smtp-in.l.google.com[142.250.102.27]:25`): the fixture's sink on loopback
/// becomes Google's MX, so that the `provider` label is `google` from the relay host as well as
/// from the domain.
pub const AT_GOOGLE: (&str, &str, &str) = (
    "gmail.com",
    "gmail-smtp-in.l.google.com[142.250.102.27]",
    "25",
);

impl Lines {
    pub fn from_fixture() -> Lines {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/postfix/e2e-run.log");
        let log = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let find = |what: &[&str]| {
            log.lines()
                .find(|l| what.iter().all(|w| l.contains(w)))
                .unwrap_or_else(|| panic!("no line with {what:?} in the fixture"))
                .to_owned()
        };
        Lines {
            delivered: find(&["status=sent (250 2.0.0", "@d2.test>"]),
            deferred: find(&[
                "status=deferred",
                "said: 421 4.7.0",
                "@d1.test>",
                "(in reply to RCPT TO command)",
            ]),
        }
    }

    /// The template with a queue id and recipient of its own: `n`, at `domain`; at
    /// [`AT_GOOGLE`]'s domain, relayed to its MX host.
    fn make(template: &str, n: u32, domain: &str) -> String {
        let qid = template
            .split("]: ")
            .nth(1)
            .and_then(|r| r.split(':').next())
            .expect("a queue id");
        let rcpt = template
            .split("to=<")
            .nth(1)
            .and_then(|r| r.split('>').next())
            .expect("a recipient");
        let line = template
            .replace(qid, &format!("{:011X}", 0xE2E0_0000_u64 + u64::from(n)))
            .replace(rcpt, &format!("alert-test-{n}@{domain}"));
        let (google, mx, port) = AT_GOOGLE;
        if domain != google {
            return line;
        }
        // relay=127.0.0.3[127.0.0.3]:43289, and `host 127.0.0.3[127.0.0.3] said` in a reply.
        let relay = line
            .split("relay=")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .expect("a relay");
        let (host, _) = relay.rsplit_once(':').expect("relay host:port");
        line.replace(relay, &format!("{mx}:{port}"))
            .replace(host, mx)
    }

    pub fn delivered(&self, n: u32, domain: &str) -> String {
        Lines::make(&self.delivered, n, domain)
    }

    pub fn deferred(&self, n: u32, domain: &str) -> String {
        Lines::make(&self.deferred, n, domain)
    }
}
