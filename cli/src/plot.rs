//! The simulator's plot: automatic outbound connections over time.

use std::path::Path;

use connmgr_sim::Report;
use plotters::prelude::*;

/// Draws a few followed nodes (thin) and the mean over all nodes (thick)
/// into an SVG file.
pub fn outbound_svg(report: &Report, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let end = report.duration.as_secs_f64();
    let top = f64::from(report.target) + 1.0;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("outbound connections, seed {}", report.seed),
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(40)
        .build_cartesian_2d(0.0..end, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("virtual time (s)")
        .y_desc("automatic outbound")
        .draw()?;
    let followed = report.samples.first().map_or(0, |s| s.followed.len());
    for node in 0..followed {
        let color = Palette99::pick(node).to_rgba();
        let points = report.samples.iter().map(|s| {
            (
                secs(s.at),
                f64::from(s.followed.get(node).copied().unwrap_or(0)),
            )
        });
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(1)))?
            .label(format!("node {node}"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color));
    }
    let mean = report.samples.iter().map(|s| (secs(s.at), s.mean));
    chart
        .draw_series(LineSeries::new(mean, BLACK.stroke_width(3)))?
        .label(format!("mean of {} nodes", report.nodes.len()))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.stroke_width(3)));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn secs(at: std::time::Duration) -> f64 {
    at.as_secs_f64()
}
