//! The exploration's tables, built once from an [`Exploration`] and laid out by both the
//! Markdown and the HTML renderers.

use std::collections::BTreeMap;

use super::super::count;
use crate::explore::{ClassSummary, Count, Exploration, InputSummary, CLASSES};
use crate::report::tables::Table;

fn strings(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|s| s.to_string()).collect()
}

/// Returns an input's name without its folders.
pub(crate) fn short(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

fn hosts(c: Count) -> String {
    if c.exact {
        count(c.n)
    } else {
        format!("≥ {}", count(c.n))
    }
}

fn date(t: &Option<String>) -> String {
    // `2019-01-10T20:06:29.067208Z` → `2019-01-10 20:06:29`.
    t.as_deref()
        .map_or("–".into(), |s| s.get(..19).unwrap_or(s).replace('T', " "))
}

/// A duration in the largest unit that keeps it readable.
pub(crate) fn span(secs: f64) -> String {
    if secs >= 2.0 * 86_400.0 {
        format!("{:.1} d", secs / 86_400.0)
    } else if secs >= 3_600.0 {
        format!("{:.1} h", secs / 3_600.0)
    } else if secs >= 60.0 {
        format!("{:.1} min", secs / 60.0)
    } else {
        format!("{secs:.1} s")
    }
}

/// Returns the opening paragraph.
pub(crate) fn intro(e: &Exploration) -> String {
    format!(
        "{} inputs, {} flows ({} labeled benign or malicious), {} features per flow computed by the training feature extractor. Distributions, separation and shift use up to {} sampled rows per input and class (each weighted by the rows it stands for); the correlation matrix uses a uniform sample of {} rows. Counts of flows, labels, protocols, services and states are exact.",
        e.inputs.len(),
        count(e.pooled.flows),
        count(e.sample.labeled_rows),
        e.features,
        count(e.sample.stratum_rows as u64),
        count(e.sample.pooled_rows),
    )
}

fn class_flows(s: &InputSummary, class: &str) -> String {
    count(s.classes.get(class).map_or(0, |c| c.flows))
}

/// One row per input, then the pooled row.
pub(crate) fn inputs(e: &Exploration) -> Table {
    let mut header = strings(&["input", "flows", "first", "last", "span"]);
    header.extend(CLASSES.iter().map(|c| c.to_string()));
    header.extend(strings(&["originators", "responders", "rejected"]));
    let row = |s: &InputSummary, name: &str| {
        let mut cells = vec![
            name.to_string(),
            count(s.flows),
            date(&s.all.first),
            date(&s.all.last),
            span(s.span_secs),
        ];
        cells.extend(CLASSES.iter().map(|c| class_flows(s, c)));
        cells.push(hosts(s.all.originators));
        cells.push(hosts(s.all.responders));
        cells.push(count(s.bad_records));
        cells
    };
    let mut rows: Vec<Vec<String>> = e.inputs.iter().map(|s| row(s, short(&s.input))).collect();
    rows.push(row(&e.pooled, "all"));
    Table { header, rows }
}

/// Flows per label (detailed where given), per input and class.
pub(crate) fn labels(e: &Exploration) -> Table {
    let mut rows = Vec::new();
    for s in e.inputs.iter().chain([&e.pooled]) {
        let name = if s.input == "all" {
            "all"
        } else {
            short(&s.input)
        };
        for (class, c) in &s.classes {
            for (label, n) in &c.detailed_labels {
                rows.push(vec![
                    name.to_string(),
                    class.clone(),
                    label.clone(),
                    count(*n),
                ]);
            }
        }
    }
    Table {
        header: strings(&["input", "class", "label", "flows"]),
        rows,
    }
}

/// One category (protocols, services or states) over every input, a column per class.
pub(crate) fn breakdown(
    e: &Exploration,
    title: &str,
    pick: fn(&ClassSummary) -> &BTreeMap<String, u64>,
) -> Table {
    let mut header = vec![title.to_string(), "all".to_string()];
    header.extend(CLASSES.iter().map(|c| c.to_string()));
    let all = pick(&e.pooled.all);
    let mut keys: Vec<(&String, &u64)> = all.iter().collect();
    keys.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let rows = keys
        .into_iter()
        .map(|(k, n)| {
            let mut cells = vec![k.clone(), count(*n)];
            cells.extend(CLASSES.iter().map(|c| {
                e.pooled
                    .classes
                    .get(*c)
                    .and_then(|s| pick(s).get(k))
                    .map_or("–".into(), |n| count(*n))
            }));
            cells
        })
        .collect();
    Table { header, rows }
}

fn top3(m: &BTreeMap<String, u64>) -> String {
    let mut v: Vec<(&String, &u64)> = m.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .take(3)
        .map(|(k, n)| format!("{k} {}", count(**n)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn top_list(v: &[(String, u64)], n: usize) -> String {
    v.iter()
        .take(n)
        .map(|(k, c)| format!("{k} {}", count(*c)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Per input and class: time span, hosts, the main protocols, states, services and ports.
pub(crate) fn per_input_classes(e: &Exploration) -> Table {
    let mut rows = Vec::new();
    for s in &e.inputs {
        for (class, c) in &s.classes {
            rows.push(vec![
                short(&s.input).to_string(),
                class.clone(),
                count(c.flows),
                format!("{} – {}", date(&c.first), date(&c.last)),
                hosts(c.originators),
                hosts(c.responders),
                top3(&c.protocols),
                top3(&c.conn_states),
                top3(&c.services),
                top_list(&c.top_resp_ports, 3),
            ]);
        }
    }
    Table {
        header: strings(&[
            "input",
            "class",
            "flows",
            "time span",
            "originators",
            "responders",
            "protocols",
            "states",
            "services",
            "top responder ports",
        ]),
        rows,
    }
}

/// The top responder ports and originators of each class over every input.
pub(crate) fn top_per_class(e: &Exploration, top: usize) -> Table {
    let rows = e
        .pooled
        .classes
        .iter()
        .map(|(class, c)| {
            vec![
                class.clone(),
                top_list(&c.top_resp_ports, top),
                top_list(&c.top_orig_hosts, top.min(5)),
            ]
        })
        .collect();
    Table {
        header: strings(&["class", "top responder ports", "top originators"]),
        rows,
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or("–".into(), fmt_value)
}

/// A feature value with four significant digits.
pub(crate) fn fmt_value(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e-3..1e5).contains(&a) {
        let digits = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{v:.3e}")
    }
}

/// The most separating features.
pub(crate) fn separation(e: &Exploration, n: usize) -> Table {
    Table {
        header: strings(&[
            "rank",
            "feature",
            "KS distance",
            "benign median",
            "malicious median",
        ]),
        rows: e
            .separation
            .iter()
            .take(n)
            .enumerate()
            .map(|(i, s)| {
                vec![
                    (i + 1).to_string(),
                    s.feature.clone(),
                    format!("{:.3}", s.ks),
                    num(s.benign_median),
                    num(s.malicious_median),
                ]
            })
            .collect(),
    }
}

/// One plotted feature's quantiles per class.
pub(crate) fn quantiles(d: &crate::explore::Distribution) -> Table {
    Table {
        header: strings(&[
            "class", "flows", "p5", "p25", "median", "p75", "p95", "missing",
        ]),
        rows: d
            .classes
            .iter()
            .map(|c| {
                let mut cells = vec![c.class.clone(), count(c.flows)];
                match c.quantiles {
                    Some(q) => cells.extend(q.iter().map(|v| fmt_value(*v))),
                    None => cells.extend((0..5).map(|_| "–".to_string())),
                }
                cells.push(format!("{:.1} %", 100.0 * c.missing_share));
                cells
            })
            .collect(),
    }
}

/// Constant features and duplicates.
pub(crate) fn redundant(e: &Exploration) -> Table {
    let mut rows: Vec<Vec<String>> = e
        .constant
        .iter()
        .map(|c| {
            vec![
                c.feature.clone(),
                match c.value {
                    Some(v) => format!("constant ({})", fmt_value(v)),
                    None => "always missing".into(),
                },
            ]
        })
        .collect();
    if let Some(c) = &e.correlation {
        rows.extend(
            c.duplicates
                .iter()
                .map(|d| vec![d.feature.clone(), format!("repeats {}: {}", d.of, d.how)]),
        );
    }
    Table {
        header: strings(&["feature", "why it adds nothing"]),
        rows,
    }
}

/// The most correlated pairs (Spearman), with Pearson beside.
pub(crate) fn top_pairs(e: &Exploration, n: usize) -> Option<Table> {
    let c = e.correlation.as_ref()?;
    let mut pairs = Vec::new();
    for i in 0..c.features.len() {
        for j in i + 1..c.features.len() {
            if let Some(s) = c.spearman[i][j] {
                pairs.push((s, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| {
        b.0.abs()
            .total_cmp(&a.0.abs())
            .then(c.features[a.1].cmp(&c.features[b.1]))
            .then(c.features[a.2].cmp(&c.features[b.2]))
    });
    Some(Table {
        header: strings(&["feature", "feature", "Spearman", "Pearson"]),
        rows: pairs
            .iter()
            .take(n)
            .map(|&(s, i, j)| {
                vec![
                    c.features[i].clone(),
                    c.features[j].clone(),
                    format!("{s:.3}"),
                    c.pearson[i][j].map_or("–".into(), |p| format!("{p:.3}")),
                ]
            })
            .collect(),
    })
}

/// Per input: how many features shifted, and the most shifted.
pub(crate) fn shift(e: &Exploration) -> Option<Table> {
    let s = e.shift.as_ref()?;
    Some(Table {
        header: strings(&[
            "input",
            "features PSI > 0.25",
            "PSI 0.1–0.25",
            "most shifted (PSI)",
        ]),
        rows: s
            .per_input
            .iter()
            .map(|p| {
                vec![
                    short(&p.input).to_string(),
                    p.major.to_string(),
                    p.moderate.to_string(),
                    p.top
                        .iter()
                        .map(|(f, v)| format!("{f} {v:.2}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
            .collect(),
    })
}

/// Top talkers per class with their label mix.
pub(crate) fn talkers(e: &Exploration) -> Table {
    Table {
        header: strings(&[
            "class",
            "originator",
            "input",
            "flows of the class",
            "all flows",
            "label mix",
        ]),
        rows: e
            .hosts
            .top_talkers
            .iter()
            .map(|t| {
                vec![
                    t.class.clone(),
                    t.host.clone(),
                    short(&t.input).to_string(),
                    count(t.flows),
                    count(t.all_flows),
                    top_list(&t.label_mix, 6),
                ]
            })
            .collect(),
    }
}

/// The label checks' findings, one row each.
pub(crate) fn findings(e: &Exploration) -> Table {
    Table {
        header: strings(&["#", "check", "input", "host", "flows", "proposal"]),
        rows: e
            .checks
            .findings
            .iter()
            .enumerate()
            .map(|(i, f)| {
                vec![
                    (i + 1).to_string(),
                    f.check.clone(),
                    short(&f.input).to_string(),
                    f.host.clone(),
                    count(f.flows),
                    if f.proposal.is_some() && f.needs_review {
                        "rule proposed, to review".into()
                    } else if f.proposal.is_some() {
                        "rule proposed".into()
                    } else {
                        "none".into()
                    },
                ]
            })
            .collect(),
    }
}

/// The proposal of a finding as the JSON of one audit rule.
pub(crate) fn rule_json(f: &crate::explore::Finding) -> Option<String> {
    f.proposal
        .as_ref()
        .and_then(|r| serde_json::to_string_pretty(r).ok())
}
