use super::*;
use crate::history::thinning::{DAY_MS, MINUTE_MS};

fn notebook(texts: &[(&str, &str)]) -> NotebookNow {
    NotebookNow {
        title: Some("Book".into()),
        pages: texts
            .iter()
            .enumerate()
            .map(|(i, (id, text))| {
                let page = PageInfo {
                    id: (*id).into(),
                    title: format!("Page {id}"),
                    order: i as f64,
                };
                (page, (*text).to_owned())
            })
            .collect(),
        state: StateVector::default().encode_v1(),
    }
}

fn record(history: &mut History, id: &str, at: u64, now: &NotebookNow) -> Vec<u8> {
    history.record(
        NewVersion {
            id,
            at,
            name: None,
            authors: &[7],
            names: &[(7, "Ada".into())],
        },
        now,
    )
}

#[test]
fn a_version_keeps_each_page_and_reads_back() {
    let mut history = History::new(1);
    let now = notebook(&[("home", "# Hello"), ("b", "second page")]);
    record(&mut history, "v1", 1_000, &now);
    let versions = history.versions();
    assert_eq!(versions.len(), 1);
    let v = &versions[0];
    assert_eq!(
        (v.id.as_str(), v.at, v.title.as_deref()),
        ("v1", 1_000, Some("Book"))
    );
    assert_eq!(v.authors, vec![7]);
    assert_eq!(history.name(7).as_deref(), Some("Ada"));
    let texts: Vec<String> = v.pages.iter().filter_map(|p| history.text(p)).collect();
    assert_eq!(texts, vec!["# Hello", "second page"]);
    assert!(history.unchanged_since_newest(&now));
    assert!(
        !history.unchanged_since_newest(&notebook(&[("home", "# Hello!"), ("b", "second page")]))
    );
}

#[test]
fn an_unchanged_page_is_kept_once() {
    let mut history = History::new(1);
    let big = "x".repeat(10_000);
    record(
        &mut history,
        "v1",
        1,
        &notebook(&[("home", &big), ("b", "one")]),
    );
    let second = record(
        &mut history,
        "v2",
        2,
        &notebook(&[("home", &big), ("b", "two")]),
    );
    assert!(
        second.len() < 1_000,
        "the second version re-stored the big page: {}",
        second.len()
    );
}

#[test]
fn versions_made_in_two_browsers_merge() {
    let mut a = History::new(1);
    let mut b = History::new(2);
    let from_a = record(&mut a, "va", 10, &notebook(&[("home", "A")]));
    let from_b = record(&mut b, "vb", 20, &notebook(&[("home", "B")]));
    a.apply(&from_b).unwrap();
    b.apply(&from_a).unwrap();
    let ids = |h: &History| h.versions().into_iter().map(|v| v.id).collect::<Vec<_>>();
    assert_eq!(ids(&a), vec!["vb", "va"]);
    assert_eq!(ids(&a), ids(&b));
    assert_eq!(a.encode().len(), b.encode().len());
}

#[test]
fn thinning_drops_old_versions_and_their_texts() {
    let mut history = History::new(1);
    let start = 100 * DAY_MS;
    // Two versions in the same hour, two days ago: the older goes, with its text.
    record(
        &mut history,
        "old",
        start,
        &notebook(&[("home", "old text")]),
    );
    record(
        &mut history,
        "newer",
        start + MINUTE_MS,
        &notebook(&[("home", "newer text")]),
    );
    record(
        &mut history,
        "now",
        start + 2 * DAY_MS,
        &notebook(&[("home", "newer text")]),
    );
    let before = history.encode().len();
    assert!(history.thin(start + 2 * DAY_MS).is_some());
    let ids: Vec<String> = history.versions().into_iter().map(|v| v.id).collect();
    assert_eq!(ids, vec!["now", "newer"]);
    assert!(!history
        .texts
        .contains_key(&history.doc.transact(), &text_key("old text")));
    assert!(history.encode().len() < before);
    assert!(
        history.thin(start + 2 * DAY_MS).is_none(),
        "thinning twice changes nothing"
    );
}

#[test]
fn editors_since_the_newest_version_come_from_state_vectors() {
    let doc = crate::notebook::new_doc(5);
    let notebook_doc = crate::notebook::Notebook::new(&doc);
    let mut history = History::new(1);
    let state = |doc: &Doc| state_vector(&doc.transact());
    assert!(history.editors_since_newest(&state(&doc)).is_empty());
    {
        let mut txn = doc.transact_mut();
        yrs::Text::insert(notebook_doc.home(), &mut txn, 0, "hi");
    }
    assert_eq!(history.editors_since_newest(&state(&doc)), vec![5]);
    let mut now = notebook(&[("home", "hi")]);
    now.state = state(&doc);
    record(&mut history, "v", 1, &now);
    assert!(history.editors_since_newest(&state(&doc)).is_empty());
}

#[test]
fn malformed_versions_are_skipped() {
    let mut history = History::new(1);
    {
        let mut txn = history.doc.transact_mut();
        history.versions.insert(&mut txn, "junk", "not a map");
        let mut fields = HashMap::new();
        fields.insert("at".to_owned(), Any::from(-5.0));
        history
            .versions
            .insert(&mut txn, "negative", Any::Map(Arc::new(fields)));
    }
    assert!(history.versions().is_empty());
    assert!(history.apply(&[1, 2, 3]).is_err());
}
