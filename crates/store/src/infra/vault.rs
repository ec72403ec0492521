//! Personal data at rest: AES-256-GCM with keys kept outside the database, and a keyed hash
//! (HMAC-SHA-256) for exact search and duplicate detection without decrypting.
//!
//! A key set holds every key still needed to read old rows and names the one that seals new
//! rows. A sealed value is `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`; the column it
//! belongs to is bound as associated data, so a value moved to another column fails to open.
//! Rotation adds a key, re-seals every row under it ([`crate::Store::rotate_personal`]) and only
//! then drops the old keys.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;

/// What went wrong with a key set or a sealed value. Never carries the plaintext.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("密钥文件格式错误：{0}")]
    Format(String),
    #[error("密钥 {0} 不在密钥文件中（已退役或文件不对）")]
    UnknownKey(u32),
    #[error("加密数据无法解开（密钥不对或数据被改动）")]
    Damaged,
}

/// Associated data naming where a sealed value lives.
pub mod column {
    pub const EVENT_PERSONAL: &str = "events.personal";
    pub const HOUSE_PEOPLE: &str = "house_people.data";
    pub const TOTP_SECRET: &str = "accounts.totp_secret";
    /// A form kept on disk when its session expired (it may hold ID and phone numbers).
    pub const KEPT_FORM: &str = "drafts.body";
}

/// The keyed hash's domains: an ID number and a phone number never hash alike.
pub mod digest_kind {
    pub const ID: &str = "id";
    pub const PHONE: &str = "phone";
}

#[derive(Clone, Serialize, Deserialize)]
struct KeyEntry {
    id: u32,
    key: String,
}

#[derive(Clone, Serialize, Deserialize)]
struct KeyFile {
    /// The key that seals new values.
    current: u32,
    keys: Vec<KeyEntry>,
    /// The search-hash key. Not rotated with the sealing keys: rotating it would change every
    /// stored hash at once.
    index_key: String,
}

/// A loaded key set. `Debug` shows key ids only.
#[derive(Clone)]
pub struct Vault {
    current: u32,
    keys: Vec<(u32, Aes256Gcm, [u8; 32])>,
    index_key: [u8; 32],
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<u32> = self.keys.iter().map(|k| k.0).collect();
        write!(f, "Vault(current {}, keys {:?})", self.current, ids)
    }
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system provides random bytes");
    b
}

fn decode_key(s: &str) -> Result<[u8; 32], VaultError> {
    let v = B64
        .decode(s.trim())
        .map_err(|_| VaultError::Format("密钥不是 base64url 编码".into()))?;
    v.try_into()
        .map_err(|_| VaultError::Format("密钥长度须为 32 字节".into()))
}

impl Vault {
    /// A fresh key set: key 1 and a search-hash key, both random.
    pub fn generate() -> Vault {
        let key = random_bytes::<32>();
        Vault {
            current: 1,
            keys: vec![(1, Aes256Gcm::new(&key.into()), key)],
            index_key: random_bytes::<32>(),
        }
    }

    /// Reads a key set from its JSON form (the key file, or the `ANJU_KEYS` variable).
    pub fn from_json(s: &str) -> Result<Vault, VaultError> {
        let f: KeyFile = serde_json::from_str(s).map_err(|e| VaultError::Format(e.to_string()))?;
        let mut keys = Vec::new();
        for k in &f.keys {
            let key = decode_key(&k.key)?;
            keys.push((k.id, Aes256Gcm::new(&key.into()), key));
        }
        if !keys.iter().any(|k| k.0 == f.current) {
            return Err(VaultError::UnknownKey(f.current));
        }
        Ok(Vault {
            current: f.current,
            keys,
            index_key: decode_key(&f.index_key)?,
        })
    }

    /// The JSON form, to be written to a file only its owner can read.
    pub fn to_json(&self) -> String {
        let f = KeyFile {
            current: self.current,
            keys: self
                .keys
                .iter()
                .map(|(id, _, k)| KeyEntry {
                    id: *id,
                    key: B64.encode(k),
                })
                .collect(),
            index_key: B64.encode(self.index_key),
        };
        serde_json::to_string_pretty(&f).expect("key file serializes") + "\n"
    }

    pub fn current(&self) -> u32 {
        self.current
    }

    pub fn key_ids(&self) -> Vec<u32> {
        self.keys.iter().map(|k| k.0).collect()
    }

    /// Adds a new random key and makes it current; returns its id. Old keys stay until retired.
    pub fn rotate(&mut self) -> u32 {
        let id = self.keys.iter().map(|k| k.0).max().unwrap_or(0) + 1;
        let key = random_bytes::<32>();
        self.keys.push((id, Aes256Gcm::new(&key.into()), key));
        self.current = id;
        id
    }

    /// Drops every key but the current one (after all rows were re-sealed).
    pub fn retire_old(&mut self) {
        let current = self.current;
        self.keys.retain(|k| k.0 == current);
    }

    /// The prefix every value sealed under the current key starts with.
    pub fn current_prefix(&self) -> String {
        format!("v1.{}.", self.current)
    }

    /// Encrypts `plain` for `column` under the current key with a random 96-bit nonce.
    pub fn seal(&self, column: &str, plain: &str) -> String {
        let (id, sealed) = self.encrypt(column, plain.as_bytes());
        format!("v1.{id}.{}", B64.encode(sealed))
    }

    /// Decrypts a value sealed by [`Vault::seal`] for the same column.
    pub fn open(&self, column: &str, sealed: &str) -> Result<String, VaultError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(VaultError::Damaged);
        };
        let id: u32 = id.parse().map_err(|_| VaultError::Damaged)?;
        let cipher = self.key(id)?;
        let raw = B64.decode(body).map_err(|_| VaultError::Damaged)?;
        let plain = decrypt(cipher, column, &raw)?;
        String::from_utf8(plain).map_err(|_| VaultError::Damaged)
    }

    /// Encrypts bytes for `column` under the current key: the key id (4 bytes, big-endian),
    /// a random 96-bit nonce, the AES-GCM ciphertext.
    pub fn seal_bytes(&self, column: &str, plain: &[u8]) -> Vec<u8> {
        let (id, sealed) = self.encrypt(column, plain);
        let mut out = Vec::with_capacity(4 + sealed.len());
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts bytes sealed by [`Vault::seal_bytes`] for the same column.
    pub fn open_bytes(&self, column: &str, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        if sealed.len() < 4 + 12 + 16 {
            return Err(VaultError::Damaged);
        }
        let (id, rest) = sealed.split_at(4);
        let id = u32::from_be_bytes(id.try_into().map_err(|_| VaultError::Damaged)?);
        decrypt(self.key(id)?, column, rest)
    }

    /// `plain` encrypted for `column` under the current key: the key's id, and the random
    /// 96-bit nonce followed by the AES-GCM ciphertext.
    fn encrypt(&self, column: &str, plain: &[u8]) -> (u32, Vec<u8>) {
        let (id, cipher, _) = self
            .keys
            .iter()
            .find(|k| k.0 == self.current)
            .expect("current key present");
        let nonce = random_bytes::<12>();
        let ct = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: column.as_bytes(),
                },
            )
            .expect("AES-GCM encryption does not fail below its size limit");
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        (*id, out)
    }

    /// The cipher of key `id`, if the set still holds it.
    fn key(&self, id: u32) -> Result<&Aes256Gcm, VaultError> {
        self.keys
            .iter()
            .find(|k| k.0 == id)
            .map(|(_, cipher, _)| cipher)
            .ok_or(VaultError::UnknownKey(id))
    }

    /// The keyed search hash of a normalised value (`kind` keeps ID and phone domains apart).
    pub fn digest(&self, kind: &str, value: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key).expect("HMAC takes any key");
        mac.update(kind.as_bytes());
        mac.update(&[0x1f]);
        mac.update(value.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    }
}

/// Decrypts a nonce followed by its AES-GCM ciphertext for `column`; anything too short, or
/// sealed for another column or key, is damaged.
fn decrypt(cipher: &Aes256Gcm, column: &str, raw: &[u8]) -> Result<Vec<u8>, VaultError> {
    if raw.len() < 12 + 16 {
        return Err(VaultError::Damaged);
    }
    let (nonce, ct) = raw.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| VaultError::Damaged)?;
    cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: ct,
                aad: column.as_bytes(),
            },
        )
        .map_err(|_| VaultError::Damaged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_round_trip_bound_to_their_column_and_key() {
        let v = Vault::generate();
        let plain = b"--b\r\nname=\"id\"\r\n\r\n370829199001011234\r\n\xff\x00";
        let sealed = v.seal_bytes(column::KEPT_FORM, plain);
        assert!(!sealed.windows(18).any(|w| w == b"370829199001011234"));
        assert_eq!(v.open_bytes(column::KEPT_FORM, &sealed).unwrap(), plain);
        assert!(matches!(
            v.open_bytes(column::EVENT_PERSONAL, &sealed),
            Err(VaultError::Damaged)
        ));
        let mut cut = sealed.clone();
        cut.truncate(20);
        assert!(v.open_bytes(column::KEPT_FORM, &cut).is_err());
        assert!(
            Vault::generate()
                .open_bytes(column::KEPT_FORM, &sealed)
                .is_err()
        );
    }

    #[test]
    fn seal_open_round_trip_and_column_binding() {
        let v = Vault::generate();
        let s = v.seal(column::EVENT_PERSONAL, "370829199001011234");
        assert!(s.starts_with("v1.1."));
        assert!(!s.contains("370829199001011234"));
        assert_eq!(
            v.open(column::EVENT_PERSONAL, &s).unwrap(),
            "370829199001011234"
        );
        // Same plaintext twice: different nonces, different ciphertexts.
        assert_ne!(s, v.seal(column::EVENT_PERSONAL, "370829199001011234"));
        assert_eq!(
            v.open(column::HOUSE_PEOPLE, &s),
            Err(VaultError::Damaged),
            "a value moved to another column must not open"
        );
        let mut tampered = s.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(
            v.open(column::EVENT_PERSONAL, &tampered),
            Err(VaultError::Damaged)
        );
    }

    #[test]
    fn rotation_keeps_old_values_readable_until_retired() {
        let mut v = Vault::generate();
        let old = v.seal(column::HOUSE_PEOPLE, "13800001234");
        let digest = v.digest(digest_kind::PHONE, "13800001234");
        assert_eq!(v.rotate(), 2);
        let new = v.seal(column::HOUSE_PEOPLE, "13800001234");
        assert!(new.starts_with("v1.2."));
        assert_eq!(v.open(column::HOUSE_PEOPLE, &old).unwrap(), "13800001234");
        let reread = Vault::from_json(&v.to_json()).unwrap();
        assert_eq!(
            reread.open(column::HOUSE_PEOPLE, &old).unwrap(),
            "13800001234"
        );
        assert_eq!(reread.digest(digest_kind::PHONE, "13800001234"), digest);
        let mut retired = reread.clone();
        retired.retire_old();
        assert_eq!(
            retired.open(column::HOUSE_PEOPLE, &old),
            Err(VaultError::UnknownKey(1))
        );
        assert_eq!(
            retired.open(column::HOUSE_PEOPLE, &new).unwrap(),
            "13800001234"
        );
    }

    #[test]
    fn digests_are_keyed_and_domain_separated() {
        let a = Vault::generate();
        let b = Vault::generate();
        assert_eq!(a.digest("id", "x"), a.digest("id", "x"));
        assert_ne!(a.digest("id", "x"), a.digest("phone", "x"));
        assert_ne!(a.digest("id", "x"), b.digest("id", "x"));
        assert!(!format!("{a:?}").contains(&a.to_json()[20..40]));
    }
}
