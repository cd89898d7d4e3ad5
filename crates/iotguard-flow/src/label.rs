//! Ground-truth labels: a class for training and a detailed attack name for reports.
//!
//! Labeled captures spell their labels many ways (`Benign`, `benign`, `Malicious`,
//! `flow=From-Botnet-...`, `0`/`1` columns with an `attack_cat`). They all become a [`Label`]:
//! a case-normalised `name` (what the file said at the top level), the detailed label, and the
//! derived [`LabelClass`]. `Background` and `Unknown` flows are class [`LabelClass::Other`]: they
//! are neither benign nor malicious, and models must not be trained on them as either.

use std::fmt;
use std::sync::Arc;

/// What a label means for detection; serialised as [`LabelClass::as_str`] spells it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum LabelClass {
    /// Normal traffic.
    Benign,
    /// Attack or malware traffic.
    Malicious,
    /// Background, unknown or otherwise unlabeled traffic.
    Other,
}

impl LabelClass {
    /// Returns the class name used in reports and JSON (`benign`, `malicious`, `other`).
    pub fn as_str(self) -> &'static str {
        match self {
            LabelClass::Benign => "benign",
            LabelClass::Malicious => "malicious",
            LabelClass::Other => "other",
        }
    }
}

impl fmt::Display for LabelClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A flow's ground truth.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    /// The class derived from `name`.
    pub class: LabelClass,
    /// The top-level label, case-normalised (`Benign`, `Malicious`, `Background`, `Unknown`).
    pub name: Arc<str>,
    /// The detailed label (`C&C`, `DDoS`, `PartOfAHorizontalPortScan`, ...), if the file has one.
    pub detailed: Option<Arc<str>>,
}

/// IoT-23's detailed labels, in their canonical spelling; other spellings are matched to these
/// case-insensitively.
const CANONICAL_DETAILED: &[&str] = &[
    "Attack",
    "C&C",
    "C&C-FileDownload",
    "C&C-HeartBeat",
    "C&C-HeartBeat-Attack",
    "C&C-HeartBeat-FileDownload",
    "C&C-Mirai",
    "C&C-PartOfAHorizontalPortScan",
    "C&C-Torii",
    "DDoS",
    "FileDownload",
    "Okiru",
    "Okiru-Attack",
    "PartOfAHorizontalPortScan",
    "PartOfAHorizontalPortScan-Attack",
];

impl Label {
    /// Builds a label from a top-level name and an optional detailed label, normalising case.
    ///
    /// `-`, `(empty)` and empty text mean "no detailed label".
    pub fn new(name: &str, detailed: Option<&str>) -> Label {
        let name = name.trim();
        let (class, canonical) = classify(name);
        let detailed = detailed
            .map(str::trim)
            .filter(|d| !d.is_empty() && *d != "-" && *d != "(empty)")
            .map(|d| {
                CANONICAL_DETAILED
                    .iter()
                    .find(|c| c.eq_ignore_ascii_case(d))
                    .map_or_else(|| Arc::from(d), |c| Arc::from(*c))
            });
        Label {
            class,
            name: Arc::from(canonical.unwrap_or(name)),
            detailed,
        }
    }

    /// Builds a label from a CTU-13 / Argus `Label` cell such as `flow=From-Botnet-V42-UDP-DNS`,
    /// `flow=Background-TCP-Established` or `flow=To-Normal-V42-Grill`.
    pub fn from_argus(cell: &str) -> Option<Label> {
        let text = cell.trim();
        let text = text.strip_prefix("flow=").unwrap_or(text);
        if text.is_empty() {
            return None;
        }
        let lower = text.to_ascii_lowercase();
        let name = if lower.contains("botnet")
            || lower.starts_with("malware")
            || lower.starts_with("malicious")
            || lower.contains("attack")
        {
            "Malicious"
        } else if lower.contains("normal") || lower.starts_with("benign") {
            "Benign"
        } else if lower.starts_with("background") {
            "Background"
        } else {
            "Unknown"
        };
        Some(Label::new(name, Some(text)))
    }

    /// Builds a label from a 0/1 attack flag and an attack category (BoT-IoT, UNSW-NB15,
    /// TON_IoT). A category naming normal traffic is dropped for benign flows. The category is
    /// kept as the dataset publishes it (TON_IoT's `ddos`, BoT-IoT's `DDoS`): the canonical
    /// spellings of [`Label::new`] are IoT-23's vocabulary, not these datasets'.
    pub fn from_flag(malicious: bool, category: Option<&str>) -> Label {
        let category = category.map(str::trim).filter(|c| {
            !c.is_empty()
                && *c != "-"
                && !c.eq_ignore_ascii_case("normal")
                && !c.eq_ignore_ascii_case("benign")
        });
        let mut label = Label::new(if malicious { "Malicious" } else { "Benign" }, None);
        label.detailed = category.map(Arc::from);
        label
    }
}

/// Maps a top-level label to its class and canonical spelling.
fn classify(name: &str) -> (LabelClass, Option<&'static str>) {
    const TABLE: &[(&str, LabelClass)] = &[
        ("Benign", LabelClass::Benign),
        ("Normal", LabelClass::Benign),
        ("Malicious", LabelClass::Malicious),
        ("Malware", LabelClass::Malicious),
        ("Attack", LabelClass::Malicious),
        ("Background", LabelClass::Other),
        ("Unknown", LabelClass::Other),
    ];
    TABLE
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or((LabelClass::Other, None), |(n, c)| (*c, Some(*n)))
}

/// Caches labels by their raw text so a reader allocates each distinct label once.
///
/// Captures have a handful of distinct labels, so a short list compared byte by byte beats
/// hashing; the list is capped so a file with endless distinct junk labels stays bounded.
#[derive(Default, Debug)]
pub struct LabelCache {
    entries: Vec<CacheEntry>,
}

/// A cached label and the raw name and detailed text it was built from.
type CacheEntry = (Box<[u8]>, Option<Box<[u8]>>, Label);

/// The most distinct labels kept.
const LABEL_CACHE_CAP: usize = 256;

impl LabelCache {
    /// Returns the label for a raw name and detailed cell, building it on first sight.
    pub fn get(&mut self, name: &str, detailed: Option<&str>) -> Label {
        let (n, d) = (name.as_bytes(), detailed.map(str::as_bytes));
        if let Some(i) = self
            .entries
            .iter()
            .position(|(en, ed, _)| **en == *n && ed.as_deref() == d)
        {
            // Move hits towards the front so the common labels are found first.
            if i > 0 {
                self.entries.swap(i, i - 1);
                return self.entries[i - 1].2.clone();
            }
            return self.entries[0].2.clone();
        }
        let label = Label::new(name, detailed);
        if self.entries.len() >= LABEL_CACHE_CAP {
            self.entries.pop();
        }
        self.entries
            .push((n.into(), d.map(Into::into), label.clone()));
        label
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_classes() {
        let l = Label::new("benign", Some("-"));
        assert_eq!(
            (l.class, &*l.name, l.detailed),
            (LabelClass::Benign, "Benign", None)
        );
        let l = Label::new("Malicious", Some("partofahorizontalportscan"));
        assert_eq!(l.class, LabelClass::Malicious);
        assert_eq!(l.detailed.as_deref(), Some("PartOfAHorizontalPortScan"));
        assert_eq!(
            Label::new("Background", Some("(empty)")).class,
            LabelClass::Other
        );
        assert_eq!(Label::new("whatever", None).class, LabelClass::Other);
    }

    #[test]
    fn flag_categories_are_kept_as_published() {
        let l = Label::from_flag(true, Some(" ddos "));
        assert_eq!(
            (l.class, &*l.name, l.detailed.as_deref()),
            (LabelClass::Malicious, "Malicious", Some("ddos"))
        );
        assert_eq!(
            Label::from_flag(true, Some("DDoS")).detailed.as_deref(),
            Some("DDoS")
        );
        assert_eq!(Label::from_flag(true, Some("-")).detailed, None);
        let normal = Label::from_flag(false, Some("Normal"));
        assert_eq!((normal.class, normal.detailed), (LabelClass::Benign, None));
        // IoT-23's own labels still take their canonical spelling.
        assert_eq!(
            Label::new("Malicious", Some("ddos")).detailed.as_deref(),
            Some("DDoS")
        );
    }

    #[test]
    fn argus_labels() {
        let l = Label::from_argus("flow=Malware-UDP-DNS").unwrap();
        assert_eq!(
            (l.class, l.detailed.as_deref()),
            (LabelClass::Malicious, Some("Malware-UDP-DNS"))
        );
        assert_eq!(
            Label::from_argus("flow=From-Botnet-V42-TCP").unwrap().class,
            LabelClass::Malicious
        );
        assert_eq!(
            Label::from_argus("flow=To-Normal-V42-Grill").unwrap().class,
            LabelClass::Benign
        );
        assert_eq!(
            Label::from_argus("flow=Background-ARP").unwrap().class,
            LabelClass::Other
        );
        assert_eq!(
            Label::from_argus("flow=TCP-Established-To-Microsoft-7")
                .unwrap()
                .class,
            LabelClass::Other
        );
        assert_eq!(Label::from_argus(""), None);
    }

    #[test]
    fn cache_returns_same_label() {
        let mut c = LabelCache::default();
        let a = c.get("Malicious", Some("C&C"));
        let b = c.get("Benign", Some("-"));
        assert_eq!(c.get("Malicious", Some("C&C")), a);
        assert_eq!(c.get("Benign", Some("-")), b);
        assert!(Arc::ptr_eq(&a.name, &c.get("Malicious", Some("C&C")).name));
    }
}
