//! Hashes fixed by their definitions (docs), unlike a hasher's, whose output a crate may
//! change between versions: results that depend on them stay the same across versions and
//! platforms.

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, 64 bits, of `bytes`.
pub fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(FNV_OFFSET_BASIS, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME))
}

/// MurmurHash3's 64-bit finaliser: every input bit reaches every output bit. FNV-1a alone
/// leaves the high bits of keys that differ in their last character close together.
pub fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The seeded hash of a key's text: fmix64(FNV-1a 64 of the seed's 8 bytes, little-endian,
/// followed by the key's UTF-8 bytes).
pub fn key_hash(seed: u64, key: &str) -> u64 {
    fmix64(fnv1a64(seed.to_le_bytes().into_iter().chain(key.bytes())))
}

/// The key's place in [0, 1): its seeded hash over 2^64. A share s of keys has a place
/// below s.
pub fn key_place(seed: u64, key: &str) -> f64 {
    // the top 53 bits, so that the division is exact
    (key_hash(seed, key) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_and_fmix64_reproduce_published_vectors() {
        // FNV-1a 64: the vectors of the FNV reference (draft-eastlake-fnv), "a" and "foobar".
        assert_eq!(fnv1a64(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(*b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(*b"foobar"), 0x8594_4171_f739_67e8);
        // fmix64 of 0 is 0 (every step keeps it); the other values come from an independent
        // Python implementation of the definitions above.
        assert_eq!(fmix64(0), 0);
        assert_eq!(fmix64(1), 0xb456_bcfc_34c2_cb2c);
        assert_eq!(key_hash(0, "42"), 0x93b9_41aa_a441_f70c);
        assert_eq!(key_hash(7, "customer 1"), 0xd97d_61cf_e596_2ce3);
        assert_eq!(key_place(0, "42"), 0.5770455400090737);
    }

    #[test]
    fn key_places_spread_evenly_over_consecutive_keys() {
        // 100,000 keys "1".."100000": each tenth of [0, 1) holds 10% +- 0.3%, where FNV-1a
        // alone would put keys differing in the last digit next to each other.
        let mut tenths = [0u32; 10];
        for key in 1..=100_000 {
            let place = key_place(0, &key.to_string());
            assert!((0.0..1.0).contains(&place));
            tenths[(place * 10.0) as usize] += 1;
        }
        assert!(tenths.iter().all(|&n| (9_700..=10_300).contains(&n)), "{tenths:?}");
        assert_ne!(key_place(0, "42"), key_place(1, "42"), "the seed changes the place");
    }
}
