//! Symbol resolution: pulls archive members that define wanted symbols, picks one copy of each
//! COMDAT group, binds every symbol reference to a definition, marks live sections (all of them,
//! or what the entry reaches under `--gc-sections`) and reports undefined symbols. It assigns no
//! addresses.
use std::collections::hash_map::Entry;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::consts::Machine;
use crate::debuginfo;
use crate::error::{Error, Reference, Result};
use crate::input::{Binding, Expect, Inputs, ObjectFile, SectionClass, Selection, SymDef};
use crate::symbols::{self, SymbolTable};

/// What a symbol reference resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `value` is an offset in the input section, which is smaller than 4 GiB: 32 bits keep a
    /// target at 16 bytes (there is one per symbol of every object).
    Section {
        file: u32,
        section: u32,
        value: u32,
    },
    Absolute(u64),
    /// Index into [`Resolved::commons`].
    Common(u32),
    /// `_GLOBAL_OFFSET_TABLE_`: the linker-made GOT.
    GotBase,
    /// An undefined weak reference: address 0.
    UndefinedWeak,
    Undefined,
}

const _: () = assert!(std::mem::size_of::<Target>() == 16);

impl Target {
    /// The target moves with the image, so absolute references to it need base relocations.
    pub fn is_relocatable(self) -> bool {
        matches!(
            self,
            Target::Section { .. } | Target::Common(_) | Target::GotBase
        )
    }
}

/// Code addressing the GOT (x86-64 large model) names it by this symbol.
const GOT_SYMBOL: &[u8] = b"_GLOBAL_OFFSET_TABLE_";

/// A COMMON symbol, allocated in `.bss`.
#[derive(Debug)]
pub struct Common {
    pub name: String,
    pub size: u64,
    pub align: u64,
}

pub struct Resolved<'d> {
    pub machine: Machine,
    pub objects: Vec<ObjectFile<'d>>,
    /// Per file, per symbol table record (as relocations name them; an auxiliary record has
    /// the null symbol's). Indexed by record, not by symbol, so that the lookup per relocation
    /// needs no mapping (a rank per lookup cost 10 % of a COFF link's instructions).
    pub targets: Vec<Vec<Target>>,
    /// Per file, per section index: the section goes into the image.
    pub live: Vec<Vec<bool>>,
    pub commons: Vec<Common>,
    pub entry: Target,
}

impl Resolved<'_> {
    /// What symbol table record `symbol` of `file` (as a relocation names it) refers to.
    pub fn target(&self, file: u32, symbol: u32) -> Target {
        self.targets[file as usize]
            .get(symbol as usize)
            .copied()
            .unwrap_or(Target::Undefined)
    }

    /// The symbol is defined in a code section (so within `.text` span of every call site).
    pub fn in_text(&self, file: u32, symbol: u32) -> bool {
        matches!(self.target(file, symbol), Target::Section { file, section, .. }
            if self.objects[file as usize].sections[section as usize].class == SectionClass::Text)
    }

    pub fn symbol_name(&self, file: u32, symbol: u32) -> String {
        let obj = &self.objects[file as usize];
        match obj.symbols.get(obj.symbol_index(symbol) as usize) {
            Some(s) if !s.name.is_empty() => s.display_name(),
            Some(s) => match s.def {
                SymDef::Section { section, .. } => obj.sections[section as usize].name.to_string(),
                SymDef::Absolute(v) => format!("absolute {v:#x}"),
                _ => "<no name>".to_string(),
            },
            None => format!("<symbol #{symbol}>"),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    Weak,
    Common,
    Strong,
}

/// What a global name binds to, decoded from its [`Bound`].
#[derive(Clone, Copy)]
struct Definition {
    file: u32,
    symbol: u32,
    strength: Strength,
}

/// A global name's definition in 8 bytes, one per name, read in no order: the strength in the
/// top two bits, then the file (30 bits) and the symbol (32) complemented, so that of two
/// definitions the greater is the one that wins, unless both are COMMONs (then the larger
/// wins). 0 is no definition: a file number below 2^30 - 1 never complements to it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(transparent)]
struct Bound(u64);

impl Bound {
    const NONE: Bound = Bound(0);
    const PLACE: u64 = (1 << 62) - 1;
    /// Files a link can have: their numbers fit in 30 bits, below the one that would make
    /// [`Bound::NONE`].
    const FILES: usize = (1 << 30) - 1;

    fn new(strength: Strength, file: usize, symbol: usize) -> Bound {
        Bound((strength as u64) << 62 | (Self::PLACE - ((file as u64) << 32 | symbol as u64)))
    }

    fn get(self) -> Option<Definition> {
        let place = Self::PLACE - (self.0 & Self::PLACE);
        (self != Self::NONE).then_some(Definition {
            file: (place >> 32) as u32,
            symbol: place as u32,
            strength: match self.0 >> 62 {
                0 => Strength::Weak,
                1 => Strength::Common,
                _ => Strength::Strong,
            },
        })
    }
}

/// A COMMON definition's target before COMMONs are numbered.
const UNNUMBERED_COMMON: Target = Target::Common(u32::MAX);

/// What symbol `s` of file `f` refers to by its own definition (COMMONs unnumbered).
fn own_target(f: usize, sym: &crate::input::InputSymbol) -> Target {
    match sym.def {
        // The reader checked that the value lies inside the section.
        SymDef::Section { section, value } => Target::Section {
            file: f as u32,
            section,
            value: value as u32,
        },
        SymDef::Absolute(v) => Target::Absolute(v),
        SymDef::Common { .. } => UNNUMBERED_COMMON,
        SymDef::Undefined | SymDef::WeakAlias { .. } => Target::Undefined,
    }
}

pub struct Options<'a> {
    pub entry: &'a str,
    pub gc_sections: bool,
    /// Leave DWARF out of the image.
    pub strip_debug: bool,
    /// Symbols to pull from archives and keep (`-u`, `/INCLUDE`), besides objects' `/INCLUDE`s.
    pub undefined: &'a [String],
}

pub fn resolve<'d>(inputs: Inputs<'d>, expect: Expect, opts: &Options) -> Result<Resolved<'d>> {
    let machine = expect.machine;
    let objects =
        tracing::debug_span!("archives").in_scope(|| load_archive_members(inputs, expect, opts))?;
    // Every needed member is loaded.
    let table = tracing::debug_span!("intern").in_scope(|| SymbolTable::build(&objects));
    // Every global name has an id.
    let discarded =
        tracing::debug_span!("comdats").in_scope(|| select_comdats(&objects, &table))?;
    // One copy of each COMDAT group remains.
    let definitions =
        tracing::debug_span!("bind").in_scope(|| bind_globals(&objects, &table, &discarded))?;
    // Each global name has at most one winning definition.
    let Targets {
        targets,
        commons,
        with_undefined,
    } = tracing::debug_span!("targets")
        .in_scope(|| compute_targets(&objects, &table, &definitions));
    let target_of = |name: &[u8]| {
        let d = table
            .lookup(name)
            .and_then(|g| definitions[g as usize].get())?;
        let record = objects[d.file as usize].aux.record(d.symbol);
        Some(targets[d.file as usize][record as usize])
    };
    let entry = target_of(opts.entry.as_bytes()).unwrap_or(Target::Undefined);
    if matches!(entry, Target::Undefined | Target::UndefinedWeak) {
        return Err(Error::NoEntry {
            symbol: opts.entry.to_string(),
        });
    }
    // Roots besides the entry: what `-u`/`/INCLUDE` name, when something defines it.
    let roots: Vec<Target> = opts
        .undefined
        .iter()
        .map(String::as_bytes)
        .chain(
            objects
                .iter()
                .flat_map(|o| o.includes.iter().map(|i| i.as_bytes())),
        )
        .filter_map(target_of)
        .chain([entry])
        .collect();
    let live = tracing::debug_span!("live")
        .in_scope(|| mark_live(&objects, &targets, &discarded, &roots, opts));
    // The image's contents are fixed; what is still unbound there is an error.
    tracing::debug_span!("undefined")
        .in_scope(|| report_undefined(&objects, &targets, &with_undefined, &live))?;

    Ok(Resolved {
        machine,
        objects,
        targets,
        live,
        commons,
        entry,
    })
}

/// Loads archive members until no undefined non-weak reference has a provider left, lld-style:
/// archive order on the command line does not matter.
fn load_archive_members<'d>(
    inputs: Inputs<'d>,
    expect: Expect,
    opts: &Options,
) -> Result<Vec<ObjectFile<'d>>> {
    let Inputs {
        mut objects,
        archives,
    } = inputs;
    let mut defined: FxHashSet<&[u8]> = FxHashSet::default();
    let mut wanted: Vec<&[u8]> = Vec::new();
    let mut loaded: FxHashSet<(usize, u64)> = FxHashSet::default();
    for (a, archive) in archives.iter().enumerate() {
        if archive.whole {
            for offset in archive.object_members()? {
                loaded.insert((a, offset));
                objects.push(archive.load_member(offset, expect)?);
            }
        }
    }
    if archives.iter().all(|a| a.whole) {
        // Nothing left to pull: skip reading every object's symbols for names.
        return Ok(objects);
    }
    // Room for every symbol the objects define (members add theirs as they load): the set is
    // not rehashed as it fills.
    defined.reserve(objects.iter().map(|o| o.symbols.len()).sum());
    for obj in &objects {
        note(obj, &mut defined, &mut wanted);
    }
    // The entry point and `-u` symbols can come from an archive too.
    wanted.push(opts.entry.as_bytes());
    wanted.extend(opts.undefined.iter().map(String::as_bytes));

    // The walk below decides alone which members load and in which order, one name at a time.
    // Parsing a member is most of its work, so each member a wanted name points at is parsed
    // ahead by another thread of the pool as soon as the name is wanted; the walk takes the
    // result when it reaches that name, or parses the member itself if nobody has started. A
    // member parsed ahead and never loaded is wasted work, its errors unsaid.
    let provider = |name: &[u8]| {
        (archives.iter().enumerate()).find_map(|(a, archive)| archive.lookup(name).map(|o| (a, o)))
    };
    let members: Mutex<FxHashMap<(usize, u64), Member>> = Mutex::default();
    // A member's slot, and whether this caller is the first to ask for it.
    let slot = |key: (usize, u64)| {
        let mut members = members.lock().unwrap_or_else(|e| e.into_inner());
        match members.entry(key) {
            Entry::Occupied(e) => (Arc::clone(e.get()), false),
            Entry::Vacant(e) => (Arc::clone(e.insert(Member::default())), true),
        }
    };
    let parse = |(a, offset): (usize, u64)| archives[a].load_member(offset, expect);
    let mut order = Vec::new();
    let failed = rayon::in_place_scope(|s| {
        let ahead = |names: &[&[u8]], defined: &FxHashSet<&[u8]>| {
            for &name in names.iter().filter(|n| !defined.contains(*n)) {
                let Some(key) = provider(name) else {
                    continue;
                };
                if let (member, true) = slot(key) {
                    s.spawn(move |_| {
                        member.get_or_init(|| parse(key));
                    });
                }
            }
        };
        ahead(&wanted, &defined);
        while let Some(name) = wanted.pop() {
            if defined.contains(name) {
                continue;
            }
            let Some(key) = provider(name) else {
                continue;
            };
            if !loaded.insert(key) {
                continue;
            }
            let (member, _) = slot(key);
            let Ok(member) = member.get_or_init(|| parse(key)) else {
                return Some(key);
            };
            tracing::debug!(member = %member.name, symbol = %String::from_utf8_lossy(name), "loading archive member");
            let before = wanted.len();
            note(member, &mut defined, &mut wanted);
            ahead(&wanted[before..], &defined);
            order.push(key);
        }
        None
    });
    // Every task has ended with the scope: each slot is this walk's alone.
    let mut members = members.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut take = |key| {
        let member = members
            .remove(&key)
            .expect("a slot per member the walk reached");
        (Arc::into_inner(member).and_then(OnceLock::into_inner)).expect("parsed by the walk")
    };
    if let Some(key) = failed {
        return Err(take(key).expect_err("the walk stopped at a member that failed"));
    }
    for key in order {
        objects.push(take(key).expect("the walk loaded it"));
    }
    Ok(objects)
}

/// An archive member, parsed once by whichever thread asks first.
type Member<'d> = Arc<OnceLock<Result<ObjectFile<'d>>>>;

fn note<'a>(obj: &ObjectFile<'a>, defined: &mut FxHashSet<&'a [u8]>, wanted: &mut Vec<&'a [u8]>) {
    wanted.extend(obj.includes.iter().map(|i| i.as_bytes()));
    for sym in &obj.symbols {
        if sym.binding == Binding::Local || sym.name.is_empty() {
            continue;
        }
        match sym.def {
            SymDef::Section { .. } | SymDef::Absolute(_) | SymDef::Common { .. } => {
                defined.insert(sym.name);
            }
            // An ELF weak reference does not pull archive members; a COFF weak external does.
            SymDef::Undefined if sym.binding == Binding::Weak => {}
            SymDef::Undefined | SymDef::WeakAlias { .. } => wanted.push(sym.name),
        }
    }
}

/// Per file, per section: discarded because another copy of its COMDAT group won.
///
/// Most keys have one copy: all threads first find each key's first copy in command-line order
/// (the least file and group index), so that only later copies, usually none, are walked one
/// by one, in command-line order, as lld-link and ld.lld walk every copy.
fn select_comdats(objects: &[ObjectFile], table: &SymbolTable) -> Result<Vec<Vec<bool>>> {
    let copy = |f: usize, c: usize| (f as u64) << 32 | c as u64;
    let first: Vec<AtomicU64> = (0..table.len())
        .into_par_iter()
        .map(|_| AtomicU64::new(u64::MAX))
        .collect();
    table
        .comdat_keys
        .par_iter()
        .enumerate()
        .for_each(|(f, keys)| {
            for (c, &key) in keys.iter().enumerate() {
                if key != symbols::NONE {
                    first[key as usize].fetch_min(copy(f, c), Ordering::Relaxed);
                }
            }
        });
    let (mut discarded, later): (Vec<Vec<bool>>, Vec<Vec<u32>>) = (objects.par_iter().enumerate())
        .map(|(f, obj)| {
            let later = (table.comdat_keys[f].iter().enumerate())
                .filter(|&(c, &key)| {
                    key != symbols::NONE
                        && first[key as usize].load(Ordering::Relaxed) != copy(f, c)
                })
                .map(|(c, _)| c as u32)
                .collect();
            (vec![false; obj.sections.len()], later)
        })
        .unzip();
    // By key id: the copy that replaced the first one (IMAGE_COMDAT_SELECT_LARGEST).
    let mut replaced: FxHashMap<u32, (u32, u32)> = FxHashMap::default();
    let leader = |f: usize, c: usize| {
        let comdat = &objects[f].comdats[c];
        (objects[f].comdat_sections(comdat).first()).map(|&s| &objects[f].sections[s as usize])
    };
    let leader_size = |f, c| leader(f, c).map_or(0, |s| s.size);
    let leader_data = |f, c| leader(f, c).map_or(&[][..], |s| s.data);
    for (f, later) in later.iter().enumerate() {
        let obj = &objects[f];
        for &c in later {
            let (c, comdat) = (c as usize, &obj.comdats[c as usize]);
            let key = table.comdat_keys[f][c];
            let (wf, wc) = match replaced.get(&key) {
                Some(&(wf, wc)) => (wf as usize, wc as usize),
                None => {
                    let w = first[key as usize].load(Ordering::Relaxed);
                    ((w >> 32) as usize, w as u32 as usize)
                }
            };
            let conflict = |reason| Error::Comdat {
                symbol: String::from_utf8_lossy(obj.comdat_key(comdat)).into_owned(),
                first: objects[wf].name.clone(),
                second: obj.name.clone(),
                reason,
            };
            let new_wins = match comdat.selection {
                Selection::Any => false,
                Selection::NoDuplicates => {
                    return Err(Error::Duplicate {
                        symbol: String::from_utf8_lossy(obj.comdat_key(comdat)).into_owned(),
                        first: objects[wf].name.clone(),
                        second: obj.name.clone(),
                    })
                }
                Selection::SameSize => {
                    if leader_size(f, c) != leader_size(wf, wc) {
                        return Err(conflict(
                            "IMAGE_COMDAT_SELECT_SAME_SIZE copies differ in size",
                        ));
                    }
                    false
                }
                Selection::ExactMatch => {
                    if leader_data(f, c) != leader_data(wf, wc)
                        || leader_size(f, c) != leader_size(wf, wc)
                    {
                        return Err(conflict("IMAGE_COMDAT_SELECT_EXACT_MATCH copies differ"));
                    }
                    false
                }
                Selection::Largest => leader_size(f, c) > leader_size(wf, wc),
            };
            let (lf, lc) = if new_wins {
                replaced.insert(key, (f as u32, c as u32));
                (wf, wc)
            } else {
                (f, c)
            };
            for &s in objects[lf].comdat_sections(&objects[lf].comdats[lc]) {
                discarded[lf][s as usize] = true;
            }
        }
    }
    // COFF associative sections share their leader's fate (chains resolve in a few rounds); in a
    // file where nothing was discarded, there is nothing to share.
    (objects.par_iter().zip(&mut discarded)).for_each(|(obj, discarded)| {
        if !discarded.contains(&true) {
            return;
        }
        for _ in 0..4 {
            for (s, sec) in obj.sections.iter().enumerate() {
                if let Some(leader) = sec.follows.get() {
                    if discarded.get(leader as usize).copied().unwrap_or(false) {
                        discarded[s] = true;
                    }
                }
            }
        }
    });
    Ok(discarded)
}

/// How strongly a symbol defines its name, if it does: `None` for references, weak aliases
/// and definitions in discarded sections.
fn strength(sym: &crate::input::InputSymbol, discarded: &[bool]) -> Option<Strength> {
    Some(match sym.def {
        SymDef::Section { section, .. } => {
            if discarded.get(section as usize).copied().unwrap_or(true) {
                return None;
            }
            if sym.binding == Binding::Weak {
                Strength::Weak
            } else {
                Strength::Strong
            }
        }
        SymDef::Absolute(_) if sym.binding == Binding::Weak => Strength::Weak,
        SymDef::Absolute(_) => Strength::Strong,
        SymDef::Common { .. } => Strength::Common,
        SymDef::Undefined | SymDef::WeakAlias { .. } => return None,
    })
}

/// By symbol id: the definition each global name binds to. The winner is the greatest by
/// strength, then by size between COMMONs, then the first in command-line order: a total order,
/// so the definitions are offered to each name's slot from every file at once and the slot
/// keeps the greater (compare and swap), whatever the threads' order. Two strong definitions of
/// one name are an error, said in command-line order.
fn bind_globals(
    objects: &[ObjectFile],
    table: &SymbolTable,
    discarded: &[Vec<bool>],
) -> Result<Vec<Bound>> {
    if objects.len() >= Bound::FILES {
        let n = objects.len();
        return Err(Error::Usage(format!(
            "{n} objects: a link takes fewer than 2^30 - 1"
        )));
    }
    // Whether `new` beats `old`, both definitions.
    let beats = |new: Bound, old: Bound| {
        let (n, o) = (
            new.get().expect("a definition"),
            old.get().expect("a definition"),
        );
        if (n.strength, o.strength) == (Strength::Common, Strength::Common) {
            let size = |d: Definition| objects[d.file as usize].symbols[d.symbol as usize].size;
            if size(n) != size(o) {
                return size(n) > size(o);
            }
        }
        new > old
    };
    // Zeroed in parallel: the pages are made by both threads.
    let slots: Vec<AtomicU64> = (0..table.len())
        .into_par_iter()
        .map(|_| AtomicU64::new(Bound::NONE.0))
        .collect();
    // Per file: its weak aliases and how many strong definitions it offered.
    let offered: Vec<(Vec<(u32, Bound)>, usize)> = (objects.par_iter().enumerate())
        .map(|(f, obj)| {
            let (mut aliases, mut strong) = (Vec::new(), 0);
            for (s, (sym, &g)) in obj.symbols.iter().zip(&table.ids[f]).enumerate() {
                if g == symbols::NONE {
                    continue;
                }
                if let SymDef::WeakAlias { default } = sym.def {
                    // Aliases bind after every other definition, so their strength ranks
                    // nothing: it says whether the default is a COMMON, which then needs a
                    // number.
                    let strength = match obj.symbols[default as usize].def {
                        SymDef::Common { .. } => Strength::Common,
                        _ => Strength::Weak,
                    };
                    aliases.push((g, Bound::new(strength, f, default as usize)));
                }
                let Some(strength) = strength(sym, &discarded[f]) else {
                    continue;
                };
                strong += usize::from(strength == Strength::Strong);
                let (slot, new) = (&slots[g as usize], Bound::new(strength, f, s));
                let mut old = Bound(slot.load(Ordering::Relaxed));
                while old == Bound::NONE || beats(new, old) {
                    match slot.compare_exchange_weak(
                        old.0,
                        new.0,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => break,
                        Err(now) => old = Bound(now),
                    }
                }
            }
            (aliases, strong)
        })
        .collect();
    // In place: the same bytes, no longer shared.
    let mut defs: Vec<Bound> = (slots.into_iter())
        .map(|slot| Bound(slot.into_inner()))
        .collect();
    // Every strong definition won its name unless another strong one did first.
    let won = (defs.par_iter())
        .filter(|d| d.get().is_some_and(|d| d.strength == Strength::Strong))
        .count();
    if won != offered.iter().map(|(_, strong)| strong).sum::<usize>() {
        let duplicates = (objects.par_iter().enumerate()).map(|(f, obj)| {
            let mut errors = Vec::new();
            for (s, (sym, &g)) in obj.symbols.iter().zip(&table.ids[f]).enumerate() {
                if g == symbols::NONE || strength(sym, &discarded[f]) != Some(Strength::Strong) {
                    continue;
                }
                let first = defs[g as usize].get().expect("a strong definition won");
                if (first.file, first.symbol) != (f as u32, s as u32) {
                    errors.push(Error::Duplicate {
                        symbol: sym.display_name(),
                        first: objects[first.file as usize].name.clone(),
                        second: obj.name.clone(),
                    });
                }
            }
            errors
        });
        Error::check(duplicates.flatten().collect())?;
    }
    // A COFF weak external nobody defined binds to its default (the first one seen).
    for (g, alias) in offered.into_iter().flat_map(|(aliases, _)| aliases) {
        if defs[g as usize] == Bound::NONE {
            defs[g as usize] = alias;
        }
    }
    Ok(defs)
}

/// What [`compute_targets`] found.
struct Targets {
    /// Per file, per symbol: what each symbol refers to.
    targets: Vec<Vec<Target>>,
    /// The COMMON symbols that won, in the order of their definitions (file, then symbol index).
    commons: Vec<Common>,
    /// Per file: whether a symbol is [`Target::Undefined`]; only these can hold an undefined
    /// reference.
    with_undefined: Vec<bool>,
}

fn compute_targets(objects: &[ObjectFile], table: &SymbolTable, defs: &[Bound]) -> Targets {
    // One pass over every symbol, COMMONs unnumbered: noting per file whether it holds an
    // unnumbered COMMON or an undefined symbol lets every later look for COMMONs or undefined
    // references skip the other files, nearly all of them.
    let own = |f: u32, s: u32| own_target(f as usize, &objects[f as usize].symbols[s as usize]);
    let (mut targets, flags): (Vec<Vec<Target>>, Vec<(bool, bool)>) = objects
        .par_iter()
        .zip(&table.ids)
        .enumerate()
        .map(|(f, (obj, ids))| {
            let (mut common, mut undefined) = (false, false);
            let mut symbols = obj.symbols.iter().zip(ids.iter()).enumerate();
            let null = own_target(f, &crate::input::InputSymbol::NULL);
            let targets = (0..obj.symbol_records() as u32)
                .map(|record| {
                    if obj.aux.is_aux(record) {
                        return null;
                    }
                    let (s, (sym, &g)) = symbols.next().expect("a symbol per record");
                    let target = match g {
                        symbols::NONE => own_target(f, sym),
                        g => match defs[g as usize].get() {
                            Some(d) if (d.file, d.symbol) == (f as u32, s as u32) => {
                                own_target(f, sym)
                            }
                            Some(d) => own(d.file, d.symbol),
                            None if sym.name == GOT_SYMBOL => Target::GotBase,
                            None if sym.binding == Binding::Weak => Target::UndefinedWeak,
                            None => Target::Undefined,
                        },
                    };
                    common |= target == UNNUMBERED_COMMON;
                    undefined |= target == Target::Undefined;
                    target
                })
                .collect();
            (targets, (common, undefined))
        })
        .unzip();
    let (with_commons, with_undefined): (Vec<bool>, Vec<bool>) = flags.into_iter().unzip();

    // Every COMMON that won or is local, in (file, symbol) order: its place is its number. Local
    // ones are only in files holding an unnumbered COMMON.
    let local_commons = (with_commons.iter().enumerate())
        .filter(|&(_, &c)| c)
        .flat_map(|(f, _)| {
            (objects[f]
                .symbols
                .iter()
                .zip(table.ids[f].iter())
                .enumerate())
            .filter(|&(_, (sym, &g))| {
                g == symbols::NONE && matches!(sym.def, SymDef::Common { .. })
            })
            .map(move |(s, _)| (f as u32, s as u32))
        });
    let mut common_defs: Vec<(u32, u32)> = (defs.iter().filter_map(|d| d.get()))
        .filter(|d| d.strength == Strength::Common)
        .map(|d| (d.file, d.symbol))
        .chain(local_commons)
        .collect();
    common_defs.sort_unstable();
    common_defs.dedup();
    let commons = common_defs
        .iter()
        .map(|&(f, s)| {
            let sym = &objects[f as usize].symbols[s as usize];
            let SymDef::Common { size, align } = sym.def else {
                unreachable!("filtered to commons")
            };
            Common {
                name: sym.display_name(),
                size,
                align: align.into(),
            }
        })
        .collect();
    (targets.par_iter_mut().zip(&with_commons).enumerate())
        .filter(|&(_, (_, &c))| c)
        .for_each(|(f, (targets, _))| {
            for (record, t) in targets.iter_mut().enumerate() {
                if *t != UNNUMBERED_COMMON {
                    continue;
                }
                let s = objects[f].symbol_index(record as u32) as usize;
                let definition = match table.ids[f][s] {
                    symbols::NONE => (f as u32, s as u32),
                    g => defs[g as usize]
                        .get()
                        .map(|d| (d.file, d.symbol))
                        .expect("bound"),
                };
                let id = common_defs.binary_search(&definition);
                *t = Target::Common(id.expect("every common definition listed") as u32);
            }
        });
    Targets {
        targets,
        commons,
        with_undefined,
    }
}

/// The sections one task of the `--gc-sections` walk marks before it hands the rest of its stack
/// to the next round: one root reaching everything still spreads over the threads.
const WALK: usize = 512;

fn mark_live(
    objects: &[ObjectFile],
    targets: &[Vec<Target>],
    discarded: &[Vec<bool>],
    roots: &[Target],
    opts: &Options,
) -> Vec<Vec<bool>> {
    let gc = opts.gc_sections;
    let candidate = |f: usize, s: usize| {
        let class = objects[f].sections[s].class;
        class != SectionClass::Discard
            && !(opts.strip_debug && class == SectionClass::Debug)
            && !discarded[f][s]
    };
    if !gc {
        return (objects.par_iter().enumerate())
            .map(|(f, o)| (0..o.sections.len()).map(|s| candidate(f, s)).collect())
            .collect();
    }
    // Debug info describes whatever survives; it keeps nothing alive itself, so it is marked
    // before the walk, which then never enters it.
    let live: Vec<Vec<AtomicBool>> = (objects.par_iter().enumerate())
        .map(|(f, o)| {
            (o.sections.iter().enumerate())
                .map(|(s, sec)| {
                    AtomicBool::new(sec.class == SectionClass::Debug && candidate(f, s))
                })
                .collect()
        })
        .collect();
    // Marks a section live if it can be and was not yet: whoever marks it walks it.
    let claim = |f: usize, s: u32| {
        candidate(f, s as usize) && !live[f][s as usize].swap(true, Ordering::Relaxed)
    };
    // Per file, associative sections by their leader (reached through it), sorted by leader.
    let followers: Vec<Vec<(u32, u32)>> = (objects.par_iter())
        .map(|obj| {
            let mut list: Vec<(u32, u32)> = (obj.sections.iter().enumerate())
                .filter_map(|(s, sec)| Some((sec.follows.get()?, s as u32)))
                .collect();
            list.sort_unstable();
            list
        })
        .collect();
    let retained = objects.iter().enumerate().flat_map(|(f, obj)| {
        (obj.sections.iter().enumerate())
            .filter(|(_, sec)| sec.retain())
            .map(move |(s, _)| (f, s as u32))
    });
    let entered = roots.iter().filter_map(|root| match *root {
        Target::Section { file, section, .. } => Some((file as usize, section)),
        _ => None,
    });
    let mut work: Vec<(usize, u32)> = retained
        .chain(entered)
        .filter(|&(f, s)| claim(f, s))
        .collect();
    // A parallel walk, each task depth-first from one claimed section. The live set is the
    // same whatever the order.
    while !work.is_empty() {
        work = (work.into_par_iter())
            .map_init(Vec::new, |stack, start| {
                stack.push(start);
                let mut walked = 0;
                while let Some((f, s)) = stack.pop() {
                    for r in objects[f].sections[s as usize].relocs().iter() {
                        if let Some(&Target::Section { file, section, .. }) =
                            targets[f].get(r.symbol as usize)
                        {
                            if claim(file as usize, section) {
                                stack.push((file as usize, section));
                            }
                        }
                    }
                    let list = &followers[f];
                    let first = list.partition_point(|&(leader, _)| leader < s);
                    for &(_, x) in list[first..].iter().take_while(|&&(leader, _)| leader == s) {
                        if claim(f, x) {
                            stack.push((f, x));
                        }
                    }
                    walked += 1;
                    if walked == WALK {
                        return std::mem::take(stack);
                    }
                }
                Vec::new()
            })
            .flatten()
            .collect();
    }
    (live.into_par_iter())
        .map(|flags| flags.into_iter().map(AtomicBool::into_inner).collect())
        .collect()
}

fn report_undefined(
    objects: &[ObjectFile],
    targets: &[Vec<Target>],
    with_undefined: &[bool],
    live: &[Vec<bool>],
) -> Result {
    // Objects without an undefined symbol, nearly all, are skipped; of the others, those whose
    // live sections refer to one are found in parallel and walked again for the report.
    let unbound = |f: usize| {
        let obj = &objects[f];
        (obj.sections.iter().enumerate())
            .filter(|&(s, sec)| live[f][s] && sec.class != SectionClass::Debug)
            .flat_map(|(_, sec)| sec.relocs().iter())
            .any(|r| targets[f].get(r.symbol as usize) == Some(&Target::Undefined))
    };
    let with_undefined: Vec<usize> = (0..objects.len())
        .into_par_iter()
        .filter(|&f| with_undefined[f] && unbound(f))
        .collect();
    let mut undefined: std::collections::BTreeMap<String, Vec<Reference>> = Default::default();
    for (f, obj) in with_undefined.into_iter().map(|f| (f, &objects[f])) {
        for (s, sec) in obj.sections.iter().enumerate() {
            // Debug info may name what the link dropped; it resolves to 0 there, as in lld.
            if !live[f][s] || sec.class == SectionClass::Debug {
                continue;
            }
            for r in sec.relocs().iter() {
                if targets[f].get(r.symbol as usize) != Some(&Target::Undefined) {
                    continue;
                }
                let sym = &obj.symbols[obj.symbol_index(r.symbol) as usize];
                let refs = undefined.entry(sym.display_name()).or_default();
                // Many references from one section say nothing more: keep the first per section.
                if refs
                    .iter()
                    .any(|x| x.file == obj.name && x.section == sec.name)
                {
                    continue;
                }
                refs.push(Reference {
                    file: obj.name.clone(),
                    section: sec.name.to_string(),
                    offset: u64::from(r.offset),
                    function: debuginfo::enclosing_function(obj, s as u32, r.offset.into()),
                    line: debuginfo::source_line(obj, s as u32, r.offset.into()),
                });
            }
        }
    }
    Error::check(
        undefined
            .into_iter()
            .map(|(symbol, references)| Error::Undefined { symbol, references })
            .collect(),
    )
}

/// A one-object [`Resolved`] built by hand, for the arch files' relaxation tests: an ELF `t.o`
/// whose section 0 and symbol 0 are the null entries. Every other section is live, every symbol is
/// local and resolves to its own definition, and the entry is the start of section 1.
#[cfg(test)]
pub(crate) struct OneObject<'d> {
    machine: Machine,
    sections: Vec<crate::input::InputSection<'d>>,
    symbols: Vec<crate::input::InputSymbol<'d>>,
    addrsig: Option<&'d [u8]>,
}

#[cfg(test)]
impl<'d> OneObject<'d> {
    pub fn new(machine: Machine) -> Self {
        OneObject {
            machine,
            sections: vec![crate::input::empty_section()],
            symbols: vec![crate::input::InputSymbol::NULL],
            addrsig: None,
        }
    }

    /// Adds the next section (index 1, 2, ...).
    pub fn section(
        mut self,
        name: &'d str,
        class: SectionClass,
        align: u32,
        data: &'d [u8],
        relocs: Vec<crate::input::Reloc>,
    ) -> Self {
        let mut sec = crate::input::empty_section();
        sec.name = name;
        sec.data = data;
        sec.size = data.len() as u32;
        sec.align = crate::input::Align::new(align.into());
        sec.class = class;
        sec.set_relocs(crate::input::Relocs::Decoded(relocs.leak()));
        // ELF flags by class, each section one function or datum (-ffunction-sections).
        sec.flags = {
            use object::elf::{SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE};
            let extra = match class {
                SectionClass::Text => SHF_EXECINSTR.0,
                SectionClass::Data | SectionClass::Bss => SHF_WRITE.0,
                _ => 0,
            };
            (SHF_ALLOC.0 | extra) as u32
        };
        self.sections.push(sec);
        self
    }

    /// The object's address-significance table (without one, every symbol is significant).
    pub fn addrsig(mut self, table: &'d [u8]) -> Self {
        self.addrsig = Some(table);
        self
    }

    /// Adds the next symbol (index 1, 2, ...), defined at `value` in `section`.
    pub fn symbol(mut self, name: &'d [u8], section: u32, value: u64) -> Self {
        self.symbols.push(crate::input::InputSymbol {
            name,
            def: SymDef::Section { section, value },
            ..crate::input::InputSymbol::NULL
        });
        self
    }

    pub fn build(self) -> Resolved<'d> {
        let targets = self
            .symbols
            .iter()
            .map(|s| match s.def {
                SymDef::Section { section, value } => Target::Section {
                    file: 0,
                    section,
                    value: value as u32,
                },
                SymDef::Absolute(v) => Target::Absolute(v),
                _ => Target::Undefined,
            })
            .collect();
        let live = (0..self.sections.len()).map(|s| s != 0).collect();
        Resolved {
            machine: self.machine,
            objects: vec![ObjectFile {
                name: "t.o".into(),
                format: crate::input::Format::Elf,
                data: &[],
                sections: self.sections,
                symbols: self.symbols,
                comdats: vec![],
                group_members: vec![],
                aux: Default::default(),
                default_libs: vec![],
                includes: vec![],
                addrsig: self.addrsig,
            }],
            targets: vec![targets],
            live: vec![live],
            commons: vec![],
            entry: Target::Section {
                file: 0,
                section: 1,
                value: 0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Comdat, Format, InputSection, InputSymbol, Reloc};

    fn section(
        name: &'static str,
        data: &'static [u8],
        relocs: Vec<Reloc>,
    ) -> InputSection<'static> {
        let mut sec = crate::input::empty_section();
        sec.name = name;
        sec.data = data;
        sec.size = data.len() as u32;
        sec.class = SectionClass::Text;
        sec.set_relocs(crate::input::Relocs::Decoded(relocs.leak()));
        sec
    }

    fn sym(name: &'static str, def: SymDef, binding: Binding) -> InputSymbol<'static> {
        InputSymbol {
            name: name.as_bytes(),
            def,
            binding,
            size: 0,
            is_function: true,
        }
    }

    fn at(section: u32) -> SymDef {
        SymDef::Section { section, value: 0 }
    }

    /// An object with a COMDAT leader (section 1) defining `key`, an associative section (2) and
    /// `efi_main` in section 3 calling `key`.
    fn comdat_object(name: &str, selection: Selection, body: &'static [u8]) -> ObjectFile<'static> {
        let call = Reloc {
            offset: 0,
            r_type: 4,
            symbol: 1,
            addend: 0,
        };
        let mut assoc = section(".pdata", b"\0\0\0\0", vec![]);
        assoc.follows = crate::input::Leader::of(1);
        ObjectFile {
            name: name.to_string(),
            format: Format::Coff,
            data: &[],
            sections: vec![
                section("", b"", vec![]),
                section(".text$mn", body, vec![]),
                assoc,
                section(".text", b"\xe8\0\0\0\0", vec![call]),
            ],
            symbols: vec![
                sym("efi_main", at(3), Binding::Global),
                sym("key", at(1), Binding::Global),
            ],
            comdats: vec![Comdat {
                selection,
                sections: crate::input::GroupSections::one(1),
                symbol: 1,
                local: false,
            }],
            group_members: vec![],
            aux: Default::default(),
            default_libs: vec![],
            includes: vec![],
            addrsig: None,
        }
    }

    fn run(objects: Vec<ObjectFile<'static>>, gc: bool) -> Result<Resolved<'static>> {
        let inputs = Inputs {
            objects,
            archives: Vec::new(),
        };
        let opts = Options {
            entry: "efi_main",
            gc_sections: gc,
            strip_debug: false,
            undefined: &[],
        };
        use crate::arch::Arch;
        let expect = Expect {
            machine: Machine::Amd64,
            field_size: crate::arch::amd64::Amd64::field_size,
        };
        resolve(inputs, expect, &opts)
    }

    #[test]
    fn relocations_name_targets_by_record_past_auxiliary_records() {
        let bytes = crate::input::coff_object().leak();
        let expect = Expect {
            machine: Machine::Amd64,
            field_size: |_, _| Some(4),
        };
        let coff = crate::input::parse_object("t.obj".into(), bytes, expect).unwrap();
        let main = comdat_object("a.obj", Selection::Any, b"\x90");
        let r = run(vec![main, coff], false).unwrap();
        // Records 0-11 of t.obj; 1, 3, 6 and 10 are auxiliary.
        assert_eq!(r.targets[1].len(), 12);
        let f = Target::Section {
            file: 1,
            section: 1,
            value: 0,
        };
        let reloc = r.objects[1].sections[2].relocs().get(0);
        assert_eq!(reloc.symbol, 9);
        assert_eq!(
            r.target(1, reloc.symbol),
            f,
            "the weak external binds to its default, f"
        );
        assert_eq!(r.target(1, 4), f);
        assert_eq!(r.target(1, 10), Target::Absolute(0), "an auxiliary record");
        assert_eq!(r.target(1, 7), Target::Absolute(0x1234));
        assert_eq!(r.symbol_name(1, 9), "weak");
        assert_eq!(r.symbol_name(1, 11), "undef");
    }

    fn uniq(mut objs: Vec<ObjectFile<'static>>) -> Vec<ObjectFile<'static>> {
        // Only the first object may define efi_main.
        for o in objs.iter_mut().skip(1) {
            o.symbols[0] = sym("other_main", at(3), Binding::Global);
        }
        objs
    }

    #[test]
    fn comdat_any_keeps_the_first_copy_and_its_associates() {
        let r = run(
            uniq(vec![
                comdat_object("a.obj", Selection::Any, b"\x90"),
                comdat_object("b.obj", Selection::Any, b"\x90\x90"),
            ]),
            false,
        )
        .unwrap();
        assert_eq!(r.live[0][1..3], [true, true]);
        assert_eq!(
            r.live[1][1..3],
            [false, false],
            "loser and its associate are dropped"
        );
        // b.obj's reference binds to a.obj's copy.
        assert_eq!(
            r.target(1, 1),
            Target::Section {
                file: 0,
                section: 1,
                value: 0
            }
        );
    }

    #[test]
    fn comdat_largest_picks_the_biggest_copy() {
        // The third copy is larger than the first but not than the second, which replaced it.
        let mut objects = uniq(vec![
            comdat_object("a.obj", Selection::Largest, b"\x90"),
            comdat_object("b.obj", Selection::Largest, b"\x90\x90\x90"),
            comdat_object("c.obj", Selection::Largest, b"\x90\x90"),
        ]);
        objects[2].symbols[0] = sym("third_main", at(3), Binding::Global);
        let r = run(objects, false).unwrap();
        assert!(!r.live[0][1] && !r.live[0][2]);
        assert!(r.live[1][1] && r.live[1][2]);
        assert!(!r.live[2][1] && !r.live[2][2]);
        assert_eq!(
            r.target(0, 1),
            Target::Section {
                file: 1,
                section: 1,
                value: 0
            }
        );
    }

    #[test]
    fn comdat_same_size_and_exact_match_reject_differing_copies() {
        let e = run(
            uniq(vec![
                comdat_object("a.obj", Selection::SameSize, b"\x90"),
                comdat_object("b.obj", Selection::SameSize, b"\x90\x90"),
            ]),
            false,
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "COMDAT conflict for key: IMAGE_COMDAT_SELECT_SAME_SIZE copies differ in size\n>>> in a.obj\n>>> in b.obj"
        );
        let ok = run(
            uniq(vec![
                comdat_object("a.obj", Selection::ExactMatch, b"\x90"),
                comdat_object("b.obj", Selection::ExactMatch, b"\x90"),
            ]),
            false,
        );
        assert!(ok.is_ok());
        let e = run(
            uniq(vec![
                comdat_object("a.obj", Selection::ExactMatch, b"\x90"),
                comdat_object("b.obj", Selection::ExactMatch, b"\xcc"),
            ]),
            false,
        )
        .err()
        .unwrap();
        assert!(
            e.to_string()
                .contains("IMAGE_COMDAT_SELECT_EXACT_MATCH copies differ"),
            "{e}"
        );
    }

    #[test]
    fn comdat_no_duplicates_is_a_duplicate_symbol() {
        let e = run(
            uniq(vec![
                comdat_object("a.obj", Selection::NoDuplicates, b"\x90"),
                comdat_object("b.obj", Selection::NoDuplicates, b"\x90"),
            ]),
            false,
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "duplicate symbol: key\n>>> defined in a.obj\n>>> defined in b.obj"
        );
    }

    #[test]
    fn static_comdat_leaders_are_local_to_their_object() {
        let local = |name| {
            let mut o = comdat_object(name, Selection::NoDuplicates, b"\x90");
            o.symbols[1].binding = Binding::Local;
            o.comdats[0].local = true;
            o
        };
        let r = run(uniq(vec![local("a.obj"), local("b.obj")]), false).unwrap();
        assert_eq!(r.live[0][1..3], [true, true]);
        assert_eq!(r.live[1][1..3], [true, true]);
        for f in 0..2 {
            assert_eq!(
                r.target(f, 1),
                Target::Section {
                    file: f,
                    section: 1,
                    value: 0
                },
                "each object's reference binds to its own copy"
            );
        }
    }

    #[test]
    fn gc_keeps_what_the_entry_reaches_and_associates_of_live_leaders() {
        let mut obj = comdat_object("a.obj", Selection::Any, b"\x90");
        obj.sections.push(section(".text$unused", b"\xc3", vec![]));
        let r = run(vec![obj], true).unwrap();
        assert_eq!(r.live[0], vec![false, true, true, true, false]);
    }

    #[test]
    fn gc_follows_a_chain_longer_than_one_walk_across_files_and_back() {
        // a.obj: section k (1..=n) calls section k + 1 through symbol k; section n calls `far`
        // in b.obj, which calls back into section 1 (a cycle); section n + 1 follows section n
        // (associative); section n + 2 is called by nobody.
        let n = 3 * WALK as u32 + 7;
        let call = |symbol| Reloc {
            offset: 0,
            r_type: 4,
            symbol,
            addend: 0,
        };
        let mut a = comdat_object("a.obj", Selection::Any, b"\x90");
        a.comdats.clear();
        a.sections.truncate(1);
        a.symbols.clear();
        for k in 1..=n {
            a.sections
                .push(section(".text", b"\xe8\0\0\0\0", vec![call(k)]));
            let name = if k == 1 {
                "efi_main"
            } else {
                format!("f{k}").leak()
            };
            a.symbols.push(sym(name, at(k), Binding::Global));
        }
        a.symbols
            .push(sym("far", SymDef::Undefined, Binding::Global));
        let mut assoc = section(".pdata", b"\0\0\0\0", vec![]);
        assoc.follows = crate::input::Leader::of(n);
        a.sections.push(assoc);
        a.sections.push(section(".text", b"\xc3", vec![]));
        let mut b = comdat_object("b.obj", Selection::Any, b"\x90");
        b.comdats.clear();
        b.sections.truncate(2);
        b.sections[1] = section(".text", b"\xe8\0\0\0\0", vec![call(1)]);
        b.symbols = vec![
            sym("far", at(1), Binding::Global),
            sym("efi_main", SymDef::Undefined, Binding::Global),
        ];
        let r = run(vec![a, b], true).unwrap();
        let live = |f: usize| r.live[f].iter().filter(|&&l| l).count();
        assert!(r.live[0][1..=n as usize + 1].iter().all(|&l| l));
        assert_eq!(
            live(0),
            n as usize + 1,
            "the section nobody calls is dropped"
        );
        assert_eq!(r.live[1], vec![false, true]);
    }

    #[test]
    fn every_later_strong_definition_is_a_duplicate_of_the_first_in_command_line_order() {
        let define = |name: &str, binding| {
            let mut o = comdat_object(name, Selection::Any, b"\x90");
            o.comdats.clear();
            o.symbols[1] = sym("x", at(1), binding);
            if name != "a.obj" {
                o.symbols[0] = sym("efi_main", SymDef::Undefined, Binding::Global);
            }
            o
        };
        let objects = vec![
            define("a.obj", Binding::Weak),
            define("b.obj", Binding::Global),
            define("c.obj", Binding::Weak),
            define("d.obj", Binding::Global),
            define("e.obj", Binding::Global),
        ];
        let e = run(objects, false).err().unwrap();
        assert_eq!(
            e.to_string(),
            "duplicate symbol: x\n>>> defined in b.obj\n>>> defined in d.obj\n\
             duplicate symbol: x\n>>> defined in b.obj\n>>> defined in e.obj"
        );
    }

    #[test]
    fn weak_definitions_yield_to_strong_and_commons_take_the_largest() {
        let mut a = comdat_object("a.obj", Selection::Any, b"\x90");
        a.comdats.clear();
        a.symbols.push(sym("w", at(1), Binding::Weak));
        a.symbols.push(InputSymbol {
            size: 8,
            ..sym("c", SymDef::Common { size: 8, align: 8 }, Binding::Global)
        });
        let mut b = comdat_object("b.obj", Selection::Any, b"\x90");
        b.comdats.clear();
        b.symbols[1] = sym("key_b", at(1), Binding::Global);
        b.symbols.push(sym("w", at(2), Binding::Global));
        b.symbols.push(InputSymbol {
            size: 32,
            ..sym(
                "c",
                SymDef::Common {
                    size: 32,
                    align: 16,
                },
                Binding::Global,
            )
        });
        let r = run(uniq(vec![a, b]), false).unwrap();
        assert_eq!(
            r.target(0, 2),
            Target::Section {
                file: 1,
                section: 2,
                value: 0
            }
        );
        let Target::Common(c) = r.target(0, 3) else {
            panic!("common expected")
        };
        assert_eq!(
            (r.commons[c as usize].size, r.commons[c as usize].align),
            (32, 16)
        );
    }

    #[test]
    fn undefined_weak_is_zero_and_strong_undefined_is_reported_once_per_section() {
        let mut a = comdat_object("a.obj", Selection::Any, b"\x90");
        a.comdats.clear();
        a.symbols[1] = sym("gone", SymDef::Undefined, Binding::Global);
        let e = run(vec![a], false).err().unwrap();
        assert_eq!(
            e.to_string(),
            "undefined symbol: gone\n>>> referenced by a.obj:(.text+0x0) in function `efi_main`"
        );
        let mut a = comdat_object("a.obj", Selection::Any, b"\x90");
        a.comdats.clear();
        a.symbols[1] = sym("maybe", SymDef::Undefined, Binding::Weak);
        let r = run(vec![a], false).unwrap();
        assert_eq!(r.target(0, 1), Target::UndefinedWeak);
    }
}
