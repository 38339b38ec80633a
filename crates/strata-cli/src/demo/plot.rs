//! `strata demo --plot FILE`: the chart as SVG, one line per tier's part so the seams show.
//!
//! The SVG backend writes text as SVG `<text>`: no font file is read, so it works on machines
//! without fonts (CI). Feature `plot` (on by default).

use std::path::Path;

use plotters::prelude::*;
use strata::Tier;

use super::chart::Chart;
use super::{DAY, DemoError};

pub(crate) fn write_svg(chart: &Chart, path: &Path) -> anyhow::Result<()> {
    draw(chart, path).map_err(|reason| DemoError::Plot { path: path.to_owned(), reason }.into())
}

fn draw(chart: &Chart, path: &Path) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let days = |t: i64| (t - chart.to) as f64 / DAY as f64;
    let (lo, hi) = chart
        .parts
        .iter()
        .flat_map(|p| p.points.iter().map(|&(_, v)| v))
        .fold((0.0_f64, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let hi = if hi > lo { hi * 1.05 } else { lo + 1.0 };

    let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let mut plot = ChartBuilder::on(&root)
        .caption(&chart.title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(days(chart.from)..0.0, lo..hi)
        .map_err(|e| fail(&e))?;
    plot.configure_mesh()
        .disable_mesh()
        .x_desc("days before now")
        .y_desc(chart.y_label.as_str())
        .draw()
        .map_err(|e| fail(&e))?;
    for part in &chart.parts {
        let color = color(part.tier);
        plot.draw_series(LineSeries::new(
            part.points.iter().map(|&(t, v)| (days(t), v)),
            color.stroke_width(2),
        ))
        .map_err(|e| fail(&e))?
        .label(part.label.as_str())
        .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 16, y + 4)], color.filled()));
    }
    plot.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))
}

/// One colour per tier: cold blue, warm orange, hot red.
fn color(tier: Tier) -> RGBColor {
    match tier {
        Tier::Cold => RGBColor(0x1f, 0x77, 0xb4),
        Tier::Warm => RGBColor(0xff, 0x7f, 0x0e),
        _ => RGBColor(0xd6, 0x27, 0x28),
    }
}
