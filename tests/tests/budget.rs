//! memory-budget.md is the source of truth: the capacities it lists must be the core's, and
//! the reader's RAM must stay within its budget.
use mender_core::limits;
use mender_tests::workspace_root;

fn budget_doc() -> String {
    std::fs::read_to_string(workspace_root().join("memory-budget.md")).expect("memory-budget.md")
}

/// Cells of the table row whose first cell is `key`.
fn row(doc: &str, key: &str) -> Vec<String> {
    doc.lines()
        .map(|l| l.trim())
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.first().is_some_and(|c| c == key))
        .unwrap_or_else(|| panic!("memory-budget.md has no row '{key}'"))
}

#[test]
fn capacities_match_the_core() {
    let doc = budget_doc();
    let consts: &[(&str, usize)] = &[
        ("MAX_VERSION_SIZE", limits::MAX_VERSION_SIZE),
        ("MAX_MANIFEST_SIZE", limits::MAX_MANIFEST_SIZE),
        ("MAX_MANIFEST_ENTRIES", limits::MAX_MANIFEST_ENTRIES),
        ("MAX_HEADER_INFO_SIZE", limits::MAX_HEADER_INFO_SIZE),
        ("MAX_TYPE_INFO_SIZE", limits::MAX_TYPE_INFO_SIZE),
        ("MAX_META_DATA_SIZE", limits::MAX_META_DATA_SIZE),
        ("MAX_FILES_DOC_SIZE", limits::MAX_FILES_DOC_SIZE),
        ("MAX_PAYLOADS", limits::MAX_PAYLOADS),
        ("MAX_PAYLOAD_FILES", limits::MAX_PAYLOAD_FILES),
        ("MAX_FILE_NAME_LEN", limits::MAX_FILE_NAME_LEN),
        ("MAX_TAR_PATH_LEN", limits::MAX_TAR_PATH_LEN),
        ("MAX_PAX_SIZE", limits::MAX_PAX_SIZE),
        ("MAX_ERROR_PATH_LEN", limits::MAX_ERROR_PATH_LEN),
        ("MAX_ERROR_LIST_LEN", limits::MAX_ERROR_LIST_LEN),
        ("MAX_FLASH_UNIT", mender_core::flash::MAX_FLASH_UNIT),
        ("MAX_FLASH_ENV_SIZE", mender_core::flash::MAX_FLASH_ENV_SIZE),
        ("MAX_ARTIFACT_NAME_LEN", limits::MAX_ARTIFACT_NAME_LEN),
        ("MAX_DEVICE_TYPES", limits::MAX_DEVICE_TYPES),
        ("MAX_DEVICE_TYPE_LEN", limits::MAX_DEVICE_TYPE_LEN),
        ("MAX_DEPENDS_NAMES", limits::MAX_DEPENDS_NAMES),
        ("MAX_PROVIDES", limits::MAX_PROVIDES),
        ("MAX_KEY_LEN", limits::MAX_KEY_LEN),
        ("MAX_VALUE_LEN", limits::MAX_VALUE_LEN),
        ("MAX_DEPENDS_VALUES", limits::MAX_DEPENDS_VALUES),
        ("MAX_CLEARS", limits::MAX_CLEARS),
        ("MAX_SCRIPTS", limits::MAX_SCRIPTS),
        ("MAX_SCRIPT_NAME_LEN", limits::MAX_SCRIPT_NAME_LEN),
        ("MAX_JSON_DEPTH", limits::MAX_JSON_DEPTH),
        (
            "MAX_SIGNATURE_B64_LEN",
            mender_core::signature::MAX_SIGNATURE_B64_LEN,
        ),
        ("WINDOW_SIZE", mender_core::codec::WINDOW_SIZE),
    ];
    for (name, value) in consts {
        let cells = row(&doc, name);
        assert_eq!(
            cells.get(1).map(String::as_str),
            Some(value.to_string().as_str()),
            "{name} in memory-budget.md"
        );
    }
}

#[test]
fn reader_ram_within_budget() {
    let doc = budget_doc();
    let cells = row(
        &doc,
        "Reader struct (documents and workspace are caller-owned)",
    );
    let budget: usize = cells[1].parse().expect("budget number");
    let size = std::mem::size_of::<mender_core::reader::Reader<'static>>();
    assert!(
        size <= budget,
        "Reader is {size} bytes, budget {budget} (memory-budget.md)"
    );
    let cells = row(
        &doc,
        "Workspace (window + gzip inflate state, caller-owned, optional)",
    );
    let budget: usize = cells[1].parse().expect("budget number");
    let size = std::mem::size_of::<mender_core::codec::Workspace>();
    assert!(
        size <= budget,
        "Workspace is {size} bytes, budget {budget} (memory-budget.md)"
    );
    let cells = row(
        &doc,
        "SmallWorkspace (window + small inflate engine, for microcontrollers)",
    );
    let budget: usize = cells[1].parse().expect("budget number");
    let size = std::mem::size_of::<mender_core::codec::SmallWorkspace>();
    assert!(
        size <= budget,
        "SmallWorkspace is {size} bytes, budget {budget} (memory-budget.md)"
    );
    let cells = row(
        &doc,
        "Document arena that never limits earlier than a per-document limit",
    );
    assert_eq!(
        cells[2],
        mender_core::reader::ARENA_SIZE_FULL.to_string(),
        "ARENA_SIZE_FULL in memory-budget.md"
    );
}
