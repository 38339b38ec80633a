//! Result rows printed as an aligned table, CSV or JSON: what `query` prints for every tier.

use std::io::Write;

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Table,
    Csv,
    Json,
}

/// One printed value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Text(String),
    /// A time (ns), printed as Unix seconds.
    Time(i64),
    Int(u64),
    Float(f64),
    /// No value (a bucket without points): empty in a table or CSV, `null` in JSON.
    Null,
}

impl Cell {
    /// As a table or CSV shows it (before CSV quoting).
    fn plain(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Time(t) => unix_seconds(*t),
            Cell::Int(n) => n.to_string(),
            Cell::Float(v) => v.to_string(),
            Cell::Null => String::new(),
        }
    }

    /// As a JSON value: times and counts as numbers, floats as serde_json writes them (`2.0`;
    /// `null` for NaN).
    fn json(&self) -> serde_json::Result<String> {
        match self {
            Cell::Text(s) => serde_json::to_string(s),
            Cell::Time(t) => Ok(unix_seconds(*t)),
            Cell::Int(n) => Ok(n.to_string()),
            Cell::Float(v) => serde_json::to_string(v),
            Cell::Null => Ok("null".to_owned()),
        }
    }
}

/// Prints `rows` under `header`: CSV and JSON as they come, a table once all rows are known
/// (for its column widths). JSON is one array of objects keyed by the header.
pub(crate) fn write_rows(
    out: &mut impl Write,
    format: Format,
    header: &[String],
    rows: impl Iterator<Item = Vec<Cell>>,
) -> anyhow::Result<()> {
    match format {
        Format::Csv => {
            writeln!(out, "{}", header.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(","))?;
            for row in rows {
                let cells: Vec<String> = row
                    .iter()
                    .map(|c| match c {
                        Cell::Text(s) => csv_field(s),
                        other => other.plain(),
                    })
                    .collect();
                writeln!(out, "{}", cells.join(","))?;
            }
        }
        Format::Json => {
            write!(out, "[")?;
            for (n, row) in rows.enumerate() {
                write!(out, "{}{{", if n == 0 { "" } else { ",\n " })?;
                for (i, (name, cell)) in header.iter().zip(&row).enumerate() {
                    let comma = if i == 0 { "" } else { "," };
                    write!(out, "{comma}{}:{}", serde_json::to_string(name)?, cell.json()?)?;
                }
                write!(out, "}}")?;
            }
            writeln!(out, "]")?;
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = rows.map(|row| row.iter().map(Cell::plain).collect()).collect();
            write_table(out, header, &rows)?;
        }
    }
    Ok(())
}

/// Left-aligned columns two spaces apart, no trailing blanks.
pub(crate) fn write_table(
    out: &mut impl Write,
    header: &[String],
    rows: &[Vec<String>],
) -> anyhow::Result<()> {
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(c, name)| rows.iter().map(|r| r.get(c).map_or(0, String::len)).chain([name.len()]).max())
        .map(Option::unwrap_or_default)
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    writeln!(out, "{}", line(header))?;
    for row in rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}

/// Unix seconds, with a fraction only when the time has one.
pub(crate) fn unix_seconds(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let (secs, frac) = (nanos.unsigned_abs() / 1_000_000_000, nanos.unsigned_abs() % 1_000_000_000);
    if frac == 0 {
        format!("{sign}{secs}")
    } else {
        format!("{sign}{secs}.{frac:09}").trim_end_matches('0').to_owned()
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_keep_fractions() {
        assert_eq!(unix_seconds(1_763_769_600_000_000_000), "1763769600");
        assert_eq!(unix_seconds(1_763_769_600_250_000_000), "1763769600.25");
        assert_eq!(unix_seconds(-1), "-0.000000001");
        assert_eq!(unix_seconds(-1_500_000_000), "-1.5");
    }

    #[test]
    fn formats() {
        let header = ["host".to_owned(), "time".to_owned(), "count".to_owned(), "avg".to_owned()];
        let rows = || {
            [
                vec![Cell::Text("a,b".into()), Cell::Time(60_000_000_000), Cell::Int(3), Cell::Float(2.0)],
                vec![
                    Cell::Text("c".into()),
                    Cell::Time(120_500_000_000),
                    Cell::Int(1),
                    Cell::Float(f64::NAN),
                ],
            ]
            .into_iter()
        };
        let print = |format| {
            let mut out = Vec::new();
            write_rows(&mut out, format, &header, rows()).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(print(Format::Csv), "host,time,count,avg\n\"a,b\",60,3,2\nc,120.5,1,NaN\n");
        assert_eq!(
            print(Format::Json),
            "[{\"host\":\"a,b\",\"time\":60,\"count\":3,\"avg\":2.0},\n {\"host\":\"c\",\"time\":120.5,\"count\":1,\"avg\":null}]\n"
        );
        assert_eq!(
            print(Format::Table),
            "host  time   count  avg\na,b   60     3      2\nc     120.5  1      NaN\n"
        );
        let mut empty = Vec::new();
        write_rows(&mut empty, Format::Json, &header, std::iter::empty()).unwrap();
        assert_eq!(empty, b"[]\n");
    }
}
