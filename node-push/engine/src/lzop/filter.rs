//! lzop's delta filters (`--filter=N`, N = 1..=16): before compression each byte is replaced by its
//! difference to the byte N positions earlier in the same block, which helps on sampled data.
//! The filter restarts at every block.

/// Undoes filter `distance` (0 = none) in place, turning stored bytes back into the original.
pub(crate) fn undo_delta_filter(block: &mut [u8], distance: u32) {
    let distance = distance as usize;
    if distance == 0 {
        return;
    }
    for i in distance..block.len() {
        block[i] = block[i].wrapping_add(block[i - distance]);
    }
}

/// Applies filter `distance` (0 = none) in place, as lzop does before compressing a block.
pub(crate) fn apply_delta_filter(block: &mut [u8], distance: u32) {
    let distance = distance as usize;
    if distance == 0 {
        return;
    }
    // Backwards, so every byte is differenced against the original value before it.
    for i in (distance..block.len()).rev() {
        block[i] = block[i].wrapping_sub(block[i - distance]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_invert_each_other_for_every_distance() {
        let original: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 3) as u8).collect();
        for distance in 0..=16 {
            let mut block = original.clone();
            apply_delta_filter(&mut block, distance);
            if distance > 0 {
                assert_ne!(block, original, "distance {distance} changed nothing");
            }
            undo_delta_filter(&mut block, distance);
            assert_eq!(block, original, "distance {distance}");
        }
    }

    #[test]
    fn matches_lzop_definition_for_distance_one() {
        // lzop's t_sub1: each byte minus the previous original byte.
        let mut block = vec![10u8, 13, 13, 200, 0];
        apply_delta_filter(&mut block, 1);
        assert_eq!(block, vec![10, 3, 0, 187, 56]);
    }
}
