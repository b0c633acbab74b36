//! The ISO file tree built from `--add ISO_PATH=HOST_PATH`. Only metadata is read here; file bytes
//! are streamed later, once every extent has its place.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Rock Ridge names are bytes; Linux allows 255 per component and so do we.
pub const MAX_NAME: usize = 255;

#[derive(Debug, Clone)]
pub enum Kind {
    /// Children kept sorted by name, so the tree (and the image) does not depend on the order
    /// of the `--add` arguments or of `readdir`.
    Dir {
        children: Vec<usize>,
    },
    File {
        host: PathBuf,
        size: u64,
    },
}

#[derive(Debug, Clone)]
pub struct Node {
    /// The Rock Ridge name (the real one); empty for the root.
    pub name: Vec<u8>,
    pub parent: usize,
    pub kind: Kind,
    /// Any execute bit on the host file: kept as r-x, everything else becomes read-only (the
    /// `mkisofs -r` convention, so host umask and ownership do not leak into the image).
    pub exec: bool,
}

#[derive(Debug, Clone)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Default for Tree {
    fn default() -> Self {
        Tree::new()
    }
}

/// One parsed `--add`.
#[derive(Debug, Clone)]
pub struct AddSpec {
    pub spec: String,
    pub iso_path: Vec<Vec<u8>>,
    pub host: PathBuf,
}

impl AddSpec {
    /// `ISO_PATH=HOST_PATH`; the ISO path is split on '/', empty components ignored.
    pub fn parse(spec: &OsStr) -> Result<AddSpec> {
        let bytes = spec.as_bytes();
        let shown = spec.to_string_lossy().into_owned();
        let bad = |reason: &str| Error::AddSyntax {
            spec: shown.clone(),
            reason: reason.into(),
        };
        let eq = bytes
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| bad("expected ISO_PATH=HOST_PATH"))?;
        let (iso, host) = (&bytes[..eq], &bytes[eq + 1..]);
        if host.is_empty() {
            return Err(bad("empty HOST_PATH"));
        }
        let mut comps = Vec::new();
        for c in iso.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
            if c == b"." || c == b".." {
                return Err(bad("ISO_PATH may not contain '.' or '..' components"));
            }
            if c.len() > MAX_NAME {
                return Err(bad("ISO_PATH component longer than 255 bytes"));
            }
            if c.contains(&0) {
                return Err(bad("ISO_PATH contains a NUL byte"));
            }
            comps.push(c.to_vec());
        }
        Ok(AddSpec {
            spec: shown,
            iso_path: comps,
            host: PathBuf::from(OsStr::from_bytes(host)),
        })
    }
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            nodes: vec![Node {
                name: Vec::new(),
                parent: 0,
                kind: Kind::Dir {
                    children: Vec::new(),
                },
                exec: true,
            }],
        }
    }

    pub fn is_dir(&self, n: usize) -> bool {
        matches!(self.nodes[n].kind, Kind::Dir { .. })
    }

    pub fn children(&self, n: usize) -> &[usize] {
        match &self.nodes[n].kind {
            Kind::Dir { children } => children,
            Kind::File { .. } => &[],
        }
    }

    /// Path of a node in the image, for messages.
    pub fn path_of(&self, mut n: usize) -> String {
        let mut parts = Vec::new();
        while n != 0 {
            parts.push(String::from_utf8_lossy(&self.nodes[n].name).into_owned());
            n = self.nodes[n].parent;
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    }

    fn find(&self, dir: usize, name: &[u8]) -> std::result::Result<usize, usize> {
        self.children(dir)
            .binary_search_by(|&c| self.nodes[c].name.as_slice().cmp(name))
    }

    fn insert(&mut self, dir: usize, node: Node) -> usize {
        let id = self.nodes.len();
        let pos = match self.find(dir, &node.name) {
            Ok(_) => unreachable!("insert of an existing name"),
            Err(p) => p,
        };
        self.nodes.push(node);
        if let Kind::Dir { children } = &mut self.nodes[dir].kind {
            children.insert(pos, id);
        }
        id
    }

    /// Get or create directory `name` under `dir`; a file there is a conflict.
    fn dir_entry(&mut self, dir: usize, name: &[u8]) -> Result<usize> {
        match self.find(dir, name) {
            Ok(i) => {
                let c = self.children(dir)[i];
                if self.is_dir(c) {
                    Ok(c)
                } else {
                    Err(Error::AddConflict {
                        iso_path: self.path_of(c),
                        reason: "is a file but is also used as a directory".into(),
                    })
                }
            }
            Err(_) => Ok(self.insert(
                dir,
                Node {
                    name: name.to_vec(),
                    parent: dir,
                    kind: Kind::Dir {
                        children: Vec::new(),
                    },
                    exec: true,
                },
            )),
        }
    }

    pub fn add(&mut self, spec: &AddSpec) -> Result {
        let meta = fs::metadata(&spec.host).map_err(|e| Error::io("read", &spec.host, e))?;
        let Some((leaf, parents)) = spec.iso_path.split_last() else {
            // ISO_PATH "/" : a directory's contents go to the root; a file needs a name.
            if meta.is_dir() {
                let mut ancestors = Vec::new();
                return self.add_dir_contents(0, &spec.host, &meta, &mut ancestors);
            }
            return Err(Error::AddSyntax {
                spec: spec.spec.clone(),
                reason: "a file needs a name in the image (ISO_PATH is empty or '/')".into(),
            });
        };
        let mut dir = 0;
        for p in parents {
            dir = self.dir_entry(dir, p)?;
        }
        let mut ancestors = Vec::new();
        self.add_host(dir, leaf, &spec.host, &meta, &mut ancestors)
    }

    fn add_host(
        &mut self,
        dir: usize,
        name: &[u8],
        host: &Path,
        meta: &fs::Metadata,
        ancestors: &mut Vec<(u64, u64)>,
    ) -> Result {
        if name.len() > MAX_NAME {
            return Err(Error::AddSyntax {
                spec: host.display().to_string(),
                reason: "file name longer than 255 bytes".into(),
            });
        }
        if meta.is_dir() {
            let d = self.dir_entry(dir, name)?;
            self.add_dir_contents(d, host, meta, ancestors)
        } else if meta.is_file() {
            if let Ok(i) = self.find(dir, name) {
                let c = self.children(dir)[i];
                return Err(Error::AddConflict {
                    iso_path: self.path_of(c),
                    reason: format!("is given twice (again by {})", host.display()),
                });
            }
            self.insert(
                dir,
                Node {
                    name: name.to_vec(),
                    parent: dir,
                    kind: Kind::File {
                        host: host.to_path_buf(),
                        size: meta.len(),
                    },
                    exec: meta.permissions().mode() & 0o111 != 0,
                },
            );
            Ok(())
        } else {
            Err(Error::UnsupportedFileType { path: host.into() })
        }
    }

    fn add_dir_contents(
        &mut self,
        dir: usize,
        host: &Path,
        meta: &fs::Metadata,
        ancestors: &mut Vec<(u64, u64)>,
    ) -> Result {
        // Symlinks are followed (their targets go in the image); a link back to an ancestor
        // would recurse forever, so track (dev, ino) of the directories we are inside.
        let key = (meta.dev(), meta.ino());
        if ancestors.contains(&key) {
            return Err(Error::DirectoryLoop { path: host.into() });
        }
        ancestors.push(key);
        let rd = fs::read_dir(host).map_err(|e| Error::io("read directory", host, e))?;
        let mut entries = Vec::new();
        for e in rd {
            let e = e.map_err(|e| Error::io("read directory", host, e))?;
            entries.push(e.file_name());
        }
        entries.sort();
        for name in entries {
            let p = host.join(&name);
            let m = fs::metadata(&p).map_err(|e| Error::io("read", &p, e))?;
            self.add_host(dir, name.as_bytes(), &p, &m, ancestors)?;
        }
        ancestors.pop();
        Ok(())
    }

    /// Files in depth-first, name-sorted order: the order their data is laid out in.
    pub fn files_dfs(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![0usize];
        while let Some(n) = stack.pop() {
            match &self.nodes[n].kind {
                Kind::File { .. } => out.push(n),
                Kind::Dir { children } => stack.extend(children.iter().rev()),
            }
        }
        out
    }

    pub fn file_count(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n.kind, Kind::File { .. }))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(t: &mut Tree, s: &str) -> Result {
        t.add(&AddSpec::parse(OsStr::new(s))?)
    }

    #[test]
    fn parses_and_rejects_specs() {
        let a = AddSpec::parse(OsStr::new("/docs//a.txt=/tmp/x")).unwrap();
        assert_eq!(a.iso_path, vec![b"docs".to_vec(), b"a.txt".to_vec()]);
        assert_eq!(a.host, PathBuf::from("/tmp/x"));
        let e = AddSpec::parse(OsStr::new("no-equals")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--add \"no-equals\": expected ISO_PATH=HOST_PATH"
        );
        let e = AddSpec::parse(OsStr::new("a/../b=/x")).unwrap_err();
        assert!(e.to_string().contains("'..'"), "{e}");
    }

    #[test]
    fn merges_dirs_sorts_and_detects_conflicts() {
        let d = tempfile::tempdir().unwrap();
        let host = d.path().join("h");
        fs::create_dir_all(host.join("sub")).unwrap();
        fs::write(host.join("b.txt"), b"b").unwrap();
        fs::write(host.join("sub/c.txt"), b"cc").unwrap();
        let f = d.path().join("f");
        fs::write(&f, b"x").unwrap();
        let mut t = Tree::new();
        add(&mut t, &format!("z/y.txt={}", f.display())).unwrap();
        add(&mut t, &format!("/={}", host.display())).unwrap();
        add(&mut t, &format!("sub/a.txt={}", f.display())).unwrap();
        let paths: Vec<_> = t.files_dfs().iter().map(|&n| t.path_of(n)).collect();
        assert_eq!(paths, ["/b.txt", "/sub/a.txt", "/sub/c.txt", "/z/y.txt"]);
        let e = add(&mut t, &format!("b.txt={}", f.display())).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--add: ISO path \"/b.txt\" is given twice"),
            "{e}"
        );
        let e = add(&mut t, &format!("b.txt/x={}", f.display())).unwrap_err();
        assert!(
            e.to_string()
                .contains("is a file but is also used as a directory"),
            "{e}"
        );
    }

    #[test]
    fn detects_symlink_loops() {
        let d = tempfile::tempdir().unwrap();
        let host = d.path().join("h");
        fs::create_dir_all(&host).unwrap();
        std::os::unix::fs::symlink(&host, host.join("loop")).unwrap();
        let mut t = Tree::new();
        let e = add(&mut t, &format!("x={}", host.display())).unwrap_err();
        assert!(e.to_string().contains("directory loop"), "{e}");
    }
}
