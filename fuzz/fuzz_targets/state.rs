//! The state file loader: JSON of counters and read positions, restored into an aggregator
//! (whose sources need not match the file's), then saved and exposed again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_status_exporter::aggregate::{Aggregator, Bounds};
use smtp_status_exporter::expose::{self, BuildInfo};

fuzz_target!(|data: &[u8]| {
    let Ok(snap) = smtp_status_exporter::state::parse(data) else {
        return;
    };
    let bounds = Bounds {
        domains_max: 4,
        ..Bounds::default()
    };
    let mut agg = Aggregator::new(
        vec![
            ("postfix".into(), "postfix".into()),
            ("exim".into(), "exim".into()),
        ],
        &bounds,
    );
    if agg.restore(&snap).is_ok() {
        let again = agg.snapshot();
        let _ = serde_json::to_vec(&again);
        let families = expose::families(&agg, &BuildInfo::CURRENT);
        expose::encode(&families, expose::Format::Prometheus).expect("the exposition encodes");
    }
});
