//! Every fixed capacity of the core, in one place. `memory-budget.md` lists each with its
//! documented limit; exceeding one is [`crate::reader::Error::Limit`], which names it.
//!
//! Observed sizes in real Artifacts (../shared/spec/artifact-format.md §8): manifest 154–351 B,
//! header-info 111–228 B, type-info 11–348 B, signature 88–512 B. The limits below leave ample room.

/// Bytes of the `version` member.
pub const MAX_VERSION_SIZE: usize = 256;
/// Bytes of the `manifest` member (one 64+2+path+1 byte line per covered file).
pub const MAX_MANIFEST_SIZE: usize = 4096;
/// Lines in the manifest: `version`, the header and every payload file.
pub const MAX_MANIFEST_ENTRIES: usize = MAX_PAYLOAD_FILES + 2;
/// Bytes of `header-info`.
pub const MAX_HEADER_INFO_SIZE: usize = 2048;
/// Bytes of `headers/NNNN/type-info` (kept raw, decoded on demand).
pub const MAX_TYPE_INFO_SIZE: usize = 2048;
/// Bytes of `headers/NNNN/meta-data` (kept raw, validated as a JSON object).
pub const MAX_META_DATA_SIZE: usize = 2048;
/// Bytes of a format-2 `headers/NNNN/files` document.
pub const MAX_FILES_DOC_SIZE: usize = 1024;
/// Payloads per Artifact. The official clients install exactly one (C++ client, mender-mcu).
pub const MAX_PAYLOADS: usize = 1;
/// Data files in one payload.
pub const MAX_PAYLOAD_FILES: usize = 16;
/// Bytes of a payload file name (the tar ustar name field is 100).
pub const MAX_FILE_NAME_LEN: usize = 100;
/// Bytes of a tar member path, after PAX `path` / GNU long names are applied.
pub const MAX_TAR_PATH_LEN: usize = 256;
/// Bytes of a path quoted in an error (longer ones are shortened). Errors travel up the stack
/// on every return, so their size is stack on a microcontroller.
pub const MAX_ERROR_PATH_LEN: usize = 128;
/// Bytes of the list of missing files in "Files found in manifest(s), that were not part of
/// artifact" (longer lists are shortened).
pub const MAX_ERROR_LIST_LEN: usize = 256;
/// Bytes of one PAX extended header block's records.
pub const MAX_PAX_SIZE: usize = 1024;
/// Bytes of the Artifact name and group (mender-artifact validates 256 at most).
pub const MAX_ARTIFACT_NAME_LEN: usize = 256;
/// Compatible device types in `artifact_depends.device_type`.
pub const MAX_DEVICE_TYPES: usize = 16;
/// Bytes of one device type.
pub const MAX_DEVICE_TYPE_LEN: usize = 128;
/// Entries in header-info `artifact_depends.artifact_name` / `artifact_group`.
pub const MAX_DEPENDS_NAMES: usize = 8;
/// Keys in a type-info `artifact_provides` or `artifact_depends` object.
pub const MAX_PROVIDES: usize = 32;
/// Bytes of a provides/depends key.
pub const MAX_KEY_LEN: usize = 128;
/// Bytes of a provides/depends value (a SHA-256 checksum is 64).
pub const MAX_VALUE_LEN: usize = 256;
/// Values in one list-valued type-info depends entry.
pub const MAX_DEPENDS_VALUES: usize = 16;
/// Globs in `clears_artifact_provides`.
pub const MAX_CLEARS: usize = 32;
/// State scripts in the header.
pub const MAX_SCRIPTS: usize = 32;
/// Bytes of a state script name.
pub const MAX_SCRIPT_NAME_LEN: usize = 128;
/// Nesting depth of JSON values (meta-data may nest).
pub const MAX_JSON_DEPTH: usize = 32;
