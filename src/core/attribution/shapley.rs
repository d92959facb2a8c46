//! Shapley attribution over channel sets.
//!
//! A coalition's worth v(S) is the conversion rate of the journeys whose set of distinct
//! channels is exactly S (0 where no journey has that set). A converting path with channel
//! set S gets the Shapley values of the game restricted to the subsets of S:
//! phi_i = sum over T in S \ {i} of |T|! (|S| - |T| - 1)! / |S|! x (v(T + i) - v(T)),
//! exactly up to `EXACT_MAX_CHANNELS` channels, and by `SAMPLED_PERMUTATIONS` seeded random
//! orderings beyond (each ordering credits each channel with its marginal worth when it joins).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rustc_hash::FxHashMap;

use crate::core::journey::ChannelId;

pub const EXACT_MAX_CHANNELS: usize = 16;
pub const SAMPLED_PERMUTATIONS: usize = 2000;

/// Weighted conversions and journeys per exact channel set, then Shapley values per set.
#[derive(Default)]
pub struct Shapley {
    /// sorted distinct channels -> (conversions, conversions + nulls)
    sets: FxHashMap<Box<[ChannelId]>, (f64, f64)>,
    seed: u64,
    values: FxHashMap<Box<[ChannelId]>, Box<[f64]>>,
    buffer: Vec<ChannelId>,
}

impl Shapley {
    pub fn new(seed: u64) -> Self {
        Shapley { seed, ..Default::default() }
    }

    /// One journey's channels (any order, repeats allowed).
    pub fn add_journey(
        &mut self,
        channels: impl IntoIterator<Item = ChannelId>,
        conversions: f64,
        nulls: f64,
    ) {
        let set = distinct_sorted(&mut self.buffer, channels);
        if set.is_empty() {
            return;
        }
        match self.sets.get_mut(set) {
            Some(counts) => {
                counts.0 += conversions;
                counts.1 += conversions + nulls;
            }
            None => {
                self.sets.insert(set.into(), (conversions, conversions + nulls));
            }
        }
    }

    fn worth(&self, set: &[ChannelId]) -> f64 {
        match self.sets.get(set) {
            Some(&(conversions, journeys)) if journeys > 0.0 => conversions / journeys,
            _ => 0.0,
        }
    }

    /// The Shapley value of each channel of `set` (sorted, distinct), in the same order.
    pub fn values(&mut self, set: &[ChannelId]) -> &[f64] {
        if !self.values.contains_key(set) {
            let values = if set.len() <= EXACT_MAX_CHANNELS { self.exact(set) } else { self.sampled(set) };
            self.values.insert(set.into(), values.into());
        }
        &self.values[set]
    }

    fn exact(&self, set: &[ChannelId]) -> Vec<f64> {
        let n = set.len();
        // weight[t] = t! (n - t - 1)! / n!, by the recurrence weight[t + 1] = weight[t] (t + 1) / (n - t - 1)
        let mut weight = vec![1.0 / n as f64; n];
        for t in 0..n.saturating_sub(1) {
            weight[t + 1] = weight[t] * (t + 1) as f64 / (n - t - 1) as f64;
        }
        let mut members = Vec::with_capacity(n);
        let worth: Vec<f64> = (0..1usize << n)
            .map(|mask| {
                members.clear();
                members.extend((0..n).filter(|i| mask & (1 << i) != 0).map(|i| set[i]));
                self.worth(&members)
            })
            .collect();
        let mut phi = vec![0.0; n];
        // every coalition but the full one, which no channel can join
        for (mask, &without) in worth[..worth.len() - 1].iter().enumerate() {
            let w = weight[mask.count_ones() as usize];
            for (i, value) in phi.iter_mut().enumerate() {
                if mask & (1 << i) == 0 {
                    *value += w * (worth[mask | (1 << i)] - without);
                }
            }
        }
        phi
    }

    fn sampled(&self, set: &[ChannelId]) -> Vec<f64> {
        // seeded by the set too, so a set's values do not depend on which sets came before
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed ^ set_hash(set));
        let n = set.len();
        let mut order: Vec<usize> = (0..n).collect();
        let mut coalition: Vec<ChannelId> = Vec::with_capacity(n);
        let mut phi = vec![0.0; n];
        for _ in 0..SAMPLED_PERMUTATIONS {
            order.shuffle(&mut rng);
            coalition.clear();
            let mut before = 0.0;
            for &i in &order {
                let at = coalition.partition_point(|&c| c < set[i]);
                coalition.insert(at, set[i]);
                let after = self.worth(&coalition);
                phi[i] += after - before;
                before = after;
            }
        }
        phi.iter().map(|v| v / SAMPLED_PERMUTATIONS as f64).collect()
    }
}

/// FNV-1a (64 bits) of the set's channel ids as 4-byte little-endian integers: a hash
/// fixed by its definition (docs/attribution.md), unlike a hasher's, whose output a crate
/// may change between versions.
fn set_hash(set: &[ChannelId]) -> u64 {
    crate::core::hash::fnv1a64(set.iter().flat_map(|id| id.to_le_bytes()))
}

/// The distinct channels of a path, sorted, in `buffer`.
pub fn distinct_sorted(
    buffer: &mut Vec<ChannelId>,
    channels: impl IntoIterator<Item = ChannelId>,
) -> &[ChannelId] {
    buffer.clear();
    buffer.extend(channels);
    buffer.sort_unstable();
    buffer.dedup();
    buffer
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ChannelId = 0;
    const B: ChannelId = 1;
    const C: ChannelId = 2;

    /// v({A}) = 0.1, v({B}) = 0.2, v({A,B}) = 0.5, v({A,C}) = 0.3, v({A,B,C}) = 0.6;
    /// {C} and {B,C} were never seen: 0.
    fn game() -> Shapley {
        let mut s = Shapley::new(0);
        s.add_journey([A], 1.0, 9.0);
        s.add_journey([B, B], 2.0, 8.0); // repeats count once
        s.add_journey([B, A], 5.0, 5.0);
        s.add_journey([C, A], 3.0, 7.0);
        s.add_journey([A, B, C], 6.0, 4.0);
        s
    }

    fn assert_close(actual: &[f64], expected: &[f64]) {
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{actual:?} vs {expected:?}");
        }
    }

    #[test]
    fn two_channels_by_hand() {
        // phi_A = 1/2 (v(A) - 0) + 1/2 (v(AB) - v(B)) = 0.05 + 0.15 = 0.2
        // phi_B = 1/2 (v(B) - 0) + 1/2 (v(AB) - v(A)) = 0.1 + 0.2 = 0.3; sum = v(AB)
        assert_close(game().values(&[A, B]), &[0.2, 0.3]);
    }

    #[test]
    fn three_channels_by_hand() {
        // weights by coalition size before joining: 0 -> 1/3, 1 -> 1/6, 2 -> 1/3.
        // phi_A = 1/3 (0.1) + 1/6 (0.5 - 0.2) + 1/6 (0.3 - 0) + 1/3 (0.6 - 0) = 1/3
        // phi_B = 1/3 (0.2) + 1/6 (0.5 - 0.1) + 1/6 (0 - 0) + 1/3 (0.6 - 0.3) = 7/30
        // phi_C = 1/3 (0) + 1/6 (0.3 - 0.1) + 1/6 (0 - 0.2) + 1/3 (0.6 - 0.5) = 1/30
        assert_close(game().values(&[A, B, C]), &[1.0 / 3.0, 7.0 / 30.0, 1.0 / 30.0]);
    }

    #[test]
    fn sampling_beyond_sixteen_channels_is_seeded_and_efficient() {
        // Only the full set of 18 converts (rate 1/2): by symmetry each channel's exact value is
        // 1/36. Each sampled ordering credits v(N) to the channel that joins last, so the sum is
        // exact and each estimate is 1/2 x (share of orderings it came last in).
        let set: Vec<ChannelId> = (0..18).collect();
        let sampled = |seed| {
            let mut s = Shapley::new(seed);
            s.add_journey(set.iter().copied(), 1.0, 1.0);
            s.values(&set).to_vec()
        };
        let values = sampled(1);
        assert!((values.iter().sum::<f64>() - 0.5).abs() < 1e-12);
        assert!(values.iter().all(|v| (v - 1.0 / 36.0).abs() < 0.35 / 36.0), "{values:?}");
        assert_eq!(values, sampled(1));
        assert_ne!(values, sampled(2));
    }

    #[test]
    fn the_set_hash_is_fnv_1a() {
        // Expected values from an independent implementation of the definition (Python), which
        // reproduces the published vectors FNV-1a 64("a") = af63dc4c8601ec8c and ("foobar") =
        // 85944171f73967e8.
        assert_eq!(set_hash(&[]), 0xcbf2_9ce4_8422_2325, "the offset basis");
        assert_eq!(set_hash(&[0x6463_6261]), 0xfc17_9f83_ee07_24dd, "the bytes of \"abcd\"");
        assert_eq!(set_hash(&[1, 2]), 0xc9c2_8939_c996_68c6, "01 00 00 00 02 00 00 00");
    }
}
