//! Every log format of `parse::Format::ALL` (the first byte picks one, so a format added to the
//! list is fuzzed without a new target): the rest is split into lines, read by one parser (so
//! header-driven formats learn their columns from the input) and counted by an aggregator with
//! a small domain bound, whose exposition must encode. Checks what the exporter promises about
//! counting and labels (docs/counting.md, docs/metrics.md): every line lands in exactly one
//! result, labels stay bounded, and no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_status_exporter::aggregate::{Aggregator, Bounds, SourceId};
use smtp_status_exporter::expose::{self, BuildInfo};
use smtp_status_exporter::parse::{Format, Parsed, Parser};

/// Small, so that the fuzzer reaches the overflow into `other` quickly.
const DOMAINS_MAX: usize = 4;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let format = Format::ALL[usize::from(pick) % Format::ALL.len()];
    let mut parser = Parser::from(format);
    let bounds = Bounds {
        domains_max: DOMAINS_MAX,
        ..Bounds::default()
    };
    let mut agg = Aggregator::new(vec![("fuzz".into(), parser.mta().to_owned())], &bounds);
    let mut lines = 0u64;
    for line in rest.split(|&b| b == b'\n') {
        let parsed = parser.parse(line);
        if let Parsed::Event(smtp_status_exporter::parse::Event::Reply(r)) = &parsed {
            // A code is a label value only when it is a real reply code.
            if let Some(c) = r.code {
                assert!((200..600).contains(&c.get()), "basic code {c}");
            }
        }
        // The stateless entry point must agree with itself on lines that stand alone.
        let _ = format.parse(line);
        agg.record(SourceId(0), &parsed);
        lines += 1;
    }
    assert_eq!(agg.total_lines().iter().sum::<u64>(), lines);
    let mut domains = std::collections::BTreeSet::new();
    for (key, _) in agg.sorted_replies() {
        for (name, value) in agg.reply_labels(&key) {
            match name {
                "domain" => {
                    assert!(value.len() <= 255, "domain label of {} bytes", value.len());
                    domains.insert(value);
                }
                "code" => assert!(
                    value.is_empty()
                        || (value.len() == 3 && value.bytes().all(|b| b.is_ascii_digit())),
                    "code label {value:?}"
                ),
                "enhanced" => assert!(
                    value.is_empty()
                        || (value.len() <= 9
                            && value.bytes().all(|b| b.is_ascii_digit() || b == b'.')),
                    "enhanced label {value:?}"
                ),
                _ => assert!(
                    value.len() <= 64 && !value.contains(['"', '\\', '\n']),
                    "{name} label {value:?}"
                ),
            }
        }
    }
    // `other` and the empty domain come on top of the bound.
    assert!(
        domains.len() <= DOMAINS_MAX + 2,
        "{} domains: {domains:?}",
        domains.len()
    );
    let families = expose::families(&agg, &BuildInfo::CURRENT);
    for f in [expose::Format::Prometheus, expose::Format::OpenMetrics] {
        expose::encode(&families, f).expect("the exposition encodes");
    }
});
