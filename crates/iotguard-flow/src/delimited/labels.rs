//! Labels of the non-Zeek dialects (Argus `flow=...`, 0/1 flags with a category), and the caches
//! that build each distinct label (and sensor name) once rather than once per record.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::LineError;
use crate::fields::{self, Field};
use crate::label::{Label, LabelCache};

/// Builds a label from a flag cell (`0`/`1`, or a class name such as `Benign`) and a category.
pub(super) fn flag_label(cell: &[u8], category: Option<&[u8]>) -> Result<Label, LineError> {
    let category = category
        .map(|c| fields::text(Field::DetailedLabel, c))
        .transpose()?;
    match cell {
        b"1" => Ok(Label::from_flag(true, category)),
        b"0" => Ok(Label::from_flag(false, category)),
        _ if cell.iter().all(u8::is_ascii_digit) => {
            Err(LineError::bad_value("", "attack flag (0 or 1)", cell))
        }
        _ => {
            // A class name (UNSW-NB15 samples write `Benign`/`Malicious`); a category that only
            // says "normal" is dropped, as `Label::from_flag` drops it.
            let category = category.filter(|c| {
                let c = c.trim();
                !c.eq_ignore_ascii_case("normal") && !c.eq_ignore_ascii_case("benign")
            });
            Ok(Label::new(fields::text(Field::Label, cell)?, category))
        }
    }
}

/// A parser's caches: each distinct label is built once, and records share their sensor name.
#[derive(Default, Debug)]
pub(super) struct Caches {
    /// The Zeek rule's label cache (the one the Zeek TSV reader uses).
    pub(super) zeek: LabelCache,
    /// The Argus and flag rules' labels.
    pub(super) memo: LabelMemo,
    /// The last sensor name seen (files name one sensor, or a few in runs).
    sensor: Option<Arc<str>>,
}

impl Caches {
    /// Returns the sensor name as a shared string, allocating only when it changes.
    pub(super) fn sensor(&mut self, name: &str) -> Arc<str> {
        match &self.sensor {
            Some(last) if **last == *name => last.clone(),
            _ => self.sensor.insert(Arc::from(name)).clone(),
        }
    }
}

/// Labels by their raw label and category cells, for the Argus and flag rules.
#[derive(Default, Debug)]
pub(super) struct LabelMemo {
    /// The key being looked up (reused, so a lookup allocates nothing).
    key: Vec<u8>,
    /// The key and label of the previous line: runs of equal labels skip the map.
    last_key: Vec<u8>,
    last: Option<Option<Label>>,
    map: HashMap<Vec<u8>, Option<Label>>,
}

impl LabelMemo {
    /// The cap on distinct labels kept, so a file of junk labels cannot grow the map forever.
    const CAP: usize = 4096;

    /// Returns the label of a label cell and category, building it with `make` on first sight.
    /// An error from `make` is returned and not kept.
    pub(super) fn get(
        &mut self,
        cell: &[u8],
        category: Option<&[u8]>,
        make: impl FnOnce() -> Result<Option<Label>, LineError>,
    ) -> Result<Option<Label>, LineError> {
        // 0xFF never occurs in UTF-8, so the key is unambiguous.
        self.key.clear();
        self.key.extend_from_slice(cell);
        if let Some(c) = category {
            self.key.push(0xFF);
            self.key.extend_from_slice(c);
        }
        if let Some(label) = self.last.as_ref().filter(|_| self.last_key == self.key) {
            return Ok(label.clone());
        }
        let label = match self.map.get(&self.key) {
            Some(label) => label.clone(),
            None => {
                let label = make()?;
                if self.map.len() >= Self::CAP {
                    self.map.clear();
                }
                self.map.insert(self.key.clone(), label.clone());
                label
            }
        };
        std::mem::swap(&mut self.key, &mut self.last_key);
        self.last = Some(label.clone());
        Ok(label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::LabelClass;

    #[test]
    fn flags_match_label_from_flag() {
        for (cell, category) in [
            ("1", Some("DDoS")),
            ("0", Some("Normal")),
            ("0", Some(" normal ")),
            ("1", None),
            ("0", Some("Benign")),
        ] {
            let want = Label::from_flag(cell == "1", category);
            let got = flag_label(cell.as_bytes(), category.map(str::as_bytes)).unwrap();
            assert_eq!(got, want, "{cell} {category:?}");
        }
        assert!(flag_label(b"2", None).is_err());
        assert!(flag_label(b"10", Some(b"DoS")).is_err());
    }

    #[test]
    fn class_names_take_a_category_as_detail() {
        let l = flag_label(b"Malicious", Some(b"Exploits")).unwrap();
        assert_eq!(
            (l.class, &*l.name, l.detailed.as_deref()),
            (LabelClass::Malicious, "Malicious", Some("Exploits"))
        );
        let l = flag_label(b"benign", Some(b"Normal")).unwrap();
        assert_eq!((l.class, l.detailed), (LabelClass::Benign, None));
        assert_eq!(flag_label(b"weird", None).unwrap().class, LabelClass::Other);
    }

    #[test]
    fn memo_builds_each_label_once() {
        let mut memo = LabelMemo::default();
        let mut built = 0;
        let mut get = |memo: &mut LabelMemo, cell: &str, cat: Option<&str>| {
            memo.get(cell.as_bytes(), cat.map(str::as_bytes), || {
                built += 1;
                flag_label(cell.as_bytes(), cat.map(str::as_bytes)).map(Some)
            })
            .unwrap()
            .unwrap()
        };
        let a = get(&mut memo, "1", Some("DoS"));
        let b = get(&mut memo, "1", Some("DDoS"));
        assert_eq!(get(&mut memo, "1", Some("DoS")), a);
        assert_eq!(get(&mut memo, "1", Some("DDoS")), b);
        // The category is part of the key: `1` alone and `1`+`""` differ from `1`+`DoS`.
        assert_eq!(get(&mut memo, "1", None).detailed, None);
        let again = get(&mut memo, "1", Some("DoS"));
        assert!(std::sync::Arc::ptr_eq(&a.name, &again.name));
        assert_eq!(built, 3);
    }

    #[test]
    fn sensor_names_are_shared() {
        let mut c = Caches::default();
        let a = c.sensor("probe-1");
        assert!(Arc::ptr_eq(&a, &c.sensor("probe-1")));
        assert_eq!(&*c.sensor("probe-2"), "probe-2");
    }

    #[test]
    fn memo_does_not_keep_errors() {
        let mut memo = LabelMemo::default();
        assert!(memo
            .get(b"2", None, || flag_label(b"2", None).map(Some))
            .is_err());
        assert!(memo
            .get(b"2", None, || flag_label(b"2", None).map(Some))
            .is_err());
    }
}
