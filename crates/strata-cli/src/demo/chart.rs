//! Charts as plain text: a sparkline for an answer, and a column chart of one answer that
//! crosses tiers, each tier drawn with its own glyph so the seams show.

use strata::Tier;

use super::rfc3339;

/// One answer to draw: its parts, one per tier that served it, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    pub(crate) title: String,
    pub(crate) y_label: String,
    /// The range drawn (ns).
    pub(crate) from: i64,
    pub(crate) to: i64,
    pub(crate) parts: Vec<ChartPart>,
}

/// The buckets one tier served.
#[derive(Debug, Clone)]
pub(crate) struct ChartPart {
    pub(crate) tier: Tier,
    /// The tier and its bucket length, e.g. `cold (1h)`.
    pub(crate) label: String,
    pub(crate) points: Vec<(i64, f64)>,
}

/// `values` in at most `width` characters, each the mean of its share of the values.
pub(crate) fn sparkline(values: &[f64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let columns = width.min(values.len());
    let means: Vec<f64> = (0..columns)
        .map(|c| {
            let share = &values[c * values.len() / columns..(c + 1) * values.len() / columns];
            share.iter().sum::<f64>() / share.len().max(1) as f64
        })
        .collect();
    let (lo, hi) = bounds(means.iter().copied());
    means
        .iter()
        .map(|&v| {
            let level = if hi > lo { ((v - lo) / (hi - lo) * 7.0).round() as usize } else { 3 };
            BARS[level.min(7)]
        })
        .collect()
}

/// The chart as `height` rows of `width` columns, each column the maximum of the buckets in
/// its share of the range, drawn in its tier's glyph; then the axis with `┴` at each seam,
/// the range's ends and a legend.
pub(crate) fn render(chart: &Chart, width: usize, height: usize) -> Vec<String> {
    let span = (chart.to - chart.from).max(1);
    let column_of = |t: i64| {
        let c = i128::from(t - chart.from) * width as i128 / i128::from(span);
        usize::try_from(c).unwrap_or(0).min(width.saturating_sub(1))
    };
    // Per column: the highest value and the tier of its latest bucket.
    let mut columns: Vec<Option<(f64, usize)>> = vec![None; width];
    for (p, part) in chart.parts.iter().enumerate() {
        for &(t, v) in &part.points {
            let cell = &mut columns[column_of(t)];
            *cell = Some(match *cell {
                Some((max, _)) => (max.max(v), p),
                None => (v, p),
            });
        }
    }
    let (lo, hi) = bounds(columns.iter().flatten().map(|&(v, _)| v));
    let lo = lo.min(0.0);
    let mut lines = Vec::with_capacity(height + 3);
    for row in 0..height {
        // The value a cell of this row stands for: filled when the column reaches it.
        let level = lo + (hi - lo) * (height - row) as f64 / height as f64 - (hi - lo) / height as f64 / 2.0;
        let label = match row {
            0 => format!("{hi:>8.1} ┤"),
            r if r + 1 == height => format!("{lo:>8.1} ┤"),
            _ => format!("{:>8} │", ""),
        };
        let cells: String = columns
            .iter()
            .map(|c| match c {
                // The bottom row shows every column that has data.
                Some((v, p)) if *v >= level || row + 1 == height => {
                    glyph(chart.parts.get(*p).map(|part| part.tier))
                }
                _ => ' ',
            })
            .collect();
        lines.push(format!("{label}{cells}"));
    }
    let mut axis: Vec<char> = vec!['─'; width];
    let mut last = None;
    for (c, cell) in columns.iter().enumerate() {
        if let Some((_, p)) = cell {
            if last.is_some_and(|l| l != *p) {
                axis[c] = '┴';
            }
            last = Some(*p);
        }
    }
    lines.push(format!("{:>8} └{}", "", axis.into_iter().collect::<String>()));
    let (start, end) = (rfc3339(chart.from), rfc3339(chart.to));
    let gap = width.saturating_sub(start.len() + end.len()).max(1);
    lines.push(format!("{:>10}{start}{:gap$}{end}", "", ""));
    lines.push(format!("{:>10}{}, per column the highest of its buckets:", "", chart.y_label));
    for p in &chart.parts {
        let since = p.points.first().map_or_else(|| "-".to_owned(), |&(t, _)| rfc3339(t));
        lines.push(format!(
            "{:>10}{} {:<11} from {since}, {} buckets",
            "",
            glyph(Some(p.tier)),
            p.label,
            p.points.len()
        ));
    }
    lines
}

fn glyph(tier: Option<Tier>) -> char {
    match tier {
        Some(Tier::Cold) => '█',
        Some(Tier::Warm) => '▓',
        _ => '░',
    }
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_rises_with_its_values_and_means_its_shares() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 8), "▁▂▃▄▅▆▇█");
        // Eight values in four columns: the mean of each pair.
        assert_eq!(sparkline(&[0.0, 0.0, 7.0, 7.0, 0.0, 0.0, 7.0, 7.0], 4), "▁█▁█");
        assert_eq!(sparkline(&[], 10), "");
    }

    #[test]
    fn each_tier_has_its_glyph_and_a_seam_marks_where_the_next_begins() {
        let part = |tier, from: i64, value| ChartPart {
            tier,
            label: tier.name().to_owned(),
            points: (from..from + 10).map(|t| (t, value)).collect(),
        };
        let chart = Chart {
            title: "t".into(),
            y_label: "y".into(),
            from: 0,
            to: 30,
            parts: vec![part(Tier::Cold, 0, 10.0), part(Tier::Warm, 10, 5.0), part(Tier::Hot, 20, 1.0)],
        };
        let lines = render(&chart, 30, 4);
        let body =
            |row: usize| lines[row].chars().skip_while(|&c| c != '┤' && c != '│').skip(1).collect::<String>();
        assert_eq!(body(0), format!("{}{}", "█".repeat(10), " ".repeat(20)));
        assert_eq!(body(3), format!("{}{}{}", "█".repeat(10), "▓".repeat(10), "░".repeat(10)));
        let axis: String = lines[4].chars().skip_while(|&c| c != '└').skip(1).collect();
        assert_eq!(axis.chars().filter(|&c| c == '┴').count(), 2, "{axis}");
        assert_eq!(axis.chars().position(|c| c == '┴'), Some(10));
    }
}
