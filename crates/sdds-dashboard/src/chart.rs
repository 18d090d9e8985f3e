//! Bar charts (with an optional line) as inline SVG, drawn by plotters.
//!
//! plotters' SVG backend needs no font files (the viewer's fonts draw the text), and its output
//! is plain SVG the page's stylesheet can recolour for dark mode. Each chart is an image with a
//! title for screen readers; the exact figures are in the table beside it.

use plotters::prelude::*;

use crate::html::escape;
use crate::DashboardError;

/// Series colours, legible on light and dark backgrounds.
const PALETTE: [RGBColor; 5] = [
    RGBColor(59, 130, 246),
    RGBColor(245, 158, 11),
    RGBColor(20, 184, 166),
    RGBColor(168, 85, 247),
    RGBColor(239, 68, 68),
];

/// The line's colour.
const LINE: RGBColor = RGBColor(220, 38, 38);

const WIDTH: u32 = 560;
const HEIGHT: u32 = 300;

/// A chart: groups of bars over categories, and maybe a line over the same categories.
pub struct BarChart {
    /// Said to screen readers, and the chart's caption.
    pub title: String,
    /// The unit of the y axis (a currency code, or "agreements").
    pub unit: String,
    /// The x axis's categories.
    pub categories: Vec<String>,
    /// One value per category, per series.
    pub series: Vec<(String, Vec<f64>)>,
    /// A line over the categories (a running balance).
    pub line: Option<(String, Vec<f64>)>,
}

impl BarChart {
    /// The chart as an `<svg>` element.
    pub fn svg(&self, id: &str) -> Result<String, DashboardError> {
        self.svg_drawn(id, false)
    }

    /// [`Self::svg`] with the categories down the side, for long names such as product ids
    /// (the first series only, the first category on top).
    pub fn ranking_svg(&self, id: &str) -> Result<String, DashboardError> {
        self.svg_drawn(id, true)
    }

    fn svg_drawn(&self, id: &str, ranking: bool) -> Result<String, DashboardError> {
        let mut svg = String::new();
        let drawn = if ranking {
            self.draw_ranking(&mut svg)
        } else {
            self.draw(&mut svg)
        };
        drawn.map_err(|source| DashboardError::Chart {
            title: self.title.clone(),
            source: source.to_string().into(),
        })?;
        let title = escape(&format!("{} ({})", self.title, self.unit));
        let opened = svg.find('>').unwrap_or(svg.len());
        let (open, body) = svg.split_at(opened);
        Ok(format!(
            "{open} role=\"img\" aria-labelledby=\"{id}-title\"><title id=\"{id}-title\">{title}</title>{}",
            body.strip_prefix('>').unwrap_or(body)
        ))
    }

    fn draw_ranking(&self, out: &mut String) -> Result<(), Box<dyn std::error::Error + '_>> {
        let count = self.categories.len().max(1);
        let values: &[f64] = self.series.first().map_or(&[], |(_, v)| v.as_slice());
        let (low, high) = value_range(values.iter(), 0.05);
        let height = (HEIGHT as usize).max(40 + 26 * count) as u32;
        let root = SVGBackend::with_string(out, (WIDTH, height)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(170)
            .build_cartesian_2d(low..high, -0.5f64..(count as f64 - 0.5))?;
        // Row 0 (the first category) at the top.
        let category = |y: &f64| category_at(&self.categories, *y, true);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .max_light_lines(1)
            .y_labels(count)
            .y_label_formatter(&category)
            .x_desc(self.unit.as_str())
            .x_label_formatter(&|v| compact(*v))
            .label_style(("sans-serif", 15))
            .draw()?;
        let color = PALETTE[0];
        chart.draw_series(values.iter().enumerate().map(|(i, v)| {
            let y = (count - 1 - i) as f64;
            Rectangle::new([(0.0, y - 0.35), (*v, y + 0.35)], color.filled())
        }))?;
        root.present()?;
        Ok(())
    }

    fn draw(&self, out: &mut String) -> Result<(), Box<dyn std::error::Error + '_>> {
        let count = self.categories.len().max(1);
        let values = self
            .series
            .iter()
            .flat_map(|(_, v)| v.iter())
            .chain(self.line.iter().flat_map(|(_, v)| v.iter()));
        // Headroom above the bars for the legend (upper left), a line per series.
        let entries = self.series.len() + usize::from(self.line.is_some());
        let (low, high) = value_range(values, 0.2 + 0.15 * entries as f64);

        let root = SVGBackend::with_string(out, (WIDTH, HEIGHT)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5f64..(count as f64 - 0.5), low..high)?;
        let category = |x: &f64| category_at(&self.categories, *x, false);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(1)
            .x_labels(count)
            .x_label_formatter(&category)
            .y_desc(self.unit.as_str())
            .y_label_formatter(&|v| compact(*v))
            .label_style(("sans-serif", 15))
            .draw()?;

        let groups = self.series.len().max(1) as f64;
        let width = 0.8 / groups;
        for (k, (name, values)) in self.series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let left = -0.4 + k as f64 * width;
            chart
                .draw_series(values.iter().enumerate().map(|(i, v)| {
                    let x = i as f64 + left;
                    Rectangle::new([(x, 0.0), (x + width * 0.9, *v)], color.filled())
                }))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        if let Some((name, values)) = &self.line {
            let points: Vec<(f64, f64)> = values
                .iter()
                .enumerate()
                .map(|(i, v)| (i as f64, *v))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), LINE.stroke_width(3)))?
                .label(name.as_str())
                .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], LINE.stroke_width(3)));
            chart.draw_series(
                points
                    .into_iter()
                    .map(|point| Circle::new(point, 4, LINE.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(TRANSPARENT)
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .draw()?;
        root.present()?;
        Ok(())
    }
}

/// The value axis's range: from zero (or below the lowest value) to above the highest, with
/// `headroom` of the values' span added (at least 1).
fn value_range<'a>(values: impl Iterator<Item = &'a f64>, headroom: f64) -> (f64, f64) {
    let (low, high) = values.fold((0f64, 0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let pad = ((high - low) * headroom).max(1.0);
    (if low < 0.0 { low - pad } else { 0.0 }, high + pad)
}

/// The category whose tick is at `position` on the category axis (counted from its end when
/// `reversed`); nothing between ticks.
fn category_at(categories: &[String], position: f64, reversed: bool) -> String {
    let nearest = position.round();
    if (position - nearest).abs() > 0.01 || nearest < 0.0 {
        return String::new();
    }
    let tick = nearest as usize;
    let index = if reversed {
        categories.len().max(1).checked_sub(1 + tick)
    } else {
        Some(tick)
    };
    index
        .and_then(|i| categories.get(i))
        .cloned()
        .unwrap_or_default()
}

/// Axis labels: `1.2k`, `35k`, `1.5M`.
fn compact(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if magnitude >= 1e4 {
        format!("{:.0}k", value / 1e3)
    } else if magnitude >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}
