//! The dashboard's charts, drawn on the server as SVG: no chart library, no script, the
//! same output for the same data, and colours from the page's CSS variables so dark and
//! light themes both apply. Every label is escaped here (they come from vendor data).

use std::fmt::Write;

/// Escapes text for SVG/HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One bar: its label, value, the CSS class that colours it, and where it links.
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub class: String,
    pub href: Option<String>,
}

/// Horizontal bars, one per item, scaled to the largest.
pub fn bars(title: &str, items: &[Bar]) -> String {
    let max = items.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let row = 28.0;
    let h = (items.len().max(1) as f64) * row + 4.0;
    let mut s =
        format!(r#"<svg class="chart" viewBox="0 0 420 {h}" role="img" aria-label="{}" preserveAspectRatio="xMinYMin meet">"#, esc(title));
    if items.is_empty() {
        let _ = write!(s, r#"<text x="0" y="18" class="muted">No data yet</text>"#);
    }
    for (i, b) in items.iter().enumerate() {
        let y = i as f64 * row + 2.0;
        let w = (b.value as f64 / max * 200.0).max(if b.value > 0 { 2.0 } else { 0.0 });
        let label = esc(&b.label);
        let bar = format!(
            r#"<text x="0" y="{ty}" class="label">{label}</text><rect x="160" y="{y}" width="{w:.1}" height="18" rx="3" class="{cls}"><title>{label}: {v}</title></rect><text x="{tx:.1}" y="{ty}" class="value">{v}</text>"#,
            ty = y + 14.0,
            cls = esc(&b.class),
            v = b.value,
            tx = 166.0 + w,
        );
        match &b.href {
            Some(href) => {
                let _ = write!(s, r#"<a href="{}">{bar}</a>"#, esc(href));
            }
            None => s.push_str(&bar),
        }
    }
    s.push_str("</svg>");
    s
}

/// One line of a trend: its name, CSS class and a value per day.
pub struct Series {
    pub name: String,
    pub class: String,
    pub values: Vec<i64>,
}

/// Lines over days (`days` labels the x axis), with a legend.
pub fn lines(title: &str, days: &[String], series: &[Series]) -> String {
    let (w, h, left, bottom, top) = (600.0, 200.0, 48.0, 22.0, 8.0);
    let max = series.iter().flat_map(|s| s.values.iter().copied()).max().unwrap_or(0).max(1) as f64;
    let n = days.len();
    let x = |i: usize| if n <= 1 { left + (w - left) / 2.0 } else { left + (w - left - 8.0) * i as f64 / (n - 1) as f64 };
    let y = |v: i64| top + (h - bottom - top) * (1.0 - v as f64 / max);
    let mut s = format!(r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{}">"#, esc(title));
    for frac in [0.0, 0.5, 1.0] {
        let v = (max * frac).round() as i64;
        let yy = y(v);
        let _ = write!(
            s,
            r#"<line x1="{left}" x2="{w}" y1="{yy:.1}" y2="{yy:.1}" class="grid"/><text x="{lx}" y="{ty:.1}" class="axis" text-anchor="end">{v}</text>"#,
            lx = left - 6.0,
            ty = yy + 4.0
        );
    }
    if n == 0 {
        let _ = write!(s, r#"<text x="{left}" y="{}" class="muted">No daily snapshot yet</text>"#, h / 2.0);
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let _ = write!(s, r#"<text x="{left}" y="{}" class="axis">{}</text>"#, h - 4.0, esc(first));
        if n > 1 {
            let _ = write!(s, r#"<text x="{}" y="{}" class="axis" text-anchor="end">{}</text>"#, w - 8.0, h - 4.0, esc(last));
        }
    }
    for line in series {
        let points: Vec<String> = line.values.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v))).collect();
        let _ = write!(
            s,
            r#"<polyline points="{}" class="line {}"><title>{}</title></polyline>"#,
            points.join(" "),
            esc(&line.class),
            esc(&line.name)
        );
        if n == 1
            && let Some(v) = line.values.first()
        {
            let _ = write!(s, r#"<circle cx="{:.1}" cy="{:.1}" r="4" class="dot {}"/>"#, x(0), y(*v), esc(&line.class));
        }
    }
    s.push_str("</svg>");
    s
}

/// Parts of one whole as a single stacked bar with a legend underneath.
pub fn stacked(title: &str, parts: &[Bar]) -> String {
    let total: i64 = parts.iter().map(|p| p.value).sum();
    let mut s =
        format!(r#"<svg class="chart" viewBox="0 0 420 {}" role="img" aria-label="{}">"#, 34 + 22 * parts.len().div_ceil(2), esc(title));
    let mut x = 0.0;
    for p in parts.iter().filter(|p| p.value > 0) {
        let w = p.value as f64 / total.max(1) as f64 * 420.0;
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="0" width="{w:.1}" height="20" class="{}"><title>{}: {}</title></rect>"#,
            esc(&p.class),
            esc(&p.label),
            p.value
        );
        x += w;
    }
    if total == 0 {
        let _ = write!(s, r##"<rect x="0" y="0" width="420" height="20" class="empty"/>"##);
    }
    for (i, p) in parts.iter().enumerate() {
        let (col, row) = (i % 2, i / 2);
        let (lx, ly) = (col as f64 * 210.0, 38.0 + row as f64 * 22.0);
        let _ = write!(
            s,
            r#"<rect x="{lx}" y="{ry}" width="12" height="12" rx="2" class="{}"/><text x="{tx}" y="{ly}" class="label">{} — {}</text>"#,
            esc(&p.class),
            esc(&p.label),
            p.value,
            ry = ly - 10.0,
            tx = lx + 18.0,
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_output_is_stable() {
        let items = [Bar { label: "<script>".into(), value: 3, class: "sev-high".into(), href: Some("/findings?q=a&b".into()) }];
        let a = bars("t", &items);
        assert!(a.contains("&lt;script&gt;") && !a.contains("<script>"));
        assert!(a.contains("/findings?q=a&amp;b"));
        assert_eq!(a, bars("t", &items));
        let l = lines("t", &["2026-11-01".into()], &[Series { name: "x".into(), class: "sev-high".into(), values: vec![5] }]);
        assert!(l.contains("<circle"));
        let st = stacked("t", &[Bar { label: "a".into(), value: 1, class: "c".into(), href: None }]);
        assert!(st.contains("a — 1"));
    }
}
