//! Charts drawn as inline SVG, for the status page and `replay --format html`: nothing loaded
//! from elsewhere, no script. Hand-written (a few hundred lines) rather than a crate: the two
//! charts needed are simple and their markup is what the browser tests read.
//!
//! Each bucket of a chart is one `<g class="point">` with its values in `data-` attributes
//! (`data-bucket`, and `data-v-NAME` per series) and a `<title>` the browser shows as a
//! tooltip, so a test can count the points and read their values from the DOM.

use std::fmt::Write;

/// The width and height of the drawing, in its own units (the page scales it to fit).
const W: f64 = 720.0;
const H: f64 = 220.0;
/// Room for the tick labels: left, right, top, bottom.
const LEFT: f64 = 56.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 24.0;
/// At most this many labels under the x axis.
const X_LABELS: usize = 8;

/// One line or stack of a chart.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    /// The legend's text and the `data-v-` attribute's name (e.g. `2xx`).
    pub name: &'a str,
    /// Its fill or stroke colour.
    pub color: &'a str,
    /// One value per bucket.
    pub values: Vec<f64>,
}

/// How the series are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bars, the series stacked: counts that add up (replies by class).
    Stacked,
    /// One line per series: shares that do not add up (deferral and bounce rates).
    Lines,
}

/// A chart over time buckets.
#[derive(Debug, Clone)]
pub struct Chart<'a> {
    /// The `id` of the `<svg>`.
    pub id: &'a str,
    /// What it shows, read by screen readers and shown above it.
    pub title: &'a str,
    /// The unit of the y axis, for the tooltips (e.g. `replies`, `%`).
    pub unit: &'a str,
    pub kind: Kind,
    /// One label per bucket (e.g. `13:05`), oldest first.
    pub buckets: Vec<String>,
    pub series: Vec<Series<'a>>,
}

/// `s` with the characters HTML and XML give a meaning escaped.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// A value as the tooltips and attributes show it: whole numbers without a fraction.
/// `NaN` (no value: a share of nothing) is empty.
fn num(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.1}")
    }
}

/// The y axis' step and top: 1, 2 or 5 times a power of ten, about four steps up to `max`.
pub fn ticks(max: f64) -> (f64, f64) {
    if max.is_nan() || max <= 0.0 || !max.is_finite() {
        return (1.0, 1.0);
    }
    let rough = max / 4.0;
    let mag = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * mag);
    // Whole numbers for counts: no step below 1 when the values are counts of one or more.
    let step = if max >= 1.0 { step.max(1.0) } else { step };
    (step, (max / step).ceil() * step)
}

impl Chart<'_> {
    /// The highest value the y axis must reach.
    fn max(&self) -> f64 {
        let n = self.buckets.len();
        let at = |i: usize| {
            self.series
                .iter()
                .map(move |s| s.values.get(i).copied().unwrap_or(0.0))
        };
        (0..n)
            .map(|i| match self.kind {
                Kind::Stacked => at(i).sum(),
                Kind::Lines => at(i).fold(0.0, f64::max),
            })
            .fold(0.0, f64::max)
    }

    /// The chart: a `<figure>` with the SVG and its legend.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(1024 + 400 * self.buckets.len());
        let _ = write!(
            o,
            "<figure class=\"chart\"><figcaption>{t}</figcaption>\
             <svg id=\"{id}\" class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
             aria-label=\"{t}\" xmlns=\"http://www.w3.org/2000/svg\" \
             data-points=\"{n}\"><title>{t}</title>",
            t = escape(self.title),
            id = escape(self.id),
            n = self.buckets.len(),
        );
        let (step, top) = ticks(self.max());
        self.axes(&mut o, step, top);
        match self.kind {
            Kind::Stacked => self.bars(&mut o, top),
            Kind::Lines => self.lines(&mut o, top),
        }
        o.push_str("</svg>");
        self.legend(&mut o);
        o.push_str("</figure>");
        o
    }

    fn x(&self, i: usize) -> f64 {
        let n = self.buckets.len().max(1) as f64;
        LEFT + (W - LEFT - RIGHT) * i as f64 / n
    }

    fn y(v: f64, top: f64) -> f64 {
        H - BOTTOM - (H - TOP - BOTTOM) * (v / top).clamp(0.0, 1.0)
    }

    /// Grid lines with the y ticks, and every few buckets' label under the x axis.
    fn axes(&self, o: &mut String, step: f64, top: f64) {
        o.push_str("<g class=\"axes\" font-size=\"13\" fill=\"#555\">");
        let mut v = 0.0;
        while v <= top + step / 2.0 {
            let y = Self::y(v, top);
            let _ = write!(
                o,
                "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
                 <text class=\"ytick\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                W - RIGHT,
                LEFT - 4.0,
                y + 4.0,
                num(v)
            );
            v += step;
        }
        let n = self.buckets.len();
        let every = n.div_ceil(X_LABELS).max(1);
        let w = self.x(1) - self.x(0);
        let mut shown = 0;
        for (i, label) in self.buckets.iter().enumerate() {
            // The newest bucket always gets its label: the reader looks for "now".
            let regular = i % every == 0 && n - 1 - i >= every / 2;
            if !regular && i + 1 != n {
                continue;
            }
            // Every other label is `alt`: a narrow screen, with larger text, hides those.
            let alt = if shown % 2 == 1 && i + 1 != n {
                " alt"
            } else {
                ""
            };
            shown += 1;
            // The newest label ends at the right edge, where a centred one would be cut.
            let (x, anchor) = match i + 1 == n && n > 1 {
                true => (W - RIGHT, "end"),
                false => (self.x(i) + w / 2.0, "middle"),
            };
            let _ = write!(
                o,
                "<text class=\"xtick{alt}\" x=\"{x:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
                H - 6.0,
                escape(label)
            );
        }
        o.push_str("</g>");
    }

    /// Opens a bucket's group: its values as data attributes and its tooltip.
    fn open_point(&self, o: &mut String, i: usize) {
        let label = self.buckets.get(i).map(String::as_str).unwrap_or_default();
        let _ = write!(o, "<g class=\"point\" data-bucket=\"{}\"", escape(label));
        let mut tip = escape(label);
        for s in &self.series {
            let v = s.values.get(i).copied().unwrap_or(0.0);
            let _ = write!(o, " data-v-{}=\"{}\"", escape(s.name), num(v));
            let (shown, unit) = match v.is_nan() {
                true => ("none".to_owned(), String::new()),
                false => (num(v), format!(" {}", escape(self.unit))),
            };
            let _ = write!(tip, ", {}: {shown}{unit}", escape(s.name));
        }
        let _ = write!(o, "><title>{tip}</title>");
    }

    fn bars(&self, o: &mut String, top: f64) {
        let w = (self.x(1) - self.x(0)) * 0.85;
        for i in 0..self.buckets.len() {
            self.open_point(o, i);
            let x = self.x(i);
            // An invisible full-height target, so the tooltip shows over empty buckets too.
            let _ = write!(
                o,
                "<rect x=\"{x:.1}\" y=\"{TOP}\" width=\"{w:.2}\" height=\"{}\" fill=\"transparent\"/>",
                H - TOP - BOTTOM
            );
            let mut base = 0.0;
            for s in &self.series {
                let v = s.values.get(i).copied().unwrap_or(0.0);
                if v.is_nan() || v <= 0.0 {
                    continue;
                }
                let (y0, y1) = (Self::y(base, top), Self::y(base + v, top));
                let _ = write!(
                    o,
                    "<rect class=\"bar\" data-series=\"{}\" x=\"{x:.1}\" y=\"{y1:.1}\" \
                     width=\"{w:.2}\" height=\"{:.1}\" fill=\"{}\"/>",
                    escape(s.name),
                    y0 - y1,
                    escape(s.color)
                );
                base += v;
            }
            o.push_str("</g>");
        }
    }

    fn lines(&self, o: &mut String, top: f64) {
        let half = (self.x(1) - self.x(0)) / 2.0;
        for s in &self.series {
            // One line per run of values: a bucket without a value is a gap, not a zero.
            let values = (0..self.buckets.len()).map(|i| s.values.get(i).copied().unwrap_or(0.0));
            let points: Vec<Option<String>> = (values.enumerate())
                .map(|(i, v)| {
                    (!v.is_nan()).then(|| format!("{:.1},{:.1}", self.x(i) + half, Self::y(v, top)))
                })
                .collect();
            for run in points.split(Option::is_none).filter(|r| r.len() > 1) {
                let run: Vec<&str> = run.iter().flatten().map(String::as_str).collect();
                let _ = write!(
                    o,
                    "<polyline class=\"line\" data-series=\"{}\" fill=\"none\" stroke=\"{}\" \
                     stroke-width=\"2\" points=\"{}\"/>",
                    escape(s.name),
                    escape(s.color),
                    run.join(" ")
                );
            }
        }
        for i in 0..self.buckets.len() {
            self.open_point(o, i);
            let x = self.x(i) + half;
            for s in &self.series {
                let v = s.values.get(i).copied().unwrap_or(0.0);
                if v.is_nan() {
                    continue;
                }
                let _ = write!(
                    o,
                    "<circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                    Self::y(v, top),
                    escape(s.color)
                );
            }
            o.push_str("</g>");
        }
    }

    fn legend(&self, o: &mut String) {
        o.push_str("<ul class=\"legend\">");
        for s in &self.series {
            let total: f64 = s.values.iter().sum();
            let shown = match self.kind {
                Kind::Stacked => format!(" ({} in all)", num(total)),
                Kind::Lines => String::new(),
            };
            let _ = write!(
                o,
                "<li data-series=\"{n}\"><span class=\"swatch\" style=\"background:{c}\"></span>{n}{shown}</li>",
                n = escape(s.name),
                c = escape(s.color),
            );
        }
        o.push_str("</ul>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(kind: Kind) -> Chart<'static> {
        Chart {
            id: "c",
            title: "Replies <per> minute",
            unit: "replies",
            kind,
            buckets: (0..5).map(|i| format!("13:0{i}")).collect(),
            series: vec![
                Series {
                    name: "2xx",
                    color: "#2a2",
                    values: vec![1.0, 0.0, 3.0, 0.0, 7.0],
                },
                Series {
                    name: "5xx",
                    color: "#c22",
                    values: vec![0.0, 2.0, 1.0, 0.0, 0.0],
                },
            ],
        }
    }

    #[test]
    fn one_point_per_bucket_with_its_values() {
        let svg = chart(Kind::Stacked).render();
        assert_eq!(svg.matches("<g class=\"point\"").count(), 5, "{svg}");
        assert!(svg.contains(
            "<g class=\"point\" data-bucket=\"13:02\" data-v-2xx=\"3\" data-v-5xx=\"1\">\
             <title>13:02, 2xx: 3 replies, 5xx: 1 replies</title>"
        ));
        // Empty values draw no bar; the others one each.
        assert_eq!(svg.matches("class=\"bar\"").count(), 5);
        assert!(svg.contains("Replies &lt;per&gt; minute"));
        assert!(svg.contains("data-points=\"5\""));
        assert!(svg.contains("2xx (11 in all)"));
        let lines = chart(Kind::Lines).render();
        assert_eq!(lines.matches("<g class=\"point\"").count(), 5);
        assert_eq!(lines.matches("<polyline").count(), 2);
        assert_eq!(lines.matches("<circle").count(), 10);
        // No value: no circle, a gap in the line, an empty attribute and "none" in the tooltip.
        let mut gaps = chart(Kind::Lines);
        gaps.series[0].values[2] = f64::NAN;
        let svg = gaps.render();
        assert_eq!(svg.matches("<circle").count(), 9);
        assert_eq!(svg.matches("<polyline").count(), 3, "{svg}");
        assert!(svg
            .contains("data-v-2xx=\"\" data-v-5xx=\"1\"><title>13:02, 2xx: none, 5xx: 1 replies"));
    }

    #[test]
    fn stacks_reach_the_top_tick_and_no_further() {
        // Bucket 13:04 holds 7: the axis goes to 8 in steps of 2.
        assert_eq!(ticks(7.0), (2.0, 8.0));
        assert_eq!(ticks(0.0), (1.0, 1.0));
        assert_eq!(ticks(100.0), (50.0, 100.0));
        assert_eq!(ticks(3.0), (1.0, 3.0));
        let svg = chart(Kind::Stacked).render();
        let yt: Vec<&str> = svg
            .split("class=\"ytick\"")
            .skip(1)
            .map(|s| &s[s.find('>').unwrap() + 1..s.find('<').unwrap()])
            .collect();
        assert_eq!(yt, ["0", "2", "4", "6", "8"]);
        // The tallest stack (7 of 8) starts at the bottom and reaches 7/8 of the plot's height.
        let plot = H - TOP - BOTTOM;
        let top_of_7 = format!("y=\"{:.1}\"", H - BOTTOM - plot * 7.0 / 8.0);
        assert!(svg.contains(&top_of_7), "{top_of_7} in {svg}");
    }

    #[test]
    fn nothing_from_elsewhere_and_few_x_labels() {
        let mut c = chart(Kind::Stacked);
        c.buckets = (0..60).map(|i| format!("m{i}")).collect();
        let svg = c.render();
        assert!(svg.matches("class=\"xtick").count() <= X_LABELS + 1);
        assert!(svg.matches("class=\"xtick alt\"").count() >= 3);
        assert!(svg.contains(">m59</text>"), "the newest bucket is labelled");
        // The only URL is the SVG namespace, which is a name, not something loaded.
        assert_eq!(svg.matches("http").count(), 1);
        assert!(!svg.contains("<script"));
    }
}
