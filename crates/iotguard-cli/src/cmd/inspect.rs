//! `iotguard inspect`: what is in a set of flow inputs.

use clap::Args;
use iotguard_runtime::inspect::Stats;

use super::InputArgs;
use crate::{exit, output};

/// Arguments of `inspect`.
#[derive(Args, Debug)]
pub(crate) struct InspectArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Print JSON (top level: records, bad_records, labels, detailed_labels, inputs, ...).
    #[arg(long)]
    json: bool,
    /// How many entries the top-N tables show.
    #[arg(long, default_value_t = 10, value_name = "N")]
    top: usize,
}

pub(crate) fn run(args: InspectArgs) -> anyhow::Result<u8> {
    let (_, outcome) = args.input.read(&mut |_, _| Ok(()))?;
    let total = outcome.total().finish(args.top);
    let inputs: Vec<Stats> = outcome
        .per_input
        .iter()
        .map(|c| c.finish(args.top))
        .collect();
    if args.json {
        let mut value = serde_json::to_value(&total)?;
        if let Some(obj) = value.as_object_mut() {
            obj.remove("input");
            obj.insert("inputs".into(), serde_json::to_value(&inputs)?);
            let listed = |v: &[(String, String)]| {
                v.iter()
                    .map(|(n, e)| serde_json::json!({"input": n, "error": e}))
                    .collect::<Vec<_>>()
            };
            obj.insert(
                "failed_inputs".into(),
                serde_json::Value::from(listed(&outcome.failed_inputs)),
            );
            obj.insert(
                "skipped_inputs".into(),
                serde_json::Value::from(listed(&outcome.skipped_inputs)),
            );
        }
        output::out(&serde_json::to_string_pretty(&value)?);
    } else {
        output::out(&render(&total, &inputs, args.top));
    }
    Ok(if outcome.failed_inputs.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    })
}

/// Renders the human-readable report.
fn render(total: &Stats, inputs: &[Stats], top: usize) -> String {
    let mut out = String::new();
    let mut rows = vec![vec![
        "input".to_string(),
        "format".into(),
        "records".into(),
        "bad".into(),
        "first ts".into(),
        "last ts".into(),
    ]];
    for s in inputs {
        let (first, last) = s.time_range.clone().unwrap_or_default();
        rows.push(vec![
            s.input.clone(),
            s.formats.join(","),
            group(s.records),
            group(s.bad_records),
            first,
            last,
        ]);
    }
    if inputs.len() > 1 {
        let (first, last) = total.time_range.clone().unwrap_or_default();
        rows.push(vec![
            "total".into(),
            String::new(),
            group(total.records),
            group(total.bad_records),
            first,
            last,
        ]);
    }
    out.push_str(&table(&rows, &[false, false, true, true, true, true]));
    if !total.bad_by_kind.is_empty() {
        out.push_str("\nbad records by kind\n");
        out.push_str(&counts(
            total
                .bad_by_kind
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            total.bad_records,
            top,
        ));
    }
    let sections: [(&str, &std::collections::BTreeMap<String, u64>); 5] = [
        ("labels", &total.labels),
        ("detailed labels", &total.detailed_labels),
        ("protocols", &total.protocols),
        ("services", &total.services),
        ("conn states", &total.conn_states),
    ];
    for (title, map) in sections {
        if map.is_empty() {
            continue;
        }
        let mut v: Vec<(String, u64)> = map.iter().map(|(k, c)| (k.clone(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.push_str(&format!("\n{title}\n"));
        out.push_str(&counts(v, total.records, top));
    }
    let approx = if total.hosts_exact {
        ""
    } else {
        " (approximate: lower bounds)"
    };
    for (title, hosts) in [
        ("top originators", &total.top_orig_hosts),
        ("top responders", &total.top_resp_hosts),
    ] {
        if !hosts.is_empty() {
            out.push_str(&format!("\n{title}{approx}\n"));
            out.push_str(&counts(hosts.clone(), total.records, top));
        }
    }
    out
}

/// A two-column list of counts with shares, the largest `top` first.
fn counts(mut v: Vec<(String, u64)>, total: u64, top: usize) -> String {
    let rest = v.len().saturating_sub(top);
    v.truncate(top);
    let mut rows: Vec<Vec<String>> = v
        .into_iter()
        .map(|(k, c)| {
            let share = if total > 0 {
                c as f64 * 100.0 / total as f64
            } else {
                0.0
            };
            vec![format!("  {k}"), group(c), format!("{share:.1}%")]
        })
        .collect();
    if rest > 0 {
        rows.push(vec![
            format!("  ({rest} more)"),
            String::new(),
            String::new(),
        ]);
    }
    table(&rows, &[false, true, true])
}

/// Aligns rows into columns; `right[i]` right-aligns column i.
fn table(rows: &[Vec<String>], right: &[bool]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if right.get(i).copied().unwrap_or(false) {
                    format!("{cell:>w$}", w = widths[i])
                } else {
                    format!("{cell:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Formats a count with thousands separators: 23,145.
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(23_145), "23,145");
        assert_eq!(group(1_000_000), "1,000,000");
    }
}
