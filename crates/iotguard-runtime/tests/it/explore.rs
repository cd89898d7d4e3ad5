//! `explore` on the committed fixtures (planted label errors, see
//! `testdata/zeek/gen_explore_fixture.py`): the Markdown against a golden file, the HTML page
//! self-contained with its correlation matrix and distribution plots, the label checks' exact
//! counts, their proposals accepted by the label audit and matching what it sets aside, and
//! bounded tables that say when they filled. On ../shared/data when present: the three known
//! label errors found on their own, with their counts.

use std::sync::Arc;

use iotguard_features::FeatureConfig;
use iotguard_runtime::audit::LabelAudit;
use iotguard_runtime::batch::BatchConfig;
use iotguard_runtime::dataset::build_dataset;
use iotguard_runtime::explore::{explore, Exploration, ExploreConfig};
use iotguard_runtime::input::Input;
use iotguard_runtime::report;

fn fixtures() -> Vec<Input> {
    [
        "zeek/explore_a.conn.log.labeled",
        "zeek/explore_b.conn.log.labeled",
    ]
    .iter()
    .map(|f| Input::File(iotguard_testkit::testdata(f)))
    .collect()
}

fn batch(audit: LabelAudit) -> BatchConfig {
    BatchConfig {
        threads: 1,
        label_audit: audit,
        ..BatchConfig::default()
    }
}

fn run(inputs: &[Input], config: &ExploreConfig) -> Exploration {
    explore(
        inputs,
        &batch(LabelAudit::default()),
        &FeatureConfig::default(),
        config,
        &Arc::default(),
        &mut |e| panic!("{e}"),
    )
    .unwrap()
    .0
}

/// Writes the proposals as `--suggest-audit` does, loads them as `--label-audit` does, builds
/// the training dataset with them and returns how many flows each rule set aside.
fn apply_proposals(inputs: &[Input], e: &Exploration) -> Vec<u64> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.json");
    std::fs::write(&path, serde_json::to_string_pretty(&e.proposals()).unwrap()).unwrap();
    let audit = LabelAudit::load(&path).unwrap();
    let built = build_dataset(
        inputs,
        &batch(audit),
        &FeatureConfig::default(),
        &Arc::default(),
        &mut |e| panic!("{e}"),
    )
    .unwrap();
    built.audited.iter().map(|a| a.flows).collect()
}

#[test]
fn explore_markdown_matches_golden() {
    let e = run(&fixtures(), &ExploreConfig::default());
    let md = report::explore_markdown(&e).replace(
        &*iotguard_testkit::testdata("zeek/").display().to_string(),
        "",
    );
    iotguard_testkit::assert_golden("report/explore_fixture.md", &md);
}

#[test]
fn the_checks_find_every_planted_error_with_exact_counts_and_the_audit_agrees() {
    let inputs = fixtures();
    let e = run(&inputs, &ExploreConfig::default());
    let found: Vec<(&str, &str, u64, bool, bool)> = e
        .checks
        .findings
        .iter()
        .map(|f| {
            (
                f.check.as_str(),
                f.host.as_str(),
                f.flows,
                f.proposal.is_some(),
                f.needs_review,
            )
        })
        .collect();
    // The beacon's host has 2 malicious flows and no labeled channel of its own: the beacon is
    // the likely C&C the labels missed, proposed without review.
    assert_eq!(
        found,
        [
            ("scan", "10.0.0.5", 150, true, false),
            ("beacon", "10.0.0.7", 120, true, false),
            ("look-alike", "10.0.0.9", 12, true, false),
            ("tuple label change", "10.0.0.8", 3, true, false),
        ]
    );
    let rules = e.proposals().rules;
    assert_eq!(rules[0].conn_state.as_deref(), Some("S0"));
    assert_eq!((rules[0].resp_p, rules[1].resp_p), (Some(23), Some(4444)));
    assert!(rules
        .iter()
        .all(|r| r.to == iotguard_flow::LabelClass::Other));
    // Each rule sets aside exactly the flows its finding counted.
    let flows: Vec<u64> = e.checks.findings.iter().map(|f| f.flows).collect();
    assert_eq!(apply_proposals(&inputs, &e), flows);
    // Explored again with the proposals applied, nothing is left to propose.
    let audited = explore(
        &inputs,
        &batch(e.proposals()),
        &FeatureConfig::default(),
        &ExploreConfig::default(),
        &Arc::default(),
        &mut |e| panic!("{e}"),
    )
    .unwrap()
    .0;
    assert!(
        audited.proposals().rules.is_empty(),
        "{:#?}",
        audited.checks.findings
    );
    assert_eq!(
        audited
            .label_audit
            .iter()
            .map(|a| a.flows)
            .collect::<Vec<_>>(),
        flows
    );
}

#[test]
fn a_beacon_from_a_host_whose_labels_name_its_channel_needs_review() {
    // Capture c: the infected device's C&C heartbeats (60, to one external address) are labeled
    // malicious; its heartbeat to its vendor's cloud (100 connections on 8883) benign.
    let e = run(
        &[Input::File(iotguard_testkit::testdata(
            "zeek/explore_c.conn.log.labeled",
        ))],
        &ExploreConfig::default(),
    );
    let [f, channel] = &e.checks.findings[..] else {
        panic!("{:#?}", e.checks.findings);
    };
    assert_eq!(
        (f.check.as_str(), f.host.as_str(), f.flows, f.needs_review),
        ("beacon", "10.0.0.11", 100, true)
    );
    assert!(f.proposal.is_some());
    assert!(
        f.evidence.iter().any(|l| l
            == "the host's labels already name a channel of its own: 60 answered malicious flows to the external address 198.51.100.90; this beacon may be a legitimate service (review it)"),
        "{:#?}",
        f.evidence
    );
    // Its 8 HTTP connections to the labeled channel's own address, labeled benign: found, for
    // review (a shared cloud address can carry both), with a rule naming exactly them.
    assert_eq!(
        (
            channel.check.as_str(),
            channel.host.as_str(),
            channel.flows,
            channel.needs_review
        ),
        ("channel", "10.0.0.11", 8, true)
    );
    assert_eq!(
        channel.summary,
        "benign flows to a labeled channel: 8 connections from 10.0.0.11 to 198.51.100.90:80/tcp, an external address that gets 60 of the host's answered malicious flows"
    );
    let rule = channel.proposal.as_ref().unwrap();
    assert_eq!(
        (rule.resp_h, rule.resp_p, rule.conn_state.as_deref()),
        (Some("198.51.100.90".parse().unwrap()), Some(80), None)
    );
    let inputs = [Input::File(iotguard_testkit::testdata(
        "zeek/explore_c.conn.log.labeled",
    ))];
    assert_eq!(apply_proposals(&inputs, &e), [100, 8]);
}

#[test]
fn summaries_and_features_are_exact_on_the_fixtures() {
    let e = run(&fixtures(), &ExploreConfig::default());
    assert_eq!(e.pooled.flows, 307 + 247);
    assert_eq!(e.pooled.classes["benign"].flows, 262 + 230);
    assert_eq!(e.pooled.classes["malicious"].detailed_labels["C&C"], 43);
    assert_eq!(e.inputs[0].classes["benign"].responders.n, 153);
    // Every row is sampled (the fixtures are smaller than the reservoirs).
    assert_eq!(e.sample.labeled_rows, 552);
    assert_eq!(e.sample.pooled_rows, 552);
    let c = e.correlation.as_ref().unwrap();
    assert_eq!(c.pearson.len(), c.features.len());
    assert_eq!(c.features.len() + e.constant.len(), e.features);
    for i in 0..c.features.len() {
        assert_eq!(c.spearman[i][i], Some(1.0));
        for j in 0..c.features.len() {
            assert_eq!(c.pearson[i][j], c.pearson[j][i]);
        }
    }
    // The IoT-23 layout has no local_orig: a constant (missing) feature.
    assert!(e.constant.iter().any(|k| k.feature == "local_orig"));
    let shift = e.shift.as_ref().unwrap();
    assert_eq!(shift.inputs.len(), 2);
    assert_eq!(e.distributions.len(), 12);
    assert_eq!(e.distributions[0].classes[0].class, "Benign");
    assert_eq!(e.distributions[0].classes[0].flows, 492);
}

#[test]
fn html_page_is_self_contained_with_the_matrix_and_distribution_plots() {
    let e = run(&fixtures(), &ExploreConfig::default());
    let html = report::explore_html(&e).unwrap();
    for banned in [
        "src=", "href=\"h", "<script", "<link", "<img", "url(", "@import",
    ] {
        assert!(!html.contains(banned), "the page holds {banned}");
    }
    let urls = html.matches("http://").count() + html.matches("https://").count();
    assert_eq!(
        urls,
        html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
    );
    assert!(html.contains("prefers-color-scheme: dark"));
    let mut ids: Vec<String> = report::EXPLORE_PLOT_IDS
        .iter()
        .map(|s| s.to_string())
        .collect();
    ids.extend((2..=e.distributions.len()).map(|i| format!("distribution-{i}")));
    ids.push("shift".into());
    assert_eq!(html.matches("<svg").count(), ids.len());
    for id in &ids {
        let at = html
            .find(&format!("<figure id=\"{id}\">\n<svg"))
            .unwrap_or_else(|| panic!("no plot {id}"));
        let svg = &html[at..at + html[at..].find("</svg>").unwrap()];
        assert!(
            svg.contains("<text") && svg.contains("<rect"),
            "{id} draws nothing"
        );
    }
    // The matrix: a row label per feature.
    let at = html.find("<figure id=\"correlation\">").unwrap();
    let svg = &html[at..at + html[at..].find("</svg>").unwrap()];
    let c = e.correlation.as_ref().unwrap();
    for f in &c.features {
        assert!(svg.contains(&format!(">\n{f}\n</text>")), "no row {f}");
    }
}

#[test]
fn full_tables_say_the_checks_were_partial_and_counts_stay_exact() {
    let config = ExploreConfig {
        pooled_rows: 50,
        stratum_rows: 20,
        max_strata: 3,
        max_hosts: 2,
        max_groups: 3,
        max_responders: 10,
        max_signatures: 10,
        max_tuples: 10,
        ..ExploreConfig::default()
    };
    let e = run(&fixtures(), &config);
    assert_eq!(e.pooled.flows, 554);
    assert_eq!(e.sample.pooled_rows, 50);
    assert!(e.sample.unsampled_rows > 0);
    assert!(!e.hosts.exact);
    assert_eq!(e.checks.partial.len(), 3, "{:?}", e.checks.partial);
    // The (partial) scan evidence says its responder count is a lower bound.
    for f in &e.checks.findings {
        assert!(f.check != "scan" || f.summary.contains("at least"), "{f:?}");
    }
}

#[test]
fn shared_data_the_three_known_label_errors_are_found_with_their_counts() {
    let Some(dir) = iotguard_testkit::shared_data("explore label checks") else {
        return;
    };
    let mut inputs: Vec<Input> = std::fs::read_dir(dir.join("iot23"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".labeled"))
        .map(Input::File)
        .collect();
    inputs.sort_by_key(|i| i.name());
    inputs.push(Input::File(
        dir.join("stratosphere/CTU-Normal-40-day1.conn.log.labeled"),
    ));
    let e = run(&inputs, &ExploreConfig::default());
    let proposals = e.proposals().rules;
    let got: Vec<(String, String, Option<u16>, Option<String>)> = proposals
        .iter()
        .map(|r| {
            (
                r.input.clone(),
                r.orig_h.unwrap().to_string(),
                r.resp_p,
                r.conn_state.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "CTU-IoT-Malware-Capture-42-1.conn.log.labeled".to_string(),
                "192.168.1.197".to_string(),
                Some(4975),
                None
            ),
            (
                "iot23-pool-dev.conn.log.labeled".to_string(),
                "192.168.1.198".to_string(),
                Some(23),
                Some("S0".to_string())
            ),
            (
                "CTU-IoT-Malware-Capture-34-1.conn.log.labeled".to_string(),
                "192.168.1.195".to_string(),
                Some(80),
                None
            ),
        ]
    );
    // 34-1's infected device's benign flows to its C&C server's port 80 (the channel's 6,706
    // malicious flows are on 6667): for review, as every channel finding.
    assert_eq!(proposals[2].resp_h, Some("185.244.25.235".parse().unwrap()));
    let review: Vec<bool> = e.checks.findings.iter().map(|f| f.needs_review).collect();
    assert_eq!(review, [false, false, true]);
    // The same flows bench/label-audit.json (written by hand from the pcap) sets aside.
    let by_hand =
        LabelAudit::load(&iotguard_testkit::repo_root().join("bench/label-audit.json")).unwrap();
    for r in &by_hand.rules {
        assert!(proposals.iter().any(|p| p.input == r.input
            && p.orig_h == r.orig_h
            && p.resp_h == r.resp_h
            && p.proto == r.proto
            && p.resp_p == r.resp_p
            && p.conn_state == r.conn_state
            && p.label == r.label));
    }
    assert_eq!(apply_proposals(&inputs, &e), [1_947, 19_967, 65]);
    let flows: Vec<u64> = e.checks.findings.iter().map(|f| f.flows).collect();
    assert_eq!(flows, [1_947, 19_967, 65]);
}
