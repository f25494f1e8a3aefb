//! The completion scripts checked in under `completions/` are what the binary prints: a flag
//! added without regenerating them (`make completions`) fails here.

use std::path::Path;
use std::process::Command;

fn check(shell: &str, file: &str) {
    let output = Command::new(env!("CARGO_BIN_EXE_mqk"))
        .args(["completions", shell])
        .output()
        .expect("mqk runs");
    assert!(output.status.success(), "mqk completions {shell} failed");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("completions")
        .join(file);
    let checked_in = std::fs::read(&path).expect("the completion script is checked in");
    assert!(
        output.stdout == checked_in,
        "{} is stale: run `make completions` and commit the result",
        path.display()
    );
}

#[test]
fn bash_completions_match_the_binary() {
    check("bash", "mqk.bash");
}

#[test]
fn zsh_completions_match_the_binary() {
    check("zsh", "_mqk");
}

#[test]
fn fish_completions_match_the_binary() {
    check("fish", "mqk.fish");
}
