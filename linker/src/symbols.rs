//! The global symbol table: every non-local symbol name and COMDAT key of every object, interned
//! once to a dense [`SymbolId`]. Later steps of resolution index vectors by id instead of hashing
//! names again.
//!
//! Interning is sharded by hash, wild-style: each name is hashed once (objects in parallel), then
//! each shard interns its names walking the objects in command-line order (shards in parallel).
//! Ids therefore depend on the inputs and the fixed shard count, never on the thread count.
use std::hash::BuildHasher;

use hashbrown::hash_table::{Entry, HashTable};

use rayon::prelude::*;
use rustc_hash::FxBuildHasher;

use crate::input::{Binding, Comdat, ObjectFile};

/// One per distinct name, numbered from 0.
pub type SymbolId = u32;

/// A symbol with no global name: locals and unnamed entries.
pub const NONE: SymbolId = SymbolId::MAX;

/// A power of two: bits 40.. of a name's hash pick its shard. Not the low bits, which pick the
/// bucket within a shard's table, nor the top seven, which hashbrown keeps as each entry's tag:
/// both would then be the same across a shard, so its entries would cluster or all match.
const SHARDS: usize = 16;

pub struct SymbolTable {
    /// Per file, per symbol index: the symbol's id, or [`NONE`].
    pub ids: Vec<Box<[SymbolId]>>,
    /// Per file, per COMDAT group: its key's id ([`NONE`] for a group local to its object).
    pub comdat_keys: Vec<Box<[SymbolId]>>,
    shards: Vec<Shard>,
}

/// One shard's names, each mapped to its index within the shard. The table compares a name
/// against a copy of each interned name kept in the shard's own `bytes`, not against the first
/// occurrence in some other object's mapped symbol table: a lookup then touches the shard's
/// memory only. It keeps no hashes: the tag hashbrown keeps per entry turns away nearly every
/// other name before the bytes are compared, and the table is reserved whole, so never rehashes.
#[derive(Default)]
struct Shard {
    index: HashTable<u32>,
    /// By index within the shard: where the name's copy is in `bytes`.
    copies: Vec<(u32, u32)>,
    bytes: Vec<u8>,
    /// The shard's first id.
    base: u32,
}

impl Shard {
    /// Room for `names` names of `bytes` bytes in all, most of them new.
    fn reserve(&mut self, names: usize, bytes: usize) {
        // Empty: the rehash function is never called.
        self.index.reserve(names, |_| 0);
        self.copies.reserve_exact(names);
        self.bytes.reserve_exact(bytes);
    }

    fn len(&self) -> u32 {
        self.copies.len() as u32
    }

    fn copy(&self, i: u32) -> &[u8] {
        let (at, len) = self.copies[i as usize];
        &self.bytes[at as usize..(at + len) as usize]
    }

    /// The index of `name` within the shard, added if new.
    fn intern(&mut self, name: &Prehashed) -> u32 {
        let Shard {
            index,
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
            |&i| copy(i) == name.bytes(),
            |&i| FxBuildHasher.hash_one(copy(i)),
        ) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                let i = copies.len() as u32;
                e.insert(i);
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

/// A global symbol's id while interning has yet to give it is `PENDING` plus its name's shard.
const PENDING: SymbolId = NONE - SHARDS as SymbolId;

/// One object's names, hashed: non-local named symbols by symbol index, then the keys of its
/// non-local COMDAT groups that are not already among those symbols; grouped by shard, in that
/// order within a shard, so that a shard reads one contiguous run of each object. Its ids and
/// keys are [`PENDING`] plus the shard where a name was taken, so that giving them out reads the
/// object's symbols no second time; a key that shares a symbol's id holds that symbol's index.
struct Hashed<'d> {
    names: Box<[Prehashed<'d>]>,
    /// Where each shard's names begin in `names`, then where the last ends.
    bounds: [u32; SHARDS + 1],
    /// The length of each shard's names, added up: a shard reserves room for its copies without
    /// reading its runs an extra time.
    bytes: [u32; SHARDS],
    ids: Box<[SymbolId]>,
    keys: Box<[SymbolId]>,
}

impl<'d> Hashed<'d> {
    fn run(&self, shard: usize) -> &[Prehashed<'d>] {
        &self.names[self.bounds[shard] as usize..self.bounds[shard + 1] as usize]
    }
}

/// `taken` is scratch: the object's names in order, before they are grouped by shard at their
/// exact count (growing each object's list by doubling allocated twice what it kept).
fn hash_object<'d>(obj: &ObjectFile<'d>, taken: &mut Vec<Prehashed<'d>>) -> Hashed<'d> {
    taken.clear();
    let mut take = |name| {
        let n = prehash(name);
        taken.push(n);
        PENDING + shard_of(n.hash) as SymbolId
    };
    let ids = (obj.symbols.iter())
        .map(|s| match is_global(s.binding, s.name) {
            true => take(s.name),
            false => NONE,
        })
        .collect();
    let keys = (obj.comdats.iter())
        .map(|c| match (c.local, key_symbol(obj, c)) {
            (true, _) => NONE,
            (false, Some(s)) => s as SymbolId,
            (false, None) => take(obj.comdat_key(c)),
        })
        .collect();
    let mut bounds = [0u32; SHARDS + 1];
    let mut bytes = [0u32; SHARDS];
    for n in taken.iter() {
        let s = shard_of(n.hash);
        bounds[s + 1] += 1;
        bytes[s] += n.name.len() as u32;
    }
    for s in 1..=SHARDS {
        bounds[s] += bounds[s - 1];
    }
    let mut names = vec![prehash(b""); taken.len()].into_boxed_slice();
    let mut at = bounds;
    for n in taken.iter() {
        let s = shard_of(n.hash);
        names[at[s] as usize] = *n;
        at[s] += 1;
    }
    Hashed {
        names,
        bounds,
        bytes,
        ids,
        keys,
    }
}

/// The global symbol of `obj` that a COMDAT group's key is the name of, if any: the key then
/// shares its id (as every COFF COMDAT's does), rather than being interned a second time.
fn key_symbol(obj: &ObjectFile, comdat: &Comdat) -> Option<usize> {
    let s = comdat.symbol as usize;
    let sym = &obj.symbols[s];
    is_global(sym.binding, sym.name).then_some(s)
}

fn is_global(binding: Binding, name: &[u8]) -> bool {
    binding != Binding::Local && !name.is_empty()
}

impl SymbolTable {
    pub fn build(objects: &[ObjectFile]) -> SymbolTable {
        let hashed: Vec<Hashed> = objects
            .par_iter()
            .map_init(Vec::new, |taken, obj| hash_object(obj, taken))
            .collect();

        // `firsts[f][s]`: how many names of shard `s` the objects before `f` have.
        let mut firsts = Vec::with_capacity(hashed.len());
        let mut counts = [0u32; SHARDS];
        let mut bytes = [0usize; SHARDS];
        for h in &hashed {
            firsts.push(counts);
            for s in 0..SHARDS {
                counts[s] += h.bounds[s + 1] - h.bounds[s];
                bytes[s] += h.bytes[s] as usize;
            }
        }

        // Each shard interns its runs in object order; `locals[s][i]` is the index within shard
        // `s` of its `i`th name.
        let (mut shards, locals): (Vec<Shard>, Vec<Vec<u32>>) = (0..SHARDS)
            .into_par_iter()
            .map(|s| {
                let mut shard = Shard::default();
                shard.reserve(counts[s] as usize, bytes[s]);
                let mut local = Vec::with_capacity(counts[s] as usize);
                for h in &hashed {
                    local.extend(h.run(s).iter().map(|n| shard.intern(n)));
                }
                (shard, local)
            })
            .unzip();
        let mut base = 0;
        for shard in &mut shards {
            shard.base = base;
            base += shard.len();
        }

        // Each object's pending ids, from its names' places in the shards' runs.
        let (ids, comdat_keys) = hashed
            .into_par_iter()
            .zip(&firsts)
            .map(|(object, first)| {
                let Hashed {
                    mut ids, mut keys, ..
                } = object;
                let mut cursor = *first;
                let mut give = |pending: SymbolId| {
                    let s = (pending - PENDING) as usize;
                    let id = shards[s].base + locals[s][cursor[s] as usize];
                    cursor[s] += 1;
                    id
                };
                for id in ids.iter_mut().filter(|id| **id != NONE) {
                    *id = give(*id);
                }
                for key in keys.iter_mut() {
                    *key = match *key {
                        NONE => NONE,
                        pending if pending >= PENDING => give(pending),
                        s => ids[s as usize],
                    };
                }
                (ids, keys)
            })
            .unzip();
        SymbolTable {
            ids,
            comdat_keys,
            shards,
        }
    }

    pub fn len(&self) -> usize {
        self.shards
            .last()
            .map_or(0, |s| (s.base + s.len()) as usize)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
            // A key names its same-named symbol: a global one, as in COFF, or a local ELF
            // signature ("z"), whose name is interned as a key alone.
            comdats: keys
                .iter()
                .map(|k| Comdat {
                    selection: Selection::Any,
                    sections: crate::input::GroupSections::run(0, 0),
                    symbol: symbols
                        .iter()
                        .position(|s| s.0 == *k)
                        .expect("a key's symbol") as u32,
                    local: false,
                })
                .collect(),
            group_members: vec![],
            aux: Default::default(),
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
        let d = object(&[("f499", Weak), ("f0", Global), ("z", Local)], &["z"]);
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
