//! Organisation-wide settings, in one hash `vp:{portal}:settings` (see `keys`):
//!
//! | field | value |
//! |---|---|
//! | `default_pin_hash` | PHC hash of the org default PIN; absent when none is configured |
//! | `passcode_hash` | PHC hash of the portal's admin passcode; absent until an admin sets it |
//!
//! Only hashes are kept, never the secrets. The org default PIN's hash is kept
//! (rather than only copied into new mailboxes) because the PIN policy must refuse
//! it later when an owner chooses a PIN, and a temporary PIN must differ from it.

use std::sync::LazyLock;

use redis::{AsyncCommands, Script};

use super::keys::settings_hash;
use super::lockout::LockSubject;
use super::{Store, StoreError};

const DEFAULT_PIN_HASH: &str = "default_pin_hash";
const PASSCODE_HASH: &str = "passcode_hash";

/// Replaces the passcode hash and clears the passcode's strikes and lock in one
/// step: a new passcode starts with a clean slate, and nobody can be locked out by
/// strikes earned against the old one. KEYS: settings, lock. ARGV: field, hash.
const SET_PASSCODE: &str = r#"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('DEL', KEYS[2])
return 1
"#;

static SET_PASSCODE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(SET_PASSCODE));

impl Store {
    /// The org default PIN's hash, if one is configured.
    pub async fn default_pin_hash(&self) -> Result<Option<String>, StoreError> {
        self.setting(DEFAULT_PIN_HASH).await
    }

    /// Sets (`Some`) or clears (`None`) the org default PIN's hash. Mailboxes that
    /// already hold a copy of the old hash keep it: the PIN they were given does
    /// not change under their owners' feet.
    pub async fn set_default_pin_hash(&self, hash: Option<&str>) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let result: Result<(), _> = match hash {
            Some(hash) => conn.hset(settings_hash(), DEFAULT_PIN_HASH, hash).await,
            None => conn.hdel(settings_hash(), DEFAULT_PIN_HASH).await,
        };
        result.map_err(|e| self.error(e))
    }

    /// The portal admin passcode's hash, if one is set.
    pub async fn portal_passcode_hash(&self) -> Result<Option<String>, StoreError> {
        self.setting(PASSCODE_HASH).await
    }

    /// Replaces the portal passcode's hash and, atomically, unlocks the passcode
    /// (strikes to 0, attempts in flight voided), as a PIN reset does for a mailbox.
    pub async fn set_portal_passcode_hash(&self, hash: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: i64 = SET_PASSCODE_SCRIPT
            .key(settings_hash())
            .key(LockSubject::PortalPasscode.key())
            .arg(PASSCODE_HASH)
            .arg(hash)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// One field; an empty value reads as absent, so a hand-edited empty field can
    /// never be taken for a hash.
    async fn setting(&self, field: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        let value: Option<String> = conn
            .hget(settings_hash(), field)
            .await
            .map_err(|e| self.error(e))?;
        Ok(value.filter(|v| !v.is_empty()))
    }
}
