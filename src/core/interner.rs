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

    /// The distinct names in byte order, and for each old id its new id.
    pub fn into_sorted(self) -> (Vec<String>, Vec<u32>) {
        let mut named: Vec<(String, u32)> = Vec::with_capacity(self.count as usize);
        named.extend(self.text_ids.into_iter().map(|(name, id)| (name.into_string(), id)));
        named.extend(self.integer_ids.into_iter().map(|(value, id)| (value.to_string(), id)));
        named.sort_unstable();
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let (names, new_id) = interner.into_sorted();
        assert_eq!(names, ["-3", "42", "7"]);
        assert_eq!(new_id[a as usize], 1);
        assert_eq!(new_id[c as usize], 1);
        assert_eq!(new_id[b as usize], 2);
        assert_eq!(new_id[d as usize], 0);
    }
}
