//! The Lua scripts that are the store's operations in Redis, one per operation, and how their
//! answers are read. Each runs whole, with nothing of another client's in between: that is
//! what makes an append's sequence number, a snapshot's compare-and-swap and a quota check
//! hold across every server instance on one Redis. The scripts themselves (`*.lua` beside
//! this file) say what they keep and answer.

use super::super::StoreError;
use ::redis::{Script, Value};
use commonplace_protocol::store::StoreId;
use std::sync::LazyLock;

pub struct Scripts {
    pub append: Script,
    pub read: Script,
    pub snapshot: Script,
    pub delete: Script,
}

/// Each script with the shared prelude before it. `Script` keeps its SHA-1: calls go as
/// `EVALSHA`, and a Redis that does not know the script (restarted, `SCRIPT FLUSH`) is sent it
/// again.
pub static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| {
    let script = |body: &str| Script::new(&format!("{}\n{body}", include_str!("prelude.lua")));
    Scripts {
        append: script(include_str!("append.lua")),
        read: script(include_str!("read.lua")),
        snapshot: script(include_str!("snapshot.lua")),
        delete: script(include_str!("delete.lua")),
    }
});

impl Scripts {
    pub fn all(&self) -> [&Script; 4] {
        [&self.append, &self.read, &self.snapshot, &self.delete]
    }
}

/// What every key of the store's names starts with.
pub const KEY_PREFIX: &str = "cp:store:";

/// A store's keys, as the scripts take them (`KEYS[1..3]`). The id is the hash tag (`{…}`),
/// so that a Redis Cluster keeps the three in one slot, as a script needs.
pub fn keys(id: StoreId) -> [String; 3] {
    let meta = format!("{KEY_PREFIX}{{{id}}}");
    let records = format!("{meta}:records");
    let snapshot = format!("{meta}:snapshot");
    [meta, records, snapshot]
}

/// A script's answer: a list whose first item names it, then numbers and bytes.
pub struct Answer {
    items: Vec<Value>,
}

impl Answer {
    pub fn parse(value: Value) -> Result<Answer, StoreError> {
        match value {
            Value::Array(items) if matches!(items.first(), Some(Value::BulkString(_))) => {
                Ok(Answer { items })
            }
            other => Err(unexpected(&format!("{other:?}"))),
        }
    }

    pub fn name(&self) -> &[u8] {
        match self.items.first() {
            Some(Value::BulkString(name)) => name,
            _ => b"",
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The whole number at `at`.
    pub fn number(&self, at: usize) -> Result<u64, StoreError> {
        match self.items.get(at) {
            Some(&Value::Int(n)) if n >= 0 => Ok(n as u64),
            _ => Err(self.unexpected()),
        }
    }

    /// The bytes at `at`.
    pub fn bytes(&self, at: usize) -> Result<&[u8], StoreError> {
        match self.items.get(at) {
            Some(Value::BulkString(bytes)) => Ok(bytes),
            _ => Err(self.unexpected()),
        }
    }

    /// An answer this server does not expect: a bug, or something else wrote the store's keys.
    pub fn unexpected(&self) -> StoreError {
        let name = String::from_utf8_lossy(self.name());
        unexpected(&format!("{name:?} and {} items", self.items.len()))
    }
}

fn unexpected(what: &str) -> StoreError {
    let what: String = what.chars().take(200).collect();
    StoreError::Failed(format!(
        "store in Redis: a script answered {what}, which this server does not expect"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stores_keys_share_its_hash_tag() {
        let [meta, records, snapshot] = keys(StoreId::from_bytes([0xab; 16]));
        let tag = format!("{{{}}}", "ab".repeat(16));
        assert_eq!(meta, format!("cp:store:{tag}"));
        assert_eq!(records, format!("cp:store:{tag}:records"));
        assert_eq!(snapshot, format!("cp:store:{tag}:snapshot"));
    }

    #[test]
    fn answers_are_checked_not_trusted() {
        let ok = Answer::parse(Value::Array(vec![
            Value::BulkString(b"ok".to_vec()),
            Value::Int(7),
            Value::BulkString(b"bytes".to_vec()),
        ]))
        .unwrap();
        assert_eq!(ok.name(), b"ok");
        assert_eq!(ok.number(1).unwrap(), 7);
        assert_eq!(ok.bytes(2).unwrap(), b"bytes");
        assert!(ok.number(2).is_err());
        assert!(ok.bytes(1).is_err());
        assert!(ok.number(3).is_err());
        let negative = Answer::parse(Value::Array(vec![
            Value::BulkString(b"ok".to_vec()),
            Value::Int(-1),
        ]))
        .unwrap();
        assert!(negative.number(1).is_err());
        for bad in [
            Value::Nil,
            Value::Int(1),
            Value::Array(vec![]),
            Value::Array(vec![Value::Int(1)]),
        ] {
            assert!(matches!(Answer::parse(bad), Err(StoreError::Failed(_))));
        }
    }

    #[test]
    fn every_script_has_the_prelude() {
        for script in SCRIPTS.all() {
            assert_eq!(script.get_hash().len(), 40);
        }
        assert_ne!(SCRIPTS.append.get_hash(), SCRIPTS.read.get_hash());
    }
}
