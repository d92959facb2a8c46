//! How well scores rank and calibrate labels: the metrics of propensity_metrics and the
//! gains table of propensity_evaluate (definitions: docs/propensity.md).

use serde::{Deserialize, Serialize};

/// One scored row: its key (ties in the gains table go by key), probability and label.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub key: String,
    pub score: f64,
    pub label: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// None unless both classes are present.
    pub auc: Option<f64>,
    pub log_loss: f64,
    pub brier: f64,
    pub accuracy: f64,
    pub base_rate: f64,
    pub rows: u64,
}

/// Probabilities are clipped to [eps, 1 - eps] for the log loss, eps the float8 machine
/// epsilon, as scikit-learn's log_loss does, so that a confident miss costs 36, not infinity.
const CLIP: f64 = f64::EPSILON;

/// The metrics of `rows`; None for no rows.
pub fn metrics(rows: &[Scored]) -> Option<Metrics> {
    if rows.is_empty() {
        return None;
    }
    let n = rows.len() as f64;
    let positives = rows.iter().filter(|r| r.label).count();
    let (mut log_loss, mut brier, mut correct) = (0.0, 0.0, 0usize);
    for row in rows {
        let p = row.score.clamp(CLIP, 1.0 - CLIP);
        log_loss -= if row.label { p.ln() } else { (1.0 - p).ln() };
        let y = if row.label { 1.0 } else { 0.0 };
        brier += (row.score - y) * (row.score - y);
        // a score of exactly 0.5 predicts the negative class, as scikit-learn's predict
        correct += usize::from((row.score > 0.5) == row.label);
    }
    Some(Metrics {
        auc: auc(rows),
        log_loss: log_loss / n,
        brier: brier / n,
        accuracy: correct as f64 / n,
        base_rate: positives as f64 / n,
        rows: rows.len() as u64,
    })
}

/// The Mann-Whitney statistic: the share of (positive, negative) pairs whose positive
/// scores higher, ties counted one half. None without both classes.
pub fn auc(rows: &[Scored]) -> Option<f64> {
    let mut scores: Vec<(f64, bool)> = rows.iter().map(|r| (r.score, r.label)).collect();
    scores.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let positives = scores.iter().filter(|s| s.1).count() as f64;
    let negatives = scores.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    // per run of equal scores: pairs won against the negatives below, half the tied ones
    let (mut wins, mut negatives_below) = (0.0, 0.0);
    let mut start = 0;
    while start < scores.len() {
        // total_cmp, so that a run always holds at least its first score (NaN != NaN)
        let first = scores[start].0;
        let end = start + scores[start..].iter().take_while(|s| s.0.total_cmp(&first).is_eq()).count();
        let run_positives = scores[start..end].iter().filter(|s| s.1).count() as f64;
        let run_negatives = (end - start) as f64 - run_positives;
        wins += run_positives * (negatives_below + 0.5 * run_negatives);
        negatives_below += run_negatives;
        start = end;
    }
    Some(wins / (positives * negatives))
}

/// One bin of the gains table.
#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    pub bin: u32,
    pub customers: u64,
    pub positives: u64,
    pub min_score: f64,
    pub max_score: f64,
    pub rate: f64,
    /// rate / the overall rate; None when there are no positives.
    pub lift: Option<f64>,
    /// Positives in bins 1..=bin over all positives; None when there are none.
    pub cumulative_positives_share: Option<f64>,
}

/// The rows by descending score (ties by key, then negatives first), cut into `bins` bins as
/// SQL's ntile cuts them: sizes differ by at most one, the first bins the larger. Fewer rows
/// than bins give one bin per row.
pub fn gains(mut rows: Vec<Scored>, bins: u32) -> Vec<Bin> {
    rows.sort_unstable_by(|a, b| {
        b.score.total_cmp(&a.score).then_with(|| a.key.cmp(&b.key)).then(a.label.cmp(&b.label))
    });
    let n = rows.len();
    let bins = (bins as usize).min(n).max(1);
    let total_positives = rows.iter().filter(|r| r.label).count() as f64;
    let overall_rate = total_positives / n as f64;
    let (size, larger) = (n / bins, n % bins);
    let mut table = Vec::with_capacity(bins);
    let (mut start, mut cumulative) = (0, 0.0);
    for b in 0..bins.min(n) {
        let end = start + size + usize::from(b < larger);
        let members = &rows[start..end];
        let positives = members.iter().filter(|r| r.label).count();
        cumulative += positives as f64;
        let rate = positives as f64 / members.len() as f64;
        table.push(Bin {
            bin: b as u32 + 1,
            customers: members.len() as u64,
            positives: positives as u64,
            min_score: members[members.len() - 1].score,
            max_score: members[0].score,
            rate,
            lift: (total_positives > 0.0).then(|| rate / overall_rate),
            cumulative_positives_share: (total_positives > 0.0).then(|| cumulative / total_positives),
        });
        start = end;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(rows: &[(&str, f64, bool)]) -> Vec<Scored> {
        rows.iter().map(|&(key, score, label)| Scored { key: key.into(), score, label }).collect()
    }

    #[test]
    fn auc_counts_ties_one_half() {
        // By hand: positives 0.9, 0.5, 0.5; negatives 0.5, 0.1. Pairs: 0.9 beats both (2),
        // each 0.5 ties 0.5 (1/2) and beats 0.1 (1): 2 + 2 x 1.5 = 5 of 6.
        let rows = scored(&[
            ("a", 0.9, true),
            ("b", 0.5, true),
            ("c", 0.5, true),
            ("d", 0.5, false),
            ("e", 0.1, false),
        ]);
        assert_eq!(auc(&rows), Some(5.0 / 6.0));
        // all tied: one half; one class: none
        assert_eq!(auc(&scored(&[("a", 0.3, true), ("b", 0.3, false)])), Some(0.5));
        assert_eq!(auc(&scored(&[("a", 0.3, true)])), None);
        // NaN scores end the count like any other (sorted last): no endless loop
        assert_eq!(
            auc(&scored(&[("a", f64::NAN, true), ("b", f64::NAN, true), ("c", 0.1, false)])),
            Some(1.0)
        );
    }

    #[test]
    fn metrics_by_hand() {
        let rows = scored(&[("a", 0.8, true), ("b", 0.4, false), ("c", 0.5, true), ("d", 1.0, false)]);
        let m = metrics(&rows).unwrap();
        // log loss: -(ln 0.8 + ln 0.6 + ln 0.5 + ln eps) / 4
        let expected = -(0.8f64.ln() + 0.6f64.ln() + 0.5f64.ln() + f64::EPSILON.ln()) / 4.0;
        assert!((m.log_loss - expected).abs() < 1e-12, "{m:?}");
        assert!((m.brier - (0.04 + 0.16 + 0.25 + 1.0) / 4.0).abs() < 1e-15);
        // 0.8 right, 0.4 right, 0.5 predicts negative (wrong), 1.0 wrong
        assert_eq!(m.accuracy, 0.5);
        assert_eq!((m.base_rate, m.rows), (0.5, 4));
        // positives 0.8, 0.5 against negatives 0.4, 1.0: 0.8 > 0.4, 0.5 > 0.4: 2 of 4
        assert_eq!(m.auc, Some(0.5));
        assert_eq!(metrics(&[]), None);
    }

    #[test]
    fn gains_cut_like_ntile_with_ties_by_key() {
        // 7 rows in 3 bins: sizes 3, 2, 2. Ties at 0.5 go by key: c before d.
        let rows = scored(&[
            ("g", 0.1, false),
            ("d", 0.5, false),
            ("a", 0.9, true),
            ("c", 0.5, true),
            ("b", 0.7, false),
            ("e", 0.3, true),
            ("f", 0.2, false),
        ]);
        let table = gains(rows, 3);
        let summary: Vec<_> =
            table.iter().map(|b| (b.bin, b.customers, b.positives, b.min_score, b.max_score)).collect();
        assert_eq!(summary, [(1, 3, 2, 0.5, 0.9), (2, 2, 1, 0.3, 0.5), (3, 2, 0, 0.1, 0.2)]);
        // overall rate 3/7: bin 1's rate 2/3 is a lift of 14/9
        assert!((table[0].lift.unwrap() - 14.0 / 9.0).abs() < 1e-15);
        let shares: Vec<_> = table.iter().map(|b| b.cumulative_positives_share.unwrap()).collect();
        assert_eq!(shares, [2.0 / 3.0, 1.0, 1.0]);
        // more bins than rows: a bin per row; no positives: no lift
        let table = gains(scored(&[("a", 0.2, false), ("b", 0.1, false)]), 10);
        assert_eq!(table.len(), 2);
        assert_eq!((table[0].lift, table[1].cumulative_positives_share), (None, None));
    }
}
