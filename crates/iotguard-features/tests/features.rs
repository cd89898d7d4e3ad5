//! End-to-end properties of the extractor: schema, streaming = batch on a real capture,
//! determinism, no identity leaks, and the behaviours the host features exist for (beacons,
//! scans, SYN floods), plus bounded memory.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use iotguard_features::{FeatureConfig, FeatureExtractor, FeatureSchema};
use iotguard_flow::{
    ConnState, FlowReader, FlowRecord, Interval, Protocol, ReadOptions, Timestamp,
};

const SEC: i64 = 1_000_000_000;

fn capture(test: &str, name: &str) -> Option<Vec<FlowRecord>> {
    let dir = iotguard_testkit::shared_data(test)?;
    let path = dir.join("iot23").join(name);
    let file = File::open(&path).expect("open capture");
    let reader = FlowReader::open(name, file, &ReadOptions::default()).expect("read capture");
    let recs: Vec<FlowRecord> = reader.map(|r| r.expect("record")).collect();
    assert!(recs.len() > 1000, "{} flows in {name}", recs.len());
    Some(recs)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn col(schema: &FeatureSchema, name: &str) -> usize {
    schema
        .index_of(name)
        .unwrap_or_else(|| panic!("no feature {name}"))
}

fn flow(orig: [u8; 4], resp: [u8; 4], resp_p: u16, ts: i64) -> FlowRecord {
    FlowRecord {
        ts: Timestamp(ts),
        uid: Some("Cabc".into()),
        orig_h: Some(IpAddr::V4(Ipv4Addr::from(orig))),
        orig_p: Some(40000),
        resp_h: Some(IpAddr::V4(Ipv4Addr::from(resp))),
        resp_p: Some(resp_p),
        proto: Protocol::Tcp,
        duration: Some(Interval(SEC / 10)),
        orig_bytes: Some(120),
        resp_bytes: Some(800),
        conn_state: Some(ConnState::SF),
        history: Some("ShADadFf".into()),
        orig_pkts: Some(6),
        orig_ip_bytes: Some(440),
        resp_pkts: Some(5),
        resp_ip_bytes: Some(1060),
        ..FlowRecord::default()
    }
}

#[test]
fn schema_names_are_unique_and_match_the_vector_length() {
    let mut x = FeatureExtractor::new(FeatureConfig::default());
    let s = &x.schema().clone();
    let mut names = s.names.clone();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), s.len());
    assert_eq!(x.dim(), s.len());
    assert_eq!(x.extract_all([&FlowRecord::default()]).len(), s.len());
    assert!(s.index_of("orig_host.rate_10s").is_some());
    assert!(s.index_of("resp_host.peers_10m").is_some());
    // Horizons change names and the fingerprint; memory bounds do not.
    let other = FeatureExtractor::new(FeatureConfig {
        horizons_secs: vec![1.0, 30.0],
        ..FeatureConfig::default()
    });
    assert_ne!(other.schema().fingerprint(), s.fingerprint());
    let capped = FeatureExtractor::new(FeatureConfig {
        max_hosts: 10,
        ..FeatureConfig::default()
    });
    assert_eq!(capped.schema().fingerprint(), s.fingerprint());
    let json = serde_json::to_string(s).unwrap();
    assert_eq!(&serde_json::from_str::<FeatureSchema>(&json).unwrap(), s);
}

#[test]
fn streaming_equals_batch_on_a_real_capture() {
    let Some(recs) = capture(
        "streaming_equals_batch_on_a_real_capture",
        "CTU-IoT-Malware-Capture-34-1.conn.log.labeled",
    ) else {
        return;
    };
    let config = FeatureConfig {
        max_hosts: 64, // small enough that eviction happens on this capture
        ..FeatureConfig::default()
    };
    let batch = FeatureExtractor::new(config.clone()).extract_all(&recs);
    let mut x = FeatureExtractor::new(config);
    let dim = x.dim();
    let mut row = vec![f32::from_bits(0x7fc0_dead); dim]; // a dirty buffer: every cell is written
    let mut streamed = Vec::with_capacity(batch.len());
    for r in &recs {
        row.fill(f32::from_bits(0x7fc0_dead));
        x.extract(r, &mut row);
        streamed.extend_from_slice(&row);
    }
    assert_eq!(streamed.len(), recs.len() * dim);
    assert!(
        bits(&streamed) == bits(&batch),
        "streaming and batch differ"
    );
    assert!(!streamed.iter().any(|v| v.to_bits() == 0x7fc0_dead));
    assert!(streamed.iter().all(|v| !v.is_infinite()));
}

#[test]
fn extraction_is_deterministic_across_runs_and_hash_seeds() {
    let Some(recs) = capture(
        "extraction_is_deterministic_across_runs_and_hash_seeds",
        "CTU-IoT-Malware-Capture-42-1.conn.log.labeled",
    ) else {
        return;
    };
    // Each extractor's hash maps get their own random seed.
    let a = FeatureExtractor::new(FeatureConfig::default()).extract_all(&recs);
    let b = FeatureExtractor::new(FeatureConfig::default()).extract_all(&recs);
    assert!(bits(&a) == bits(&b));
    // A spread is NaN exactly when its mean is (no sample), never a silent 0.
    let x = FeatureExtractor::new(FeatureConfig::default());
    let s = x.schema();
    for (i, name) in s.names.iter().enumerate() {
        let Some(mean_name) = name
            .contains("_std_")
            .then(|| name.replace("_std_", "_mean_"))
        else {
            continue;
        };
        let j = col(s, &mean_name);
        for row in a.chunks(s.len()) {
            assert_eq!(row[i].is_nan(), row[j].is_nan(), "{name} vs {mean_name}");
        }
    }
}

/// Maps an address to another of the same family and class (unicast stays unicast).
fn remap(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V4(v4) if v4.is_multicast() || v4.is_broadcast() => a,
        IpAddr::V4(v4) => {
            let x = u32::from(v4).wrapping_mul(2_654_435_761) | 1;
            let y = 0x0a00_0000 | (x & 0x00ff_ffff); // 10.0.0.0/8, never multicast
            IpAddr::V4(Ipv4Addr::from(y))
        }
        IpAddr::V6(v6) if v6.is_multicast() => a,
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) ^ 0x1234_5678)),
    }
}

#[test]
fn addresses_uid_and_absolute_time_do_not_leak() {
    let Some(recs) = capture(
        "addresses_uid_and_absolute_time_do_not_leak",
        "CTU-IoT-Malware-Capture-34-1.conn.log.labeled",
    ) else {
        return;
    };
    let recs = &recs[..5000];
    // The same traffic from other addresses (a bijection per family), other uids, and three years
    // and 0.123456789 s later gives the same vectors, flow by flow and in sequence.
    let shift = 3 * 365 * 86_400 * SEC + 123_456_789;
    let moved: Vec<FlowRecord> = recs
        .iter()
        .map(|r| FlowRecord {
            ts: Timestamp(r.ts.0 + shift),
            uid: Some("CXXXXXXXXXXXXXXX".into()),
            orig_h: r.orig_h.map(remap),
            resp_h: r.resp_h.map(remap),
            ..r.clone()
        })
        .collect();
    let x = FeatureExtractor::new(FeatureConfig::default());
    let schema = x.schema().clone();
    let dim = schema.len();
    let a = FeatureExtractor::new(FeatureConfig::default()).extract_all(recs);
    let b = FeatureExtractor::new(FeatureConfig::default()).extract_all(&moved);
    // The distinct-count sketches hash addresses, so hash collisions (and only they) may differ.
    let sketch: Vec<bool> = schema.names.iter().map(|n| n.contains(".peers_")).collect();
    // `dst.public` says whether the responder is a public address, a class this remap (into
    // 10.0.0.0/8) does not keep: it is not compared.
    let class = col(&schema, "dst.public");
    let mut sketch_diffs = 0usize;
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        if i % dim != class && x.to_bits() != y.to_bits() {
            let name = &schema.names[i % dim];
            assert!(sketch[i % dim], "row {} {name}: {x} vs {y}", i / dim);
            assert!(
                (x - y).abs() <= 0.25 * x.abs().max(y.abs()) + 1.5,
                "{name}: {x} vs {y}"
            );
            sketch_diffs += 1;
        }
    }
    let sketch_values = a.len() / dim * sketch.iter().filter(|&&s| s).count();
    assert!(
        sketch_diffs * 10 < sketch_values,
        "{sketch_diffs} of {sketch_values} sketch values differ"
    );
    // Without touching addresses, a whole sequence is bit-identical.
    let shifted: Vec<FlowRecord> = recs
        .iter()
        .map(|r| FlowRecord {
            ts: Timestamp(r.ts.0 + shift),
            uid: None,
            ..r.clone()
        })
        .collect();
    let c = FeatureExtractor::new(FeatureConfig::default()).extract_all(&shifted);
    assert!(
        bits(&a) == bits(&c),
        "a sequence's vectors depend on uid or absolute time"
    );
    for (r, m) in recs.iter().zip(&moved).take(500) {
        let mut a = FeatureExtractor::new(FeatureConfig::default()).extract_all([r]);
        let mut b = FeatureExtractor::new(FeatureConfig::default()).extract_all([m]);
        (a[class], b[class]) = (0.0, 0.0);
        assert!(
            bits(&a) == bits(&b),
            "a flow's vector depends on identity or absolute time"
        );
    }
}

fn last_value(x: &mut FeatureExtractor, flows: &[FlowRecord], name: &str) -> f32 {
    let i = col(x.schema(), name);
    let rows = x.extract_all(flows);
    rows[rows.len() - x.dim() + i]
}

#[test]
fn a_beacon_has_regular_gaps_and_random_traffic_does_not() {
    let beacon: Vec<FlowRecord> = (0..200)
        .map(|i| {
            flow(
                [10, 0, 0, 2],
                [203, 0, 113, 9],
                443,
                1000 * SEC + i * 30 * SEC,
            )
        })
        .collect();
    // Exponential gaps with the same 30 s mean, from a fixed LCG.
    let mut state = 12345u64;
    let mut t = 1000 * SEC;
    let random: Vec<FlowRecord> = (0..200)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let u = ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            t += (-u.ln() * 30.0 * 1e9) as i64;
            flow([10, 0, 0, 3], [203, 0, 113, 9], 443, t)
        })
        .collect();
    let cfg = FeatureConfig::default;
    let cv_beacon = last_value(
        &mut FeatureExtractor::new(cfg()),
        &beacon,
        "orig_host.gap_cv_10m",
    );
    let cv_random = last_value(
        &mut FeatureExtractor::new(cfg()),
        &random,
        "orig_host.gap_cv_10m",
    );
    let mean = last_value(
        &mut FeatureExtractor::new(cfg()),
        &beacon,
        "orig_host.gap_mean_10m",
    );
    assert!(cv_beacon < 0.01, "beacon cv {cv_beacon}");
    assert!(cv_random > 0.5, "random cv {cv_random}");
    assert!((mean - 30.0).abs() < 1e-3, "beacon gap mean {mean}");
}

#[test]
fn a_scan_raises_distinct_peers_and_ports() {
    // Normal: one host talks to 3 servers on 443, 100 flows over 10 s.
    let normal: Vec<FlowRecord> = (0..100)
        .map(|i| {
            flow(
                [10, 0, 0, 2],
                [203, 0, 113, 1 + (i % 3) as u8],
                443,
                i * SEC / 10,
            )
        })
        .collect();
    // Horizontal scan: 100 addresses on port 23 in 10 s.
    let scan: Vec<FlowRecord> = (0..100)
        .map(|i| flow([10, 0, 0, 4], [198, 51, 100, i as u8], 23, i * SEC / 10))
        .collect();
    // Vertical scan: one target, 100 ports.
    let vscan: Vec<FlowRecord> = (0..100)
        .map(|i| {
            flow(
                [10, 0, 0, 5],
                [203, 0, 113, 7],
                1000 + i as u16,
                i * SEC / 10,
            )
        })
        .collect();
    let cfg = FeatureConfig::default;
    let get = |f: &[FlowRecord], n: &str| last_value(&mut FeatureExtractor::new(cfg()), f, n);
    let (p_normal, p_scan) = (
        get(&normal, "orig_host.peers_1m"),
        get(&scan, "orig_host.peers_1m"),
    );
    assert!(
        p_normal < 4.0 && p_scan > 60.0,
        "peers {p_normal} vs {p_scan}"
    );
    let (q_normal, q_vscan) = (
        get(&normal, "resp_host.ports_1m"),
        get(&vscan, "resp_host.ports_1m"),
    );
    assert!(
        q_normal < 1.5 && q_vscan > 60.0,
        "ports {q_normal} vs {q_vscan}"
    );
    assert!(get(&vscan, "orig_host.peers_1m") < 1.5);
}

#[test]
fn a_syn_flood_raises_the_failed_share() {
    let mut flows: Vec<FlowRecord> = (0..50)
        .map(|i| flow([10, 0, 0, 2], [203, 0, 113, 1], 443, i * SEC))
        .collect();
    let base = 50 * SEC;
    flows.extend((0..500).map(|i| FlowRecord {
        conn_state: Some(ConnState::S0),
        history: Some("S".into()),
        resp_bytes: Some(0),
        resp_pkts: Some(0),
        resp_ip_bytes: Some(0),
        orig_bytes: Some(0),
        orig_pkts: Some(1),
        orig_ip_bytes: Some(40),
        ..flow([10, 0, 0, 2], [203, 0, 113, 1], 80, base + i * SEC / 100)
    }));
    let mut x = FeatureExtractor::new(FeatureConfig::default());
    let rows = x.extract_all(&flows);
    let s = x.schema();
    let at = |row: usize, n: &str| rows[row * x.dim() + col(s, n)];
    assert_eq!(at(49, "orig_host.failed_share_1s"), 0.0);
    assert!(at(549, "orig_host.failed_share_1s") > 0.99);
    assert!(at(549, "resp_host.failed_share_10s") > 0.9);
    assert!(
        at(549, "orig_host.rate_1s") > 50.0,
        "rate {}",
        at(549, "orig_host.rate_1s")
    );
    assert!(at(49, "orig_host.rate_1s") < 2.0);
}

#[test]
fn a_million_hosts_keep_the_tables_at_their_cap() {
    let cap = 10_000;
    let mut x = FeatureExtractor::new(FeatureConfig {
        max_hosts: cap,
        ..FeatureConfig::default()
    });
    let mut row = vec![0f32; x.dim()];
    for i in 0..1_000_000u32 {
        let mut r = flow([0; 4], [0; 4], 80, i64::from(i) * 1_000_000);
        r.orig_h = Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)));
        r.resp_h = Some(IpAddr::V4(Ipv4Addr::from(0xc000_0000 + i)));
        x.extract(&r, &mut row);
        if i % 100_000 == 0 {
            assert!(x.host_counts().0 <= cap && x.host_counts().1 <= cap);
        }
    }
    assert_eq!(x.host_counts(), (cap, cap));
    assert_eq!(x.host_slots(), (cap, cap));
}

#[test]
fn idle_hosts_are_dropped_after_the_timeout() {
    let mut x = FeatureExtractor::new(FeatureConfig {
        idle_timeout_secs: 60.0,
        ..FeatureConfig::default()
    });
    let mut row = vec![0f32; x.dim()];
    x.extract(&flow([10, 0, 0, 1], [10, 0, 0, 2], 80, 0), &mut row);
    x.extract(&flow([10, 0, 0, 3], [10, 0, 0, 4], 80, 30 * SEC), &mut row);
    assert_eq!(x.host_counts(), (2, 2));
    x.extract(&flow([10, 0, 0, 3], [10, 0, 0, 4], 80, 61 * SEC), &mut row);
    assert_eq!(x.host_counts(), (1, 1));
    // A returning host starts fresh: no previous gap.
    x.extract(&flow([10, 0, 0, 1], [10, 0, 0, 2], 80, 62 * SEC), &mut row);
    assert!(row[col(x.schema(), "orig_host.gap_s")].is_nan());
}

#[test]
fn missing_addresses_give_nan_host_features() {
    let mut x = FeatureExtractor::new(FeatureConfig::default());
    let mut r = flow([10, 0, 0, 1], [10, 0, 0, 2], 80, 0);
    r.orig_h = None;
    let row = x.extract_all([&r]);
    let s = x.schema();
    assert!(row[col(s, "orig_host.rate_1s")].is_nan());
    assert!(!row[col(s, "resp_host.rate_1s")].is_nan());
    assert_eq!(x.host_counts(), (0, 1));
}

#[test]
fn extreme_timestamps_neither_panic_nor_make_infinities() {
    let mut x = FeatureExtractor::new(FeatureConfig::default());
    let mut row = vec![0f32; x.dim()];
    for ts in [0, i64::MAX, i64::MIN, i64::MAX, 1, i64::MIN] {
        x.extract(&flow([10, 0, 0, 1], [10, 0, 0, 2], 80, ts), &mut row);
        let s = x.schema();
        for (v, n) in row.iter().zip(&s.names) {
            assert!(!v.is_infinite(), "{n} = {v} at ts {ts}");
        }
    }
}

#[test]
fn one_far_future_timestamp_does_not_keep_evicting_hosts() {
    let mut x = FeatureExtractor::new(FeatureConfig::default());
    let mut row = vec![0f32; x.dim()];
    let gap = col(x.schema(), "orig_host.gap_s");
    x.extract(&flow([10, 0, 0, 1], [10, 0, 0, 2], 80, 0), &mut row);
    x.extract(
        &flow([10, 0, 0, 9], [10, 0, 0, 8], 80, 100 * 365 * 86_400 * SEC),
        &mut row,
    );
    x.extract(&flow([10, 0, 0, 1], [10, 0, 0, 2], 80, SEC), &mut row);
    x.extract(&flow([10, 0, 0, 1], [10, 0, 0, 2], 80, 2 * SEC), &mut row);
    assert_eq!(row[gap], 1.0, "the host kept its state");
    x.reset();
    assert_eq!(x.host_counts(), (0, 0));
    x.extract(&flow([10, 0, 0, 1], [10, 0, 0, 2], 80, 3 * SEC), &mut row);
    assert!(row[gap].is_nan());
}

#[test]
fn the_extractor_can_move_to_another_thread() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FeatureExtractor>();
    assert_send_sync::<FeatureSchema>();
}

#[test]
fn batches_in_chunks_equal_one_batch_on_simulated_traffic() {
    let sim = iotguard_sim::Simulator::new(iotguard_sim::SimConfig::default()).unwrap();
    let flows: Vec<FlowRecord> = sim.flows().take(20_000).collect();
    let whole = FeatureExtractor::new(FeatureConfig::default()).extract_all(&flows);
    let mut x = FeatureExtractor::new(FeatureConfig::default());
    let mut chunked = Vec::new();
    for chunk in flows.chunks(777) {
        chunked.extend(x.extract_all(chunk));
    }
    assert!(bits(&whole) == bits(&chunked));
    assert!(whole.iter().all(|v| !v.is_infinite()));
}

#[test]
fn untimed_flows_have_missing_host_features_and_leave_the_tables_alone() {
    let mut x = FeatureExtractor::new(FeatureConfig::default());
    let schema = x.schema().clone();
    let host_start = col(&schema, "orig_host.gap_s");
    let untimed = FlowRecord {
        untimed: true,
        ..flow([10, 0, 0, 1], [10, 0, 0, 2], 80, 0)
    };
    let v = x.extract_all([&untimed, &untimed]);
    let (first, second) = v.split_at(schema.len());
    // Everything kept over time is missing: host context, pairs, destinations, ports. What
    // the flow alone says (its destination is local, its service fits its port) is there.
    let stateless = |n: &str| n == "dst.public" || n.starts_with("service_port.");
    for row in [first, second] {
        for (i, name) in schema.names.iter().enumerate().skip(host_start) {
            assert_eq!(row[i].is_nan(), !stateless(name), "{name}: {}", row[i]);
        }
        // The per-flow features are there.
        assert!(row[..host_start].iter().any(|f| !f.is_nan()));
        assert_eq!(bits(&row[..host_start]), bits(&first[..host_start]));
    }
    assert_eq!(x.host_counts(), (0, 0));
    assert_eq!(x.context_counts(), [0, 0, 0]);
}

#[test]
fn a_native_set_appends_the_datasets_columns_and_needs_them() {
    use iotguard_flow::NativeFamily;
    let file = File::open(iotguard_testkit::testdata("ton-iot/ton_iot_train_test.csv")).unwrap();
    let recs: Vec<FlowRecord> = FlowReader::open("ton", file, &ReadOptions::default())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let common = FeatureExtractor::new(FeatureConfig::default());
    let mut native = FeatureExtractor::new(FeatureConfig {
        native: Some(NativeFamily::TonIot),
        ..FeatureConfig::default()
    });
    let width = NativeFamily::TonIot.width();
    assert_eq!(native.dim(), common.dim() + width);
    assert_ne!(native.schema().fingerprint(), common.schema().fingerprint());
    assert_eq!(
        native.schema().names[common.dim()..],
        NativeFamily::TonIot.feature_names()[..]
    );
    let rows = native.extract_all(&recs);
    let dns = &rows[2 * native.dim()..3 * native.dim()];
    let qtype = col(native.schema(), "native.dns_qtype");
    assert_eq!(dns[qtype], 1.0);
    assert!(!native.lacks_native(&recs[0]));
    // A Zeek flow has none of them: all missing, and flagged for refusal.
    let zeek = flow([10, 0, 0, 1], [10, 0, 0, 2], 80, SEC);
    assert!(native.lacks_native(&zeek));
    assert!(!common.lacks_native(&zeek));
    let row = native.extract_all([&zeek]);
    assert!(row[common.dim()..].iter().all(|v| v.is_nan()));
    assert!(native
        .native_requirement()
        .unwrap()
        .contains("dns_qclass, dns_qtype"));
}
