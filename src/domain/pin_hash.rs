//! Hashing and verifying PINs: argon2id, a random salt per record, and a pepper.
//!
//! A PIN has little entropy (a million combinations for six digits), so a leaked
//! salted hash alone would fall to brute force quickly whatever the cost. The
//! **pepper** (argon2's secret input) lives in the service configuration, not in
//! Redis: a copy of the database without the configuration is useless for
//! guessing. Changing the pepper invalidates every stored hash, so it is set once.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`), which carry
//! their own cost parameters: raising [`HashCost`] later keeps old hashes verifiable.
//! docs/PIN-HASHING.md explains the default cost with measurements.
//!
//! argon2 works in `memory_kib` of memory per run. Allocating it for every
//! verification (what argon2's own `verify_password` does) costs a tenth of the
//! run in page faults at the default cost, so the service's hashing threads each
//! keep one [`HashMemory`] and hash through [`PinHasher::with`]. The plain
//! methods ([`PinHasher::verify`] and friends) allocate, for one-off use.

use std::fmt;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::{Deserialize, Serialize};

use super::account::Password;
use super::pin::Pin;
use crate::config::Secret;

/// Bytes of random salt per hash: 16 is what the argon2 RFC recommends.
const SALT_LEN: usize = 16;

/// Stored hashes with a higher memory cost than this are refused rather than
/// verified: a PHC string dictates its own cost, and one planted with an absurd
/// cost would otherwise exhaust the service's memory at the next login.
const MAX_VERIFY_MEMORY_KIB: u32 = 1024 * 1024;
/// Same reasoning for time and lanes.
const MAX_VERIFY_ITERATIONS: u32 = 64;
const MAX_VERIFY_PARALLELISM: u32 = 64;

/// argon2id cost parameters for new hashes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HashCost {
    /// Memory per hash in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

/// OWASP's argon2id recommendation (19 MiB, 2 iterations, 1 lane): about as slow to
/// guess as the memory allows, while a login stays well under a tenth of a second.
impl Default for HashCost {
    fn default() -> Self {
        HashCost {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl HashCost {
    /// The cheapest cost argon2 accepts, so tests that hash many PINs stay fast.
    /// Never use it in production.
    pub fn fast_for_tests() -> HashCost {
        HashCost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    /// Checks the values against argon2's own limits and ours, for config
    /// validation.
    pub fn validate(&self) -> Result<(), String> {
        self.params().map(drop).map_err(|e| e.to_string())?;
        if self.memory_kib > MAX_VERIFY_MEMORY_KIB
            || self.iterations > MAX_VERIFY_ITERATIONS
            || self.parallelism > MAX_VERIFY_PARALLELISM
        {
            return Err(format!(
                "at most {MAX_VERIFY_MEMORY_KIB} KiB of memory, {MAX_VERIFY_ITERATIONS} \
                 iterations and {MAX_VERIFY_PARALLELISM} lanes (hashes above that \
                 could not be verified)"
            ));
        }
        Ok(())
    }

    fn params(&self) -> Result<Params, HashError> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| HashError::Cost(e.to_string()))
    }
}

/// A failure to produce a hash. Messages come from argon2 and never contain the
/// PIN or the pepper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The configured cost is outside what argon2 accepts.
    #[error("invalid argon2 cost: {0}")]
    Cost(String),
    /// The pepper is longer than argon2 accepts (4 GiB).
    #[error("the PIN pepper is too long for argon2")]
    Pepper,
    /// argon2 refused to hash (should not happen with validated parameters).
    #[error("cannot hash the PIN: {0}")]
    Hash(String),
}

/// Hashes and verifies PINs with one pepper and one cost.
#[derive(Clone)]
pub struct PinHasher {
    pepper: Secret,
    params: Params,
    /// A hash of a random PIN with the current cost, for [`PinHasher::verify_dummy`].
    dummy: String,
}

impl fmt::Debug for PinHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinHasher")
            .field("pepper", &"***")
            .field("memory_kib", &self.params.m_cost())
            .field("iterations", &self.params.t_cost())
            .field("parallelism", &self.params.p_cost())
            .finish()
    }
}

impl PinHasher {
    /// Builds a hasher and checks the configuration by hashing once (the dummy hash
    /// used for timing parity), so a bad cost or pepper fails at start-up.
    ///
    /// An empty pepper means "no pepper": argon2 treats an empty secret exactly like
    /// none. [`PinHasher::is_peppered`] lets start-up warn about it.
    pub fn new(pepper: &Secret, cost: &HashCost) -> Result<PinHasher, HashError> {
        let mut hasher = PinHasher {
            pepper: pepper.clone(),
            params: cost.params()?,
            dummy: String::new(),
        };
        let random: u64 = rand::random();
        let dummy_pin = Pin::parse(&format!("{:020}", random % 10u64.pow(19)))
            .map_err(|_| HashError::Hash("cannot build the dummy PIN".into()))?;
        hasher.dummy = hasher.hash(&dummy_pin)?;
        Ok(hasher)
    }

    /// Whether a non-empty pepper is configured.
    pub fn is_peppered(&self) -> bool {
        !self.pepper.expose().is_empty()
    }

    /// Memory for one run at a time at the configured cost, allocated at its
    /// first use and then kept: what a hashing thread owns.
    pub fn memory(&self) -> HashMemory {
        HashMemory {
            blocks: Vec::new(),
            keep: self.params.block_count(),
        }
    }

    /// Hashing and verifying in `memory` instead of fresh memory.
    pub fn with<'a>(&'a self, memory: &'a mut HashMemory) -> Hashing<'a> {
        Hashing {
            hasher: self,
            memory,
        }
    }

    /// A PHC string for `pin` with a fresh random salt.
    pub fn hash(&self, pin: &Pin) -> Result<String, HashError> {
        self.with(&mut self.memory()).hash(pin)
    }

    /// A PHC string for an administrator's password, with the same cost and
    /// pepper as PINs.
    pub fn hash_password(&self, password: &Password) -> Result<String, HashError> {
        self.with(&mut self.memory()).hash_password(password)
    }

    /// Whether `pin` matches `phc` (see [`Hashing::verify`]).
    pub fn verify(&self, pin: &Pin, phc: &str) -> bool {
        self.with(&mut self.memory()).verify(pin, phc)
    }

    /// Whether `password` matches `phc` (see [`Hashing::verify`]).
    pub fn verify_password(&self, password: &Password, phc: &str) -> bool {
        self.with(&mut self.memory()).verify_password(password, phc)
    }

    /// See [`Hashing::verify_dummy`].
    pub fn verify_dummy(&self, pin: &Pin) {
        self.with(&mut self.memory()).verify_dummy(pin)
    }

    /// See [`Hashing::verify_password_dummy`].
    pub fn verify_password_dummy(&self, password: &Password) {
        self.with(&mut self.memory())
            .verify_password_dummy(password)
    }

    /// argon2id with the pepper; built per use because `Argon2` borrows its secret.
    fn argon2(&self, params: Params, version: Version) -> Result<Argon2<'_>, HashError> {
        Argon2::new_with_secret(
            self.pepper.expose().as_bytes(),
            Algorithm::Argon2id,
            version,
            params,
        )
        .map_err(|_| HashError::Pepper)
    }
}

/// argon2's working memory (1 KiB blocks), reused from one run to the next.
///
/// It grows to the configured cost at its first use and stays there. A stored
/// hash made with a higher cost (an older configuration, or a planted record
/// within the verification limits) gets fresh memory for that run only, so one
/// such record cannot make every hashing thread hold its memory for good.
///
/// Reusing it is safe: argon2 writes every block of a run before reading it.
pub struct HashMemory {
    blocks: Vec<Block>,
    /// The most blocks kept between runs.
    keep: usize,
}

impl fmt::Debug for HashMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashMemory")
            .field("blocks", &self.blocks.len())
            .field("keep", &self.keep)
            .finish()
    }
}

impl HashMemory {
    /// One argon2 run into `out`, in the kept blocks when they are enough.
    fn run(
        &mut self,
        argon2: &Argon2<'_>,
        secret: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let needed = argon2.params().block_count();
        if needed > self.keep {
            let fresh = vec![Block::new(); needed];
            return argon2.hash_password_into_with_memory(secret, salt, out, fresh);
        }
        if self.blocks.len() < needed {
            self.blocks.resize(needed, Block::new());
        }
        argon2.hash_password_into_with_memory(secret, salt, out, &mut self.blocks[..needed])
    }
}

/// A [`PinHasher`] working in a given [`HashMemory`]: what a hashing thread uses.
pub struct Hashing<'a> {
    hasher: &'a PinHasher,
    memory: &'a mut HashMemory,
}

impl Hashing<'_> {
    /// A PHC string for `pin` with a fresh random salt.
    pub fn hash(&mut self, pin: &Pin) -> Result<String, HashError> {
        self.hash_secret(pin.expose().as_bytes())
    }

    /// A PHC string for an administrator's password.
    pub fn hash_password(&mut self, password: &Password) -> Result<String, HashError> {
        self.hash_secret(password.expose().as_bytes())
    }

    /// Whether `pin` matches `phc`. False, never a panic, for anything that is not
    /// an argon2id PHC string within our cost limits, so a corrupted record can
    /// only refuse a login. The final comparison is constant-time (argon2's
    /// `Output`).
    pub fn verify(&mut self, pin: &Pin, phc: &str) -> bool {
        self.verify_secret(pin.expose().as_bytes(), phc)
    }

    /// Whether `password` matches `phc` (see [`Hashing::verify`]).
    pub fn verify_password(&mut self, password: &Password, phc: &str) -> bool {
        self.verify_secret(password.expose().as_bytes(), phc)
    }

    /// Spends the same work as verifying against a hash of the current cost, and
    /// learns nothing: for an unknown mailbox, so that a wrong mailbox number takes
    /// as long as a wrong PIN and mailboxes cannot be enumerated by timing. (Stored
    /// hashes made with an older cost take as long as that cost; they are replaced
    /// the next time their owner changes the PIN.)
    pub fn verify_dummy(&mut self, pin: &Pin) {
        let dummy = &self.hasher.dummy;
        let secret = pin.expose().as_bytes();
        std::hint::black_box(verify_in(self.hasher, self.memory, secret, dummy));
    }

    /// Spends the work of one password verification and learns nothing: for an
    /// account that does not exist.
    pub fn verify_password_dummy(&mut self, password: &Password) {
        let dummy = &self.hasher.dummy;
        let secret = password.expose().as_bytes();
        std::hint::black_box(verify_in(self.hasher, self.memory, secret, dummy));
    }

    fn hash_secret(&mut self, secret: &[u8]) -> Result<String, HashError> {
        let salt_bytes: [u8; SALT_LEN] = rand::random();
        let salt =
            SaltString::encode_b64(&salt_bytes).map_err(|e| HashError::Hash(e.to_string()))?;
        let params = self.hasher.params.clone();
        let argon2 = self.hasher.argon2(params.clone(), Version::V0x13)?;
        let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let output = Output::init_with(len, |out| {
            self.memory
                .run(&argon2, secret, &salt_bytes, out)
                .map_err(|_| argon2::password_hash::Error::Crypto)
        })
        .map_err(|e| HashError::Hash(e.to_string()))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| HashError::Hash(e.to_string()))?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    }

    fn verify_secret(&mut self, secret: &[u8], phc: &str) -> bool {
        verify_in(self.hasher, self.memory, secret, phc)
    }
}

/// Re-hashes `secret` with the parameters, salt and version of `phc` (ours only
/// contribute the pepper) and compares in constant time.
fn verify_in(hasher: &PinHasher, memory: &mut HashMemory, secret: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_VERIFY_MEMORY_KIB
        || params.t_cost() > MAX_VERIFY_ITERATIONS
        || params.p_cost() > MAX_VERIFY_PARALLELISM
    {
        return false;
    }
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let Ok(argon2) = hasher.argon2(params, version) else {
        return false;
    };
    let computed = Output::init_with(expected.len(), |out| {
        memory
            .run(&argon2, secret, salt, out)
            .map_err(|_| argon2::password_hash::Error::Crypto)
    });
    // `Output`'s equality is constant-time.
    computed.is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(pepper: &str) -> PinHasher {
        PinHasher::new(&Secret::new(pepper), &HashCost::fast_for_tests()).unwrap()
    }

    fn pin(s: &str) -> Pin {
        Pin::parse(s).unwrap()
    }

    #[test]
    fn round_trip() {
        let h = hasher("pepper");
        let phc = h.hash(&pin("482913")).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(h.verify(&pin("482913"), &phc));
        assert!(!h.verify(&pin("482914"), &phc));
        assert!(!h.verify(&pin("4829130"), &phc));
    }

    #[test]
    fn salts_differ_for_the_same_pin() {
        let h = hasher("pepper");
        let a = h.hash(&pin("482913")).unwrap();
        let b = h.hash(&pin("482913")).unwrap();
        assert_ne!(a, b);
        assert!(h.verify(&pin("482913"), &a) && h.verify(&pin("482913"), &b));
    }

    #[test]
    fn the_pepper_is_part_of_the_hash() {
        let phc = hasher("pepper").hash(&pin("482913")).unwrap();
        assert!(!hasher("other").verify(&pin("482913"), &phc));
        assert!(!hasher("").verify(&pin("482913"), &phc));
        assert!(hasher("pepper").is_peppered());
        assert!(!hasher("").is_peppered());
        let unpeppered = hasher("").hash(&pin("482913")).unwrap();
        assert!(hasher("").verify(&pin("482913"), &unpeppered));
    }

    #[test]
    fn old_costs_stay_verifiable() {
        let strong = HashCost {
            memory_kib: 128,
            iterations: 2,
            parallelism: 2,
        };
        let phc = PinHasher::new(&Secret::new("p"), &strong)
            .unwrap()
            .hash(&pin("482913"))
            .unwrap();
        assert!(hasher("p").verify(&pin("482913"), &phc));
    }

    #[test]
    fn malformed_hashes_are_false() {
        let h = hasher("pepper");
        let p = pin("482913");
        let good = h.hash(&p).unwrap();
        let truncated = &good[..good.len() - 5];
        let argon2i = good.replacen("$argon2id$", "$argon2i$", 1);
        let huge = good.replacen("m=64", "m=4000000", 1);
        for bad in [
            "",
            "482913",
            "$",
            "$argon2id$",
            "$argon2id$v=19$m=64,t=1,p=1$",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$",
            "$argon2id$v=19$m=1,t=0,p=0$c2FsdHNhbHRzYWx0$aGFzaA",
            "$2b$12$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyzABCDE",
            truncated,
            &argon2i,
            &huge,
            "$argon2id$v=19$m=64,t=1,p=1$\u{e9}\u{e9}$\u{e9}",
        ] {
            assert!(!h.verify(&p, bad), "{bad}");
        }
        assert!(h.verify(&p, &good));
    }

    #[test]
    fn the_phc_string_does_not_contain_the_pin() {
        let h = hasher("s3cr3t-p3pp3r");
        for raw in ["482913", "000000", "12345678901234567890"] {
            let phc = h.hash(&pin(raw)).unwrap();
            assert!(!phc.contains(raw), "{phc}");
        }
        let shown = format!("{h:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("***"));
    }

    #[test]
    fn reused_memory_gives_the_same_answers() {
        let h = hasher("pepper");
        let mut memory = h.memory();
        let mut hashing = h.with(&mut memory);
        let phc = hashing.hash(&pin("482913")).unwrap();
        for _ in 0..3 {
            assert!(hashing.verify(&pin("482913"), &phc));
            assert!(!hashing.verify(&pin("482914"), &phc));
        }
        assert!(h.verify(&pin("482913"), &phc));
        let fresh = h.hash(&pin("739105")).unwrap();
        assert!(h.with(&mut memory).verify(&pin("739105"), &fresh));
        assert_eq!(memory.blocks.len(), 64);
    }

    #[test]
    fn a_costlier_hash_gets_memory_for_its_run_only() {
        let costlier = HashCost {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        };
        let phc = PinHasher::new(&Secret::new("p"), &costlier)
            .unwrap()
            .hash(&pin("482913"))
            .unwrap();
        let h = hasher("p");
        let mut memory = h.memory();
        assert!(h.with(&mut memory).verify(&pin("482913"), &phc));
        assert!(memory.blocks.len() <= 64, "{memory:?}");
    }

    /// Our hashing and verification go through argon2's memory-taking entry
    /// point; they must agree with the library's own PHC implementation.
    #[test]
    fn agrees_with_argon2s_own_phc_code() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let h = hasher("pepper");
        let argon2 = h.argon2(h.params.clone(), Version::V0x13).unwrap();
        let ours = h.hash(&pin("482913")).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2.verify_password(b"482913", &parsed).is_ok());
        assert!(argon2.verify_password(b"482914", &parsed).is_err());
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = argon2.hash_password(b"482913", &salt).unwrap().to_string();
        assert!(h.verify(&pin("482913"), &theirs));
        assert!(!h.verify(&pin("482914"), &theirs));
        let old_version = Argon2::new_with_secret(
            b"pepper",
            Algorithm::Argon2id,
            Version::V0x10,
            h.params.clone(),
        )
        .unwrap()
        .hash_password(b"482913", &salt)
        .unwrap()
        .to_string();
        assert!(old_version.starts_with("$argon2id$v=16$"), "{old_version}");
        assert!(h.verify(&pin("482913"), &old_version));
        assert!(!h.verify(&pin("482914"), &old_version));
    }

    #[test]
    fn dummy_verification_runs() {
        let h = hasher("pepper");
        h.verify_dummy(&pin("482913"));
        assert!(h.dummy.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
    }

    #[test]
    fn cost_validation() {
        HashCost::default().validate().unwrap();
        HashCost::fast_for_tests().validate().unwrap();
        let too_little = HashCost {
            memory_kib: 4,
            iterations: 1,
            parallelism: 1,
        };
        assert!(too_little.validate().is_err());
        assert!(matches!(
            PinHasher::new(&Secret::default(), &too_little),
            Err(HashError::Cost(_))
        ));
        let zero = HashCost {
            iterations: 0,
            ..HashCost::default()
        };
        assert!(zero.validate().is_err());
        let huge = HashCost {
            memory_kib: 2 * 1024 * 1024,
            ..HashCost::default()
        };
        assert!(huge.validate().is_err());
        let cost: HashCost = toml::from_str("memory_kib = 65536").unwrap();
        assert_eq!(cost.iterations, 2);
        assert!(toml::from_str::<HashCost>("memroy_kib = 1").is_err());
    }
}
