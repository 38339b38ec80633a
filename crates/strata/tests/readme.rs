//! The README's embedding example is `examples/embed.rs` (which `cargo test` compiles): the
//! README's Rust block and the example's marked lines must be the same code.

fn rust_block(readme: &str) -> &str {
    let start = readme.find("```rust\n").expect("the README has a ```rust block") + "```rust\n".len();
    let len = readme[start..].find("```").expect("the ```rust block is closed");
    &readme[start..start + len]
}

fn marked(example: &str) -> &str {
    let begin =
        example.find("// README begin\n").expect("examples/embed.rs marks where the README's code begins")
            + "// README begin\n".len();
    let len = example[begin..].find("    // README end").expect("and where it ends");
    &example[begin..begin + len]
}

#[test]
fn the_readme_shows_the_compiled_example() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/embed.rs")).unwrap();
    assert_eq!(
        rust_block(&readme),
        marked(&example),
        "README.md's Rust block differs from examples/embed.rs"
    );
}
