//! Organisation-wide settings: the org default PIN and the portal's admin passcode,
//! both only as hashes, in one hash `vp:{portal}:settings`.

use redis::AsyncCommands;

use super::{Store, StoreError};

/// The key of the settings hash; shares the portal's hash tag with its lock.
pub fn settings_key() -> String {
    format!("{}:{{portal}}:settings", super::keys::PREFIX)
}

const DEFAULT_PIN_HASH: &str = "default_pin_hash";
const PASSCODE_HASH: &str = "passcode_hash";

impl Store {
    /// The org default PIN's hash, if one is configured.
    pub async fn default_pin_hash(&self) -> Result<Option<String>, StoreError> {
        self.setting(DEFAULT_PIN_HASH).await
    }

    /// Sets (`Some`) or clears (`None`) the org default PIN's hash.
    pub async fn set_default_pin_hash(&self, hash: Option<&str>) -> Result<(), StoreError> {
        self.set_setting(DEFAULT_PIN_HASH, hash).await
    }

    /// The portal admin passcode's hash, if one is set.
    pub async fn portal_passcode_hash(&self) -> Result<Option<String>, StoreError> {
        self.setting(PASSCODE_HASH).await
    }

    pub async fn set_portal_passcode_hash(&self, hash: &str) -> Result<(), StoreError> {
        self.set_setting(PASSCODE_HASH, Some(hash)).await
    }

    async fn setting(&self, field: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        let value: Option<String> = conn
            .hget(settings_key(), field)
            .await
            .map_err(|e| self.error(e))?;
        Ok(value.filter(|v| !v.is_empty()))
    }

    async fn set_setting(&self, field: &str, value: Option<&str>) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let result: Result<(), _> = match value {
            Some(value) => conn.hset(settings_key(), field, value).await,
            None => conn.hdel(settings_key(), field).await,
        };
        result.map_err(|e| self.error(e))
    }
}
