//! Pure rules: mailbox numbers, entry points, PINs and their policy, lockout
//! decisions, the prompt catalogue. No I/O of any kind.

pub mod account;
pub mod entry;
pub mod hostname;
pub mod lockout;
pub mod mailbox;
pub mod pin;
pub mod pin_hash;
pub mod prompts;
pub mod receptionist;
pub mod template;
pub mod token;

pub use account::{AdminName, AdminNameError, Password, PasswordRejection};
pub use entry::{EntryError, EntryPoint};
pub use lockout::LockoutPolicy;
pub use mailbox::{MailboxId, MailboxIdError};
pub use pin::{Pin, PinPolicy, PinRejection};
pub use pin_hash::{HashCost, HashError, HashMemory, Hashing, PinHasher};
pub use prompts::{Language, Prompt, UnknownLanguage};
pub use receptionist::ReceptionistConfig;
pub use token::{OneTimeCode, TokenKey};
