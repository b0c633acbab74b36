//! The global symbol table: every non-local symbol name and COMDAT key of every object, interned
//! once to a dense [`SymbolId`]. Later steps of resolution index vectors by id instead of hashing
//! names again, and names stay borrowed from the mapped inputs.
//!
//! Interning is sharded by hash, wild-style: each name is hashed once (objects in parallel), then
//! each shard interns its names walking the objects in command-line order (shards in parallel).
//! Ids therefore depend on the inputs and the fixed shard count, never on the thread count.
use std::hash::BuildHasher;

use hashbrown::hash_table::{Entry, HashTable};

use rayon::prelude::*;
use rustc_hash::FxBuildHasher;

use crate::input::{Binding, Comdat, ObjectFile};

/// Index into [`SymbolTable::names`].
pub type SymbolId = u32;

/// A symbol with no global name: locals and unnamed entries.
pub const NONE: SymbolId = SymbolId::MAX;

/// A power of two: bits 40.. of a name's hash pick its shard. Not the low bits, which pick the
/// bucket within a shard's table, nor the top seven, which hashbrown keeps as each entry's tag:
/// both would then be the same across a shard, so its entries would cluster or all match.
const SHARDS: usize = 16;

pub struct SymbolTable<'d> {
    /// By id.
    pub names: Vec<&'d [u8]>,
    /// Per file, per symbol index: the symbol's id, or [`NONE`].
    pub ids: Vec<Box<[SymbolId]>>,
    /// Per file, per COMDAT group: its key's id ([`NONE`] for a group local to its object).
    pub comdat_keys: Vec<Box<[SymbolId]>>,
    shards: Vec<Shard<'d>>,
}

/// One shard's names, each mapped to its index within the shard. The table compares a name
/// against a copy of each interned name kept in the shard's own `bytes`, not against the first
/// occurrence in some other object's mapped symbol table: a lookup then touches the shard's
/// memory only.
#[derive(Default)]
struct Shard<'d> {
    index: HashTable<u32>,
    /// By index within the shard: the name as borrowed from its first object, its hash, and
    /// where its copy is in `bytes`.
    names: Vec<&'d [u8]>,
    hashes: Vec<u64>,
    copies: Vec<(u32, u32)>,
    bytes: Vec<u8>,
    /// The shard's first id.
    base: u32,
}

impl<'d> Shard<'d> {
    /// Room for `run`'s names, most of them new.
    fn reserve(&mut self, run: &[Prehashed<'d>]) {
        // Empty: the rehash function is never called.
        self.index.reserve(run.len(), |_| 0);
        self.names.reserve_exact(run.len());
        self.hashes.reserve_exact(run.len());
        self.copies.reserve_exact(run.len());
        self.bytes
            .reserve_exact(run.iter().map(|n| n.name.len()).sum());
    }

    fn copy(&self, i: u32) -> &[u8] {
        let (at, len) = self.copies[i as usize];
        &self.bytes[at as usize..(at + len) as usize]
    }

    /// The index of `name` within the shard, added if new.
    fn intern(&mut self, name: &Prehashed<'d>) -> u32 {
        let Shard {
            index,
            names,
            hashes,
            copies,
            bytes,
            ..
        } = self;
        let copy = |i: u32| {
            let (at, len) = copies[i as usize];
            &bytes[at as usize..(at + len) as usize]
        };
        match index.entry(
            name.hash,
            |&i| hashes[i as usize] == name.hash && copy(i) == name.bytes(),
            |&i| hashes[i as usize],
        ) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                let i = names.len() as u32;
                e.insert(i);
                names.push(name.name);
                hashes.push(name.hash);
                copies.push((bytes.len() as u32, name.name.len() as u32));
                bytes.extend_from_slice(name.bytes());
                i
            }
        }
    }

    fn get(&self, name: &Prehashed) -> Option<u32> {
        self.index
            .find(name.hash, |&i| self.copy(i) == name.bytes())
            .copied()
    }
}

/// Names up to this long travel with their hash: interning them reads no input again (each such
/// read would be a cache miss somewhere in the mapped objects).
const INLINE: usize = 16;

/// A name with its hash computed once.
#[derive(Clone, Copy)]
struct Prehashed<'d> {
    hash: u64,
    name: &'d [u8],
    /// The first [`INLINE`] bytes of `name`, copied while hashing had them in cache.
    inline: [u8; INLINE],
}

impl Prehashed<'_> {
    fn bytes(&self) -> &[u8] {
        match self.name.len() {
            n if n <= INLINE => &self.inline[..n],
            _ => self.name,
        }
    }
}

fn prehash(name: &[u8]) -> Prehashed<'_> {
    let mut inline = [0; INLINE];
    let n = name.len().min(INLINE);
    inline[..n].copy_from_slice(&name[..n]);
    Prehashed {
        hash: FxBuildHasher.hash_one(name),
        name,
        inline,
    }
}

fn shard_of(hash: u64) -> usize {
    (hash >> 40) as usize & (SHARDS - 1)
}

/// A global symbol's id, while interning has yet to give it.
const PENDING: SymbolId = NONE - 1;

/// Where a COMDAT group's key gets its id.
#[derive(Clone, Copy)]
enum Key {
    /// A group local to its object: none.
    Local,
    /// The object's symbol of that name (as every COFF COMDAT's key).
    Symbol(u32),
    /// Interned on its own.
    Own,
}

/// One object's names, hashed: non-local named symbols by symbol index, then the keys of its
/// non-local COMDAT groups that are not already among those symbols. Its ids are [`PENDING`]
/// where a name was taken, so that giving them out reads the object's symbols no second time.
struct Hashed<'d> {
    names: Vec<Prehashed<'d>>,
    /// How many of `names` fall in each shard.
    counts: [u32; SHARDS],
    ids: Box<[SymbolId]>,
    keys: Vec<Key>,
}

fn hash_object<'d>(obj: &ObjectFile<'d>) -> Hashed<'d> {
    let mut names = Vec::new();
    let ids = (obj.symbols.iter())
        .map(|s| match is_global(s.binding, s.name) {
            true => {
                names.push(prehash(s.name));
                PENDING
            }
            false => NONE,
        })
        .collect();
    let keys = (obj.comdats.iter())
        .map(|c| match (c.local, key_symbol(obj, c)) {
            (true, _) => Key::Local,
            (false, Some(s)) => Key::Symbol(s as u32),
            (false, None) => {
                names.push(prehash(c.key));
                Key::Own
            }
        })
        .collect();
    let mut counts = [0u32; SHARDS];
    for n in &names {
        counts[shard_of(n.hash)] += 1;
    }
    Hashed {
        names,
        counts,
        ids,
        keys,
    }
}

/// The global symbol of `obj` that a COMDAT group's key is the name of, if any: the key then
/// shares its id (as every COFF COMDAT's does), rather than being interned a second time.
fn key_symbol(obj: &ObjectFile, comdat: &Comdat) -> Option<usize> {
    let s = comdat.symbol? as usize;
    let sym = obj.symbols.get(s)?;
    (is_global(sym.binding, sym.name) && sym.name == comdat.key).then_some(s)
}

fn is_global(binding: Binding, name: &[u8]) -> bool {
    binding != Binding::Local && !name.is_empty()
}

impl<'d> SymbolTable<'d> {
    pub fn build(objects: &[ObjectFile<'d>]) -> SymbolTable<'d> {
        // Each object's names hashed, and how many fall in each shard.
        let hashed: Vec<Hashed<'d>> = objects.par_iter().map(hash_object).collect();

        // Every name in one list, shard after shard and in object order within a shard: each
        // shard then reads one contiguous run instead of a piece of every object's list.
        // `starts[f][s]` is where object `f`'s names of shard `s` begin in that list.
        let mut starts = Vec::with_capacity(objects.len());
        let mut next = [0u32; SHARDS];
        for s in 1..SHARDS {
            next[s] = next[s - 1] + hashed.iter().map(|h| h.counts[s - 1]).sum::<u32>();
        }
        let total = hashed.iter().map(|h| h.names.len()).sum::<usize>();
        let runs = {
            let mut runs = [0usize; SHARDS + 1];
            runs[..SHARDS]
                .iter_mut()
                .zip(&next)
                .for_each(|(r, &n)| *r = n as usize);
            runs[SHARDS] = total;
            runs
        };
        let mut flat = vec![prehash(b""); total];
        for Hashed { names, counts, .. } in &hashed {
            starts.push(next);
            let mut at = next;
            for n in names {
                let s = shard_of(n.hash);
                flat[at[s] as usize] = *n;
                at[s] += 1;
            }
            for (n, c) in next.iter_mut().zip(counts) {
                *n += c;
            }
        }

        // Each shard interns its run; `local[i]` is the index within its shard of `flat[i]`.
        let mut local = vec![0u32; total];
        let mut outs = Vec::with_capacity(SHARDS);
        let mut rest = &mut local[..];
        for s in 0..SHARDS {
            let (out, tail) = rest.split_at_mut(runs[s + 1] - runs[s]);
            outs.push(out);
            rest = tail;
        }
        let mut shards: Vec<Shard<'d>> = outs
            .into_par_iter()
            .enumerate()
            .map(|(s, out)| {
                let run = &flat[runs[s]..runs[s + 1]];
                let mut shard = Shard::default();
                shard.reserve(run);
                for (slot, n) in out.iter_mut().zip(run) {
                    *slot = shard.intern(n);
                }
                shard
            })
            .collect();
        let mut base = 0;
        for shard in &mut shards {
            shard.base = base;
            base += shard.names.len() as u32;
        }
        let names = shards
            .iter()
            .flat_map(|s| s.names.iter().copied())
            .collect();

        // Each object's pending ids, from its names' places in the shards' runs.
        let (ids, comdat_keys) = hashed
            .into_par_iter()
            .zip(&starts)
            .map(|(object, start)| {
                let Hashed {
                    names,
                    mut ids,
                    keys,
                    ..
                } = object;
                let mut cursor = *start;
                let mut names = names.iter();
                let mut next_id = || {
                    let n = names.next().expect("one hash per internable name");
                    let s = shard_of(n.hash);
                    let id = shards[s].base + local[cursor[s] as usize];
                    cursor[s] += 1;
                    id
                };
                for id in ids.iter_mut().filter(|id| **id == PENDING) {
                    *id = next_id();
                }
                let keys = (keys.iter())
                    .map(|k| match *k {
                        Key::Local => NONE,
                        Key::Symbol(s) => ids[s as usize],
                        Key::Own => next_id(),
                    })
                    .collect();
                (ids, keys)
            })
            .unzip();
        SymbolTable {
            names,
            ids,
            comdat_keys,
            shards,
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The id of `name`, if some object has it as a global symbol or COMDAT key.
    pub fn lookup(&self, name: &[u8]) -> Option<SymbolId> {
        let key = prehash(name);
        let shard = &self.shards[shard_of(key.hash)];
        shard.get(&key).map(|i| shard.base + i)
    }

    /// The id of symbol `symbol` of file `file`, or [`NONE`].
    pub fn id(&self, file: usize, symbol: usize) -> SymbolId {
        self.ids[file][symbol]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Format, InputSymbol, Selection, SymDef};

    fn object(symbols: &[(&'static str, Binding)], keys: &[&'static str]) -> ObjectFile<'static> {
        ObjectFile {
            name: "t.o".into(),
            format: Format::Coff,
            data: &[],
            sections: vec![],
            symbols: symbols
                .iter()
                .map(|&(name, binding)| InputSymbol {
                    name: name.as_bytes(),
                    binding,
                    def: SymDef::Undefined,
                    ..InputSymbol::NULL
                })
                .collect(),
            // A key names its same-named symbol, as in COFF; "z" has none.
            comdats: keys
                .iter()
                .map(|k| Comdat {
                    key: k.as_bytes(),
                    selection: Selection::Any,
                    sections: crate::input::GroupSections::Many(vec![]),
                    symbol: symbols.iter().position(|s| s.0 == *k).map(|i| i as u32),
                    local: false,
                })
                .collect(),
            default_libs: vec![],
            includes: vec![],
            addrsig: None,
        }
    }

    #[test]
    fn one_id_per_name_across_objects_and_none_for_locals() {
        use Binding::*;
        // Enough names that every shard holds several.
        let many: Vec<&'static str> = (0..500)
            .map(|i| &*Box::leak(format!("f{i}").into_boxed_str()))
            .collect();
        let a = object(
            &[("", Global), ("x", Global), ("local", Local), ("y", Weak)],
            &["x"],
        );
        let b = object(&[("y", Global), ("x", Global)], &[]);
        let c = object(&many.iter().map(|&n| (n, Global)).collect::<Vec<_>>(), &[]);
        let d = object(&[("f499", Weak), ("f0", Global)], &["z"]);
        let t = SymbolTable::build(&[a, b, c, d]);

        assert_eq!(t.len(), 2 + 500 + 1, "x, y, f0..f499, z");
        assert_eq!(&*t.ids[0], &[NONE, t.id(1, 1), NONE, t.id(1, 0)]);
        assert_eq!(
            t.comdat_keys[0][0],
            t.id(1, 1),
            "a COMDAT key shares its symbol's id"
        );
        assert_eq!(t.id(3, 0), t.id(2, 499));
        assert_eq!(t.id(3, 1), t.id(2, 0));
        for (i, name) in many.iter().enumerate() {
            let id = t.id(2, i);
            assert_eq!(t.names[id as usize], name.as_bytes());
            assert_eq!(t.lookup(name.as_bytes()), Some(id));
        }
        let mut ids: Vec<_> = t.ids[2].to_vec();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 500, "distinct names, distinct ids");
        assert_eq!(t.lookup(b"z"), Some(t.comdat_keys[3][0]));
        assert_eq!(t.lookup(b"local"), None);
        assert_eq!(t.lookup(b"nowhere"), None);
    }
}
