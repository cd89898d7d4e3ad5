//! `docs/glossary.md` lists every feature family of the default schema, and of the optional
//! network-context groups (`--context`), in words, as
//! [`iotguard_features::glossary_rows`] writes them (`UPDATE_GOLDEN=1` rewrites the table).

use iotguard_features::{glossary_rows, ContextGroup, FeatureConfig, FeatureExtractor};

const BEGIN: &str = "<!-- features:begin (generated: UPDATE_GOLDEN=1 cargo test -p iotguard-features --test glossary) -->\n";
const END: &str = "<!-- features:end -->";

#[test]
fn glossary_lists_every_feature_family() {
    let x = FeatureExtractor::new(FeatureConfig {
        context: ContextGroup::ALL.to_vec(),
        ..FeatureConfig::default()
    });
    let rows = glossary_rows(&x.schema().names);
    assert!(!rows.contains("(no description)"), "{rows}");
    let path = iotguard_testkit::repo_root().join("docs/glossary.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find(BEGIN).expect("begin marker") + BEGIN.len();
    let end = text.find(END).expect("end marker");
    let table =
        format!("| feature | meaning | unit | a missing value |\n|---|---|---|---|\n{rows}");
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        let updated = format!("{}{table}{}", &text[..start], &text[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        &text[start..end],
        table,
        "docs/glossary.md is stale (UPDATE_GOLDEN=1 rewrites it)"
    );
}
