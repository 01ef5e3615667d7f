//! The binary's `check-config`: the effective config with secrets masked, and a
//! precise message with a non-zero exit for anything invalid.

use std::process::Output;

use crate::support::voiceportal_command;

fn check_config(file_text: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut command = voiceportal_command();
    command.arg("check-config");
    let dir = std::env::temp_dir().join(format!("vp-cli-{}-{}", std::process::id(), rand_suffix()));
    if let Some(text) = file_text {
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("voiceportal.toml");
        std::fs::write(&path, text).unwrap();
        command.arg("--config").arg(&path);
    }
    command.envs(env.iter().copied());
    command.output().expect("run voiceportal")
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn defaults_print_and_pass() {
    let out = check_config(None, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("url = \"http://127.0.0.1:8088\""), "{shown}");
    assert!(shown.contains("app = \"voiceportal\""), "{shown}");
}

#[test]
fn file_and_environment_layer_and_secrets_are_masked() {
    let file = r#"
[ari]
url = "http://10.0.0.5:8088"
password = "ari-secret-123"

[redis]
url = "redis://:redis-secret-456@127.0.0.1:6380/2"
password = "node-secret-789"
sentinel_password = "sentinel-secret-012"
"#;
    let out = check_config(Some(file), &[("VOICEPORTAL__ARI__APP", "vp2")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("http://10.0.0.5:8088"), "{shown}");
    assert!(shown.contains("app = \"vp2\""), "{shown}");
    assert!(!shown.contains("ari-secret-123"), "{shown}");
    assert!(!shown.contains("redis-secret-456"), "{shown}");
    assert!(!shown.contains("node-secret-789"), "{shown}");
    assert!(!shown.contains("sentinel-secret-012"), "{shown}");
}

#[test]
fn invalid_values_fail_with_the_key_named() {
    let cases = [
        ("[ari]\nurl = \"ftp://x\"\n", "ari.url"),
        (
            "[call]\nfirst_digit_timeout = \"0s\"\n",
            "call.first_digit_timeout",
        ),
        (
            "[call]\nfirst_digit_timeout = \"soon\"\n",
            "first_digit_timeout",
        ),
        ("[ari]\nnot_a_key = 1\n", "not_a_key"),
        ("this is not toml", "voiceportal.toml"),
        ("[redis]\nurl = \"http://x\"\n", "redis.url"),
        ("[redis]\nmode = \"sentinel\"\n", "redis.sentinels"),
        (
            "[redis]\nmode = \"sentinel\"\nsentinels = [\"127.0.0.1:26379\"]\n",
            "redis.master_name",
        ),
        (
            "[redis]\nmode = \"cluster\"\nnodes = [\"127.0.0.1\"]\n",
            "redis.nodes",
        ),
        ("[redis]\nmode = \"ring\"\n", "mode"),
    ];
    for (file, expected) in cases {
        let out = check_config(Some(file), &[]);
        assert!(!out.status.success(), "{file} was accepted");
        let err = text(&out.stderr);
        assert!(err.contains(expected), "{file}: {err}");
    }
}

#[test]
fn a_missing_config_file_is_named() {
    let out = voiceportal_command()
        .args(["--config", "/nonexistent/voiceportal.toml", "check-config"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("/nonexistent/voiceportal.toml"));
}
