//! The token allocator: a slab over the token range the application gave.
//!
//! Token `start + i` names entry `i`. Freed entries are reused last-in
//! first-out, so the live tokens stay packed at the bottom of the range and
//! the vector only grows to the peak number of sockets held at once.

use std::ops::Range;

use mio::Token;

/// A slab of `T` addressed by mio tokens in a fixed range.
#[derive(Debug)]
pub(crate) struct Slots<T> {
    start: usize,
    len: usize,
    entries: Vec<Option<T>>,
    free: Vec<usize>,
}

impl<T> Slots<T> {
    pub(crate) fn new(range: Range<Token>) -> Slots<T> {
        Slots {
            start: range.start.0,
            len: range.end.0.saturating_sub(range.start.0),
            entries: Vec::new(),
            free: Vec::new(),
        }
    }

    /// How many tokens the range has.
    pub(crate) fn capacity(&self) -> usize {
        self.len
    }

    /// Stores `value` under a free token; `None` when the range is full.
    pub(crate) fn insert(&mut self, value: T) -> Option<Token> {
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.entries.len() < self.len => {
                self.entries.push(None);
                self.entries.len() - 1
            }
            None => return None,
        };
        self.entries[index] = Some(value);
        Some(Token(self.start + index))
    }

    fn index(&self, token: Token) -> Option<usize> {
        let index = token.0.checked_sub(self.start)?;
        (index < self.entries.len()).then_some(index)
    }

    pub(crate) fn get_mut(&mut self, token: Token) -> Option<&mut T> {
        let index = self.index(token)?;
        self.entries[index].as_mut()
    }

    pub(crate) fn remove(&mut self, token: Token) -> Option<T> {
        let index = self.index(token)?;
        let value = self.entries[index].take()?;
        self.free.push(index);
        Some(value)
    }

    /// Every stored value, emptying the slab.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.free.clear();
        self.entries.drain(..).flatten()
    }

    /// How many values are stored.
    pub(crate) fn occupied(&self) -> usize {
        self.entries.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_stay_in_range_and_are_reused() {
        let mut slots = Slots::new(Token(10)..Token(13));
        assert_eq!(slots.capacity(), 3);
        let a = slots.insert('a').unwrap();
        let b = slots.insert('b').unwrap();
        let c = slots.insert('c').unwrap();
        assert_eq!((a, b, c), (Token(10), Token(11), Token(12)));
        assert_eq!(slots.insert('d'), None);
        assert_eq!(slots.remove(b), Some('b'));
        assert_eq!(slots.remove(b), None);
        assert_eq!(slots.get_mut(Token(9)), None);
        assert_eq!(slots.get_mut(Token(13)), None);
        assert_eq!(slots.insert('e'), Some(b));
        assert_eq!(slots.occupied(), 3);
        let mut all: Vec<char> = slots.drain().collect();
        all.sort_unstable();
        assert_eq!(all, ['a', 'c', 'e']);
        assert_eq!(slots.occupied(), 0);
        assert_eq!(slots.insert('f'), Some(Token(10)));
    }

    #[test]
    fn an_empty_or_inverted_range_holds_nothing() {
        let mut slots = Slots::new(Token(5)..Token(5));
        assert_eq!(slots.insert(1), None);
        #[allow(clippy::reversed_empty_ranges)]
        let mut slots = Slots::new(Token(5)..Token(2));
        assert_eq!(slots.insert(1), None);
    }
}
