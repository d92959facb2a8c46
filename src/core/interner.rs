//! Names (journey keys, customer keys, channels) to dense ids.

use rustc_hash::FxHashMap;

/// A key as read: integer columns stay integers until the end, so interning them needs
/// no text; any other type is its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    Integer(i64),
    Text(&'a str),
}

impl<'a> From<&'a str> for Key<'a> {
    fn from(text: &'a str) -> Self {
        Key::Text(text)
    }
}

/// Names to dense ids; `into_sorted` renumbers them in byte order of the names, so that
/// comparing ids compares names. An integer and a text with the same name (42 and '42',
/// from two inputs with different key types) end up as one id.
#[derive(Default)]
pub struct Interner {
    text_ids: FxHashMap<Box<str>, u32>,
    integer_ids: FxHashMap<i64, u32>,
    count: u32,
}

impl Interner {
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.text_ids.get(name) {
            return id;
        }
        let id = self.count;
        self.count += 1;
        self.text_ids.insert(name.into(), id);
        id
    }

    pub fn key_id(&mut self, key: Key) -> u32 {
        match key {
            Key::Text(name) => self.id(name),
            Key::Integer(value) => {
                let next = self.count;
                let id = *self.integer_ids.entry(value).or_insert(next);
                if id == next {
                    self.count += 1;
                }
                id
            }
        }
    }

    /// The id of a key seen before, without adding it. An integer finds the text of its
    /// digits and the other way round, as `into_sorted` would merge them.
    pub fn find(&self, key: Key) -> Option<u32> {
        match key {
            Key::Integer(value) => self.integer_ids.get(&value).copied().or_else(|| {
                (!self.text_ids.is_empty())
                    .then(|| self.text_ids.get(itoa::Buffer::new().format(value)).copied())?
            }),
            Key::Text(name) => self.text_ids.get(name).copied().or_else(|| {
                let value: i64 = name.parse().ok().filter(|_| !self.integer_ids.is_empty())?;
                (itoa::Buffer::new().format(value) == name).then(|| self.integer_ids.get(&value).copied())?
            }),
        }
    }

    /// The integer keys and their ids.
    pub fn integer_ids(&self) -> impl Iterator<Item = (i64, u32)> + '_ {
        self.integer_ids.iter().map(|(&value, &id)| (value, id))
    }

    /// The name behind an id, by a scan of every key: for error messages only.
    pub fn name_of(&self, id: u32) -> Option<String> {
        let integer = self.integer_ids.iter().find(|(_, &i)| i == id).map(|(value, _)| value.to_string());
        integer.or_else(|| self.text_ids.iter().find(|(_, &i)| i == id).map(|(name, _)| name.to_string()))
    }

    pub fn has_text_keys(&self) -> bool {
        !self.text_ids.is_empty()
    }

    /// How many ids were given out.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The distinct names in byte order, and for each old id its new id. Calls `interrupt`
    /// during the sort, which at millions of text keys takes about a second.
    pub fn into_sorted(self, interrupt: &mut dyn FnMut()) -> (Vec<String>, Vec<u32>) {
        if self.text_ids.is_empty() {
            return self.integers_into_sorted(interrupt);
        }
        let mut named: Vec<(String, u32)> = Vec::with_capacity(self.count as usize);
        named.extend(self.text_ids.into_iter().map(|(name, id)| (name.into_string(), id)));
        named.extend(self.integer_ids.into_iter().map(|(value, id)| (value.to_string(), id)));
        sort_interruptibly(&mut named, Ord::cmp, interrupt);
        let mut new_id = vec![0; named.len()];
        let mut names: Vec<String> = Vec::with_capacity(named.len());
        for (name, old) in named {
            if names.last() != Some(&name) {
                names.push(name);
            }
            new_id[old as usize] = names.len() as u32 - 1;
        }
        (names, new_id)
    }

    /// into_sorted when every key is an integer (the usual customer id): sorted by a number
    /// that orders as their text does, so no text is made or compared until the end (a
    /// profile of a million keys spent most of the sort in comparing strings).
    fn integers_into_sorted(self, interrupt: &mut dyn FnMut()) -> (Vec<String>, Vec<u32>) {
        let mut keyed: Vec<(u128, i64, u32)> =
            self.integer_ids.into_iter().map(|(value, id)| (text_order(value), value, id)).collect();
        sort_interruptibly(&mut keyed, |a, b| a.0.cmp(&b.0), interrupt);
        let mut new_id = vec![0; keyed.len()];
        let names = keyed
            .into_iter()
            .enumerate()
            .map(|(position, (_, value, old))| {
                new_id[old as usize] = position as u32;
                value.to_string()
            })
            .collect();
        (names, new_id)
    }
}

/// Comparisons between two calls of `interrupt`: well under a millisecond of work.
const COMPARISONS_PER_INTERRUPT: u32 = 1 << 14;

/// sort_unstable_by that calls `interrupt` every few thousand comparisons. `interrupt`
/// stops a call by raising, which unwinds out of the sort (sort_unstable_by is safe
/// for a comparison that panics, leaving the slice in some order).
pub fn sort_interruptibly<T>(
    items: &mut [T],
    mut compare: impl FnMut(&T, &T) -> std::cmp::Ordering,
    interrupt: &mut dyn FnMut(),
) {
    let mut comparisons = 0u32;
    items.sort_unstable_by(|a, b| {
        comparisons = comparisons.wrapping_add(1);
        if comparisons.is_multiple_of(COMPARISONS_PER_INTERRUPT) {
            interrupt();
        }
        compare(a, b)
    });
}

/// A number whose order is the byte order of `value`'s decimal text: its digits (at most
/// 20) as base-11 digits 1..=10, left-aligned and padded with 0, so that a prefix sorts
/// first ("1" < "10" < "2"); '-' sorts before every digit, so negatives come first.
fn text_order(value: i64) -> u128 {
    let mut digits = itoa::Buffer::new();
    let text = digits.format(value.unsigned_abs());
    let mut order = 0u128;
    for position in 0..20 {
        let digit = text.as_bytes().get(position).map_or(0, |&b| u128::from(b - b'0') + 1);
        order = order * 11 + digit;
    }
    if value >= 0 {
        order | 1 << 100
    } else {
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_keys_sort_as_their_text() {
        let mut state = 7u64;
        let mut values: Vec<i64> =
            vec![0, 1, -1, 9, 10, 19, 2, 100, -10, -2, i64::MAX, i64::MIN, i64::MIN + 1];
        values.extend((0..5000).map(|i| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let x = (state >> 1) as i64;
            // a spread of magnitudes and signs
            if i % 3 == 0 {
                -(x >> (i % 60))
            } else {
                x >> (i % 63)
            }
        }));
        let mut interner = Interner::default();
        values.iter().for_each(|&v| {
            interner.key_id(Key::Integer(v));
        });
        let (names, new_id) = interner.into_sorted(&mut || ());
        let mut texts: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(names, texts, "the order of the text, computed independently by sorting the text");
        // ids follow the names
        let mut again = Interner::default();
        let ids: Vec<u32> = values.iter().map(|&v| again.key_id(Key::Integer(v))).collect();
        for (value, id) in values.iter().zip(ids) {
            assert_eq!(names[new_id[id as usize] as usize], value.to_string());
        }
    }

    #[test]
    fn the_sort_of_many_keys_calls_interrupt_and_stops_when_it_raises() {
        let keys = |texts: bool| {
            let mut interner = Interner::default();
            for i in 0..200_000i64 {
                let value = i.wrapping_mul(7_919) % 1_000_003;
                match texts {
                    true => interner.id(&format!("customer {value}")),
                    false => interner.key_id(Key::Integer(value)),
                };
            }
            interner
        };
        for texts in [true, false] {
            let mut calls = 0;
            let (names, _) = keys(texts).into_sorted(&mut || calls += 1);
            // a comparison sort of n keys makes at least log2(n!) ~ n (log2 n - 1.44) comparisons
            let at_least =
                (200_000.0 * (200_000f64.log2() - 1.44) / f64::from(COMPARISONS_PER_INTERRUPT)) as u32;
            assert!(calls >= at_least, "{calls} interrupts, expected at least {at_least}");
            assert!(names.windows(2).all(|w| w[0] < w[1]));
            let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                keys(texts).into_sorted(&mut || panic!("cancelled"));
            }));
            assert!(stopped.is_err(), "a raising interrupt ends the sort");
        }
    }

    #[test]
    fn integer_and_text_keys_with_one_name_are_one_key() {
        let mut interner = Interner::default();
        let a = interner.key_id(Key::Integer(42));
        let b = interner.key_id(Key::Text("7"));
        let c = interner.key_id(Key::Text("42"));
        let d = interner.key_id(Key::Integer(-3));
        assert_eq!(interner.key_id(Key::Integer(42)), a);
        assert_eq!(interner.find(Key::Text("42")), Some(c));
        assert_eq!(interner.find(Key::Integer(7)), Some(b));
        assert_eq!(interner.find(Key::Text("-3")), Some(d));
        assert_eq!(interner.find(Key::Text("042")), None);
        assert_eq!(interner.find(Key::Integer(8)), None);
        assert_eq!(interner.name_of(d).as_deref(), Some("-3"));
        assert_eq!(interner.name_of(b).as_deref(), Some("7"));
        assert_eq!(interner.name_of(99), None);
        let (names, new_id) = interner.into_sorted(&mut || ());
        assert_eq!(names, ["-3", "42", "7"]);
        assert_eq!(new_id[a as usize], 1);
        assert_eq!(new_id[c as usize], 1);
        assert_eq!(new_id[b as usize], 2);
        assert_eq!(new_id[d as usize], 0);
    }
}
