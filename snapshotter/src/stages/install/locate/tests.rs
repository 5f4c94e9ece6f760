//! The lookup order, on fake builds whose ELF headers name an architecture.

use super::*;

/// The start of an ELF header for `machine` (62 x86_64, 183 aarch64), then a tag to tell builds apart.
const fn elf(machine: u8, tag: u8) -> [u8; 24] {
    let mut bytes = [0u8; 24];
    bytes[0] = 0x7f;
    bytes[1] = b'E';
    bytes[2] = b'L';
    bytes[3] = b'F';
    bytes[4] = 2; // 64-bit
    bytes[5] = 1; // little-endian
    bytes[6] = 1;
    bytes[18] = machine;
    bytes[23] = tag;
    bytes
}

const X86_64: u8 = 62;
const AARCH64: u8 = 183;
static EMBEDDED_AARCH64: [u8; 24] = elf(AARCH64, 9);
static EMBEDDED: [EmbeddedBuild; 1] = [EmbeddedBuild {
    arch: "aarch64",
    bytes: &EMBEDDED_AARCH64,
}];

fn dir_with(files: &[(&str, [u8; 24])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        fs_err::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

fn catalog(dir: &tempfile::TempDir, embedded: &'static [EmbeddedBuild]) -> NodePushCatalog {
    NodePushCatalog::by_arch(Some(dir.path().to_path_buf()), embedded)
}

#[test]
fn the_arch_named_build_next_to_the_program_comes_first() {
    let dir = dir_with(&[
        ("node-push-x86_64", elf(X86_64, 1)),
        ("node-push-aarch64", elf(AARCH64, 2)),
        ("node-push", elf(X86_64, 3)),
    ]);
    let catalog = catalog(&dir, &EMBEDDED);
    let x86 = catalog.for_node("n1", "x86_64").unwrap();
    assert_eq!(x86.path, dir.path().join("node-push-x86_64"));
    assert_eq!(x86.arch, Some("x86_64"));
    // Preferred over the embedded aarch64 build too; `arm64` is another spelling of aarch64.
    let arm = catalog.for_node("n2", "arm64").unwrap();
    assert_eq!(arm.path, dir.path().join("node-push-aarch64"));
    assert_eq!(arm.bytes[23], 2);
    // One read per architecture: the next node of the same kind gets the same build.
    assert!(Arc::ptr_eq(
        &arm,
        &catalog.for_node("n3", "aarch64").unwrap()
    ));
}

#[test]
fn then_the_embedded_build_then_a_plain_node_push_of_the_same_arch() {
    let dir = dir_with(&[("node-push", elf(X86_64, 3))]);
    let catalog = catalog(&dir, &EMBEDDED);
    let arm = catalog.for_node("n1", "aarch64").unwrap();
    assert_eq!(arm.bytes.as_slice(), EMBEDDED_AARCH64.as_slice());
    assert!(arm.path.display().to_string().contains("embedded"));
    let x86 = catalog.for_node("n2", "x86_64").unwrap();
    assert_eq!(x86.path, dir.path().join("node-push"));
}

#[test]
fn nothing_that_fits_is_one_error_naming_host_arch_and_places() {
    let dir = dir_with(&[("node-push", elf(X86_64, 3))]);
    let error = catalog(&dir, &[])
        .for_node("arm-node-7", "aarch64")
        .unwrap_err()
        .to_string();
    for needle in [
        "arm-node-7: no node-push for its architecture aarch64",
        "node-push-aarch64 (missing)",
        "no embedded builds",
        "node-push (built for x86_64)",
        "--node-push-binary",
    ] {
        assert!(error.contains(needle), "{needle}: {error}");
    }
    assert!(!error.contains('\n'), "{error}");
    let error = catalog(&dir, &EMBEDDED)
        .for_node("old-box", "i686")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("embedded builds for aarch64 only"),
        "{error}"
    );
}

#[test]
fn a_mislabelled_build_is_refused_not_skipped() {
    let dir = dir_with(&[("node-push-aarch64", elf(X86_64, 1))]);
    let error = catalog(&dir, &EMBEDDED)
        .for_node("n1", "aarch64")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("node-push-aarch64 is built for x86_64, not aarch64"),
        "{error}"
    );
    let dir = dir_with(&[("node-push-x86_64", *b"#!/bin/sh\necho not elf!\n")]);
    let error = catalog(&dir, &[])
        .for_node("n1", "x86_64")
        .unwrap_err()
        .to_string();
    assert!(error.contains("not a Linux executable"), "{error}");
}

#[test]
fn node_push_binary_overrides_everything() {
    let dir = dir_with(&[
        ("node-push-x86_64", elf(X86_64, 1)),
        ("given", elf(AARCH64, 5)),
    ]);
    let catalog = NodePushCatalog::new(Some(&dir.path().join("given"))).unwrap();
    for arch in ["x86_64", "aarch64"] {
        let binary = catalog.for_node("n", arch).unwrap();
        assert_eq!(binary.path, dir.path().join("given"), "{arch}");
    }
    let error = NodePushCatalog::new(Some(&dir.path().join("absent")))
        .unwrap_err()
        .to_string();
    assert!(error.contains("--node-push-binary"), "{error}");
}

/// Only in a build with `--features embed-node-push` (`NODE_PUSH_EMBED_DIR` set): the builds really are
/// in the program, each under the architecture its ELF header names.
#[cfg(feature = "embed-node-push")]
#[test]
fn the_embedded_builds_are_in_this_program() {
    assert!(!BUILDS.is_empty());
    let empty = tempfile::tempdir().unwrap();
    let catalog = NodePushCatalog::by_arch(Some(empty.path().to_path_buf()), BUILDS);
    for build in BUILDS {
        let binary = catalog.for_node("n", build.arch).unwrap();
        assert_eq!(binary.arch, Some(build.arch));
        assert_eq!(binary.bytes.len(), build.bytes.len());
    }
}
