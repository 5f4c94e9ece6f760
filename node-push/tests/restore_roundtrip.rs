//! Restore and verify end to end: trees uploaded with the node-push binary to a real SeaweedFS (and to the
//! local store) come back byte for byte through `node-push restore` (plan on stdin, plan file, and by hand
//! from the manifest with `--until`); damaged, replaced and missing objects fail by key without leaving a
//! file or a `.part` behind, and `verify` finds each damage at the depth that can see it; a full disk is
//! named; closing stdin cancels; a backup the old tool wrote (real `lzop` output, both key forms, format-0
//! manifest) restores in its flat layout; a 256 MiB file restores with bounded memory; a backup holding one SSTable name
//! as a snapshot file, a duplicate in `backups/` and a `~1` variant restores each SSTable once and whole.

#[path = "restore_roundtrip/damage.rs"]
mod damage;
#[path = "restore_roundtrip/legacy.rs"]
mod legacy;
#[path = "restore_roundtrip/local.rs"]
mod local;
#[path = "restore_roundtrip/round_trip.rs"]
mod round_trip;
#[path = "support/mod.rs"]
mod support;
#[path = "restore_roundtrip/variants.rs"]
mod variants;
