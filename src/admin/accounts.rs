//! Web administrator accounts and API tokens, managed from the CLI only: a web
//! page that creates administrators would let one stolen session make more.

use super::{Admin, AdminError};
use crate::access::tokens;
use crate::domain::{AdminName, Password};
use crate::store::accounts::AdminAccount;
use crate::store::lockout::{LockStatus, LockSubject};
use crate::store::tokens::ApiToken;

/// An account as `admin account list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountStatus {
    pub account: AdminAccount,
    pub lock: LockStatus,
}

impl Admin {
    /// Creates an administrator account with `password` (hashed with argon2id).
    pub async fn create_account(
        &self,
        actor: &str,
        name: &str,
        password: Password,
    ) -> Result<AdminName, AdminError> {
        let name = AdminName::parse(name)?;
        let hash = self
            .hashing(move |hasher| hasher.hash_password(&password))
            .await??;
        if !self.store.create_admin(&name, &hash).await? {
            return Err(AdminError::AdminExists(name));
        }
        self.record(actor, "account-create", &format!("admin:{name}"), "")
            .await?;
        Ok(name)
    }

    /// Replaces an account's password and unlocks it; every session of the
    /// account ends.
    pub async fn set_account_password(
        &self,
        actor: &str,
        name: &str,
        password: Password,
    ) -> Result<(), AdminError> {
        let name = AdminName::parse(name)?;
        let hash = self
            .hashing(move |hasher| hasher.hash_password(&password))
            .await??;
        if !self.store.set_admin_password(&name, &hash).await? {
            return Err(AdminError::UnknownAdmin(name));
        }
        self.store
            .unlock(&LockSubject::AdminAccount(name.clone()))
            .await?;
        self.record(
            actor,
            "account-password",
            &format!("admin:{name}"),
            "unlocked sessions-ended",
        )
        .await
    }

    /// Clears an account's failed sign-ins and lock.
    pub async fn unlock_account(&self, actor: &str, name: &str) -> Result<(), AdminError> {
        let name = AdminName::parse(name)?;
        if self.store.admin_account(&name).await?.is_none() {
            return Err(AdminError::UnknownAdmin(name));
        }
        self.store
            .unlock(&LockSubject::AdminAccount(name.clone()))
            .await?;
        self.record(actor, "account-unlock", &format!("admin:{name}"), "")
            .await
    }

    /// Deletes an account; its sessions stop working at their next request.
    pub async fn delete_account(&self, actor: &str, name: &str) -> Result<(), AdminError> {
        let name = AdminName::parse(name)?;
        if !self.store.delete_admin(&name).await? {
            return Err(AdminError::UnknownAdmin(name));
        }
        self.record(actor, "account-delete", &format!("admin:{name}"), "")
            .await
    }

    /// Every account with its lock, by name.
    pub async fn list_accounts(&self) -> Result<Vec<AccountStatus>, AdminError> {
        let mut accounts = Vec::new();
        for name in self.store.admin_names().await? {
            if let Some(account) = self.store.admin_account(&name).await? {
                let lock = self
                    .store
                    .lock_status(&LockSubject::AdminAccount(name))
                    .await?;
                accounts.push(AccountStatus { account, lock });
            }
        }
        Ok(accounts)
    }

    /// Creates an API token named `name` and returns it: the only time it is
    /// ever seen, since only its digest is kept.
    pub async fn create_token(&self, actor: &str, name: &str) -> Result<String, AdminError> {
        let name = AdminName::parse(name)?;
        let token = tokens::new_token();
        let digest = tokens::digest(&self.token_key, &token);
        if !self.store.create_token(&name, &digest).await? {
            return Err(AdminError::TokenExists(name));
        }
        self.record(actor, "token-create", &format!("token:{name}"), "")
            .await?;
        Ok(token)
    }

    pub async fn revoke_token(&self, actor: &str, name: &str) -> Result<(), AdminError> {
        let name = AdminName::parse(name)?;
        if !self.store.revoke_token(&name).await? {
            return Err(AdminError::UnknownToken(name));
        }
        self.record(actor, "token-revoke", &format!("token:{name}"), "")
            .await
    }

    pub async fn list_tokens(&self) -> Result<Vec<ApiToken>, AdminError> {
        Ok(self.store.tokens().await?)
    }
}
