//! `strata lp parse`: the operator's dry run for a collector's output.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand};
use strata_lp::{FieldValue, Line, ParseError, ParseOptions, Parser, Precision};

use crate::blocks::{for_each_block, open_input};

#[derive(Debug, Subcommand)]
pub(crate) enum LpCommand {
    /// Parse line protocol and print one JSON object per line: the parsed line or its error.
    ///
    /// Exit status 0 when every line parsed, 1 otherwise.
    #[command(
        after_help = "Example:\n  strata lp parse --precision s fritz.lp | head\n  strata gen --hosts 2 --duration 1m | strata lp parse --precision s --summary"
    )]
    Parse(ParseArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ParseArgs {
    /// Unit of the timestamps in the input.
    #[arg(long, default_value = "ns")]
    precision: Precision,
    /// Print only rejected lines, then a summary on stderr.
    #[arg(long)]
    summary: bool,
    /// Input file; `-` or nothing reads standard input.
    file: Option<PathBuf>,
}

pub(crate) fn run(cmd: LpCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LpCommand::Parse(args) => parse(args),
    }
}

/// Input is read in blocks of this size and parsed up to the last complete line of each, so
/// memory stays bounded whatever the input's size.
const BLOCK: usize = 8 << 20;
/// The longest line `lp parse` reads: the engine's default `limits.max_write_size`.
const MAX_LINE: usize = 64 << 20;

fn parse(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let (mut input, _) = open_input(args.file.as_deref())?;
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let options = ParseOptions::with_precision(args.precision);
    let started = Instant::now();
    let (mut parsed, mut rejected, mut bytes) = (0u64, 0u64, 0u64);
    let mut scratch = String::new();
    for_each_block(&mut input, BLOCK, MAX_LINE, |block, lines_before, read| {
        bytes = read;
        // One `Line` per block: it borrows from the block, and reuses its vectors within it.
        let mut line = Line::default();
        let mut parser = Parser::new(block, options);
        while let Some(result) = parser.next_into(&mut line) {
            scratch.clear();
            match result {
                Ok(()) => {
                    parsed += 1;
                    if !args.summary {
                        line_json(&mut scratch, lines_before, &line);
                    }
                }
                Err(err) => {
                    rejected += 1;
                    error_json(&mut scratch, lines_before, &err);
                }
            }
            out.write_all(scratch.as_bytes())?;
        }
        Ok(())
    })?;
    out.flush()?;
    if args.summary {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{parsed} lines parsed, {rejected} rejected, {:.1} MB in {secs:.2} s ({:.2} M lines/s, {:.0} MB/s)",
            bytes as f64 / 1e6,
            (parsed + rejected) as f64 / secs / 1e6,
            bytes as f64 / secs / 1e6
        );
    }
    Ok(if rejected == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn json_str(out: &mut String, s: &str) {
    // serde_json escapes exactly what JSON requires; writing to a String cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn line_json(out: &mut String, line_offset: usize, line: &Line<'_>) {
    use std::fmt::Write as _;
    let _ = write!(out, "{{\"line\":{},\"measurement\":", line_offset + line.number);
    json_str(out, &line.measurement);
    out.push_str(",\"tags\":{");
    for (n, tag) in line.tags.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        json_str(out, &tag.key);
        out.push(':');
        json_str(out, &tag.value);
    }
    out.push_str("},\"fields\":{");
    for (n, field) in line.fields.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        json_str(out, &field.key);
        let _ = match &field.value {
            FieldValue::Float(v) => {
                write!(out, ":{{\"float\":{}}}", serde_json::to_string(v).unwrap_or_default())
            }
            FieldValue::Integer(v) => write!(out, ":{{\"int\":{v}}}"),
            FieldValue::Unsigned(v) => write!(out, ":{{\"uint\":{v}}}"),
            FieldValue::Boolean(v) => write!(out, ":{{\"bool\":{v}}}"),
            FieldValue::String(s) => {
                out.push_str(":{\"string\":");
                json_str(out, s);
                out.push('}');
                Ok(())
            }
        };
    }
    out.push_str("},\"timestamp\":");
    match line.timestamp {
        Some(t) => {
            let _ = write!(out, "{t}");
        }
        None => out.push_str("null"),
    }
    out.push_str("}\n");
}

fn error_json(out: &mut String, line_offset: usize, err: &ParseError) {
    use std::fmt::Write as _;
    let _ = write!(out, "{{\"line\":{},\"column\":{},\"error\":", line_offset + err.line, err.column);
    json_str(out, &err.kind.to_string());
    out.push_str("}\n");
}
