//! `strata demo` at a small size (one host of 4 hardware threads, a point every 5 minutes):
//! every tier serves one of its answers, the spike written weeks earlier keeps its maximum in
//! cold, and `--plot` writes an SVG chart with one line per tier's part. And every command's
//! `--help` has an example.

mod common;

use common::{run_ok, stdout, strata};

#[test]
fn demo_fills_every_tier_answers_from_each_and_plots_the_seams() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let svg = dir.path().join("out.svg");
    let mut args = vec![
        "demo",
        "--hosts",
        "1",
        "--hwthreads",
        "4",
        "--interval",
        "300",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    if cfg!(feature = "plot") {
        args.extend(["--plot", svg.to_str().unwrap()]);
    }
    let out = run_ok(&args, "");

    // Each question names the tier that served it; each tier serves one.
    let served: Vec<&str> = out.lines().filter_map(|l| l.trim_start().strip_prefix("served by ")).collect();
    assert_eq!(served.len(), 3, "{out}");
    assert!(served[0].starts_with("hot (raw) "), "{out}");
    assert!(served[1].starts_with("warm (1m) "), "{out}");
    assert!(served[2].starts_with("cold (1h) "), "{out}");

    // The spike, 8 weeks later, from cold: its hour's maximum is the spike's value.
    let spike = out.lines().find(|l| l.contains("its hour in cold")).unwrap_or_else(|| panic!("{out}"));
    assert!(spike.contains("max 288.00 (served by cold (1h)"), "{spike}");

    // The tier table as inspect prints it, every tier holding data.
    for tier in ["hot   raw ", "warm  1m ", "cold  1h "] {
        let row =
            out.lines().find(|l| l.starts_with(tier)).unwrap_or_else(|| panic!("no {tier:?} row: {out}"));
        let points: u64 = row.split_whitespace().nth(6).unwrap().parse().unwrap();
        assert!(points > 0, "{row}");
    }
    // The data directory is kept, and inspect reads it.
    let json: serde_json::Value = serde_json::from_str(&run_ok(
        &["inspect", "--data-dir", data.to_str().unwrap(), "--format", "json"],
        "",
    ))
    .unwrap();
    assert_eq!(json["cold"]["series_per_metric"]["cpu_load"], 1, "{json}");

    if cfg!(feature = "plot") {
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.starts_with("<svg"), "{}", &text[..text.len().min(200)]);
        let root = &text[..text.find('>').unwrap()];
        assert!(root.contains("width=\"960\"") && root.contains("height=\"480\""), "{root}");
        assert!(text.trim_end().ends_with("</svg>"));
        // One line per tier's part, each in its tier's colour, and a legend naming them.
        for (tier, color) in [("cold (1h)", "#1F77B4"), ("warm (10m)", "#FF7F0E"), ("hot (10m)", "#D62728")] {
            let lines = text
                .split("<polyline")
                .skip(1)
                .filter(|p| p[..p.find('>').unwrap()].to_ascii_uppercase().contains(color))
                .count();
            assert_eq!(lines, 1, "{tier}: {color}");
            assert!(text.contains(tier), "the legend names {tier}");
        }
    }
}

#[test]
fn demo_refuses_a_data_dir_that_holds_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
    let output = strata(&["demo", "--data-dir", dir.path().to_str().unwrap()], "");
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{}{err}", stdout(&output));
    assert!(err.contains(&format!("{} holds files", dir.path().display())), "{err}");
    assert_eq!(std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(), "mine");
}

/// The commands `strata --help` (or `strata lp --help`) lists.
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A command's name is indented by two; a wrapped description, further.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_command_has_an_example_in_its_help() {
    let top = commands(&run_ok(&["--help"], ""));
    assert!(top.len() >= 8, "{top:?}");
    let mut all: Vec<Vec<String>> = Vec::new();
    for command in &top {
        all.push(vec![command.clone()]);
        let help = run_ok(&[command, "--help"], "");
        for sub in commands(&help) {
            all.push(vec![command.clone(), sub]);
        }
    }
    assert!(all.iter().any(|c| c == &["lp", "parse"]), "{all:?}");
    for command in &all {
        let mut args: Vec<&str> = command.iter().map(String::as_str).collect();
        args.push("--help");
        let help = run_ok(&args, "");
        let example = help.split("Example:").nth(1).unwrap_or_else(|| panic!("strata {args:?}: {help}"));
        assert!(example.contains(&format!("strata {}", command[0])), "strata {args:?}: {help}");
    }
}
