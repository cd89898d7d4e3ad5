//! The `explore` report: Markdown (`explore.md`) and one self-contained HTML page with inline
//! SVG plots (`explore.html`), laid out from the same tables (`tables.rs`); the JSON is the
//! [`Exploration`](crate::explore::Exploration) itself. Rendering is pure, text in and out.

mod html;
mod markdown;
mod plots;
mod tables;

use std::collections::BTreeMap;

pub use html::{explore_html, EXPLORE_PLOT_IDS};
pub use markdown::explore_markdown;

use crate::explore::{ClassSummary, Exploration};

type Pick = fn(&ClassSummary) -> &BTreeMap<String, u64>;

/// The exact categorical breakdowns, in page order.
const BREAKDOWNS: [(&str, Pick); 3] = [
    ("protocol", |c| &c.protocols),
    ("service", |c| &c.services),
    ("conn state", |c| &c.conn_states),
];

const INPUTS_INTRO: &str = "Flows per input and label class (benign, malicious, other = Background/Unknown, unlabeled), time span (UTC), distinct originating and responding addresses, and records rejected as malformed.";

const SEPARATION_INTRO: &str = "The features whose benign and malicious distributions differ most: the Kolmogorov–Smirnov distance (the largest gap between the two distribution functions, missing values counted as a value of their own; 0 = the same, 1 = disjoint), on the weighted samples.";

const DISTRIBUTIONS_INTRO: &str = "For the most separating features: quantiles of the present values for benign flows, malicious flows and each detailed label, and the share of flows where the feature is missing.";

const REDUNDANT_INTRO: &str = "Features that never vary over the labeled flows (exact, every flow), and features that repeat an earlier one on the pooled sample (the same value on every sampled row, or |Pearson r| ≥ 0.999). A model gains nothing from them.";

const SHIFT_INTRO: &str = "Per input, the population stability index (PSI) of each feature against all other inputs together (deciles of the pooled sample, missing values as a bin of their own). Above 0.25 is a major shift: a model tested on this input after training on the others (leave one capture out) meets values it rarely saw.";

const HOSTS_INTRO: &str = "The originators with the most flows of each class, with every label their flows carry: a host whose flows mix benign and attack labels is where label errors hide.";

const CHECKS_INTRO: &str = "Rules that flag flows whose label is probably wrong, from the data's structure alone (no address, port or file is known in advance): benign flows of a host that also has malicious flows when they form a scan (one port, nearly all unanswered, many responders), a beacon (one external endpoint on a port outside the IANA system range, many connections recurring steadily) or a flood (few responders, high rate); malicious flows identical to the same host's benign flows; connection tuples whose label changes. Where a label-audit rule names exactly the flagged flows, it is proposed (`iotguard explore --suggest-audit FILE` writes them all; `--label-audit FILE` accepts that file). A proposal sets flows aside (`other`) rather than relabeling them: review the evidence before accepting.";

fn correlation_intro(e: &Exploration) -> String {
    let (n, rows) = e
        .correlation
        .as_ref()
        .map_or((0, 0), |c| (c.features.len(), c.rows));
    format!(
        "The feature pairs with the largest |Spearman ρ| among the {n} varying features, on a uniform sample of {} labeled rows (missing values left out pair by pair). The HTML page shows the whole matrix, Pearson below the diagonal and Spearman above, clustered (average linkage on 1 − |ρ|) so related features sit together.",
        crate::report::count(rows)
    )
}
