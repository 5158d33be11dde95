//! User-defined formats (regexes with named groups, from the configuration file): the formats
//! of the shipped example configurations, each line of the input read by each of them.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use smtp_status_exporter::aggregate::{Aggregator, Bounds, SourceId};
use smtp_status_exporter::config;
use smtp_status_exporter::parse::Parser;

const CONFIGS: [&str; 2] = [
    include_str!("../../config/haraka.yaml"),
    include_str!("../../config/relay-appliance.yaml"),
];

/// Compiled once: regex compilation would otherwise dominate every run.
fn parsers() -> &'static [Parser] {
    static PARSERS: OnceLock<Vec<Parser>> = OnceLock::new();
    PARSERS.get_or_init(|| {
        CONFIGS
            .iter()
            .flat_map(|text| {
                config::parse(text)
                    .expect("a shipped configuration is valid")
                    .compiled
            })
            .map(|f: Arc<_>| {
                Parser::Custom(smtp_status_exporter::parse::custom::CustomParser::new(f))
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    for parser in parsers() {
        // A fresh copy per input: what a new file gets.
        let mut parser = parser.clone();
        let bounds = Bounds {
            domains_max: 4,
            ..Bounds::default()
        };
        let mut agg = Aggregator::new(vec![("fuzz".into(), parser.mta().to_owned())], &bounds);
        let mut lines = 0u64;
        for line in data.split(|&b| b == b'\n') {
            let parsed = parser.parse(line);
            agg.record(SourceId(0), &parsed);
            lines += 1;
        }
        assert_eq!(agg.total_lines().iter().sum::<u64>(), lines);
    }
});
