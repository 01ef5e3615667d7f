//! Pure rules: mailbox numbers, entry points, PINs and their policy, lockout
//! decisions, the prompt catalogue. No I/O of any kind.

pub mod account;
pub mod entry;
pub mod hostname;
pub mod mailbox;
pub mod pin;
pub mod pin_hash;
pub mod prompts;
pub mod token;

pub use account::{AdminName, AdminNameError, Password, PasswordRejection};
pub use entry::{EntryError, EntryPoint};
pub use mailbox::{MailboxId, MailboxIdError};
pub use pin::{Pin, PinPolicy, PinRejection};
pub use pin_hash::{HashCost, HashError, PinHasher};
pub use prompts::{Language, Prompt, UnknownLanguage};
pub use token::{OneTimeCode, TokenKey};
