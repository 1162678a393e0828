//! Package URLs (purl, ECMA-427) from vendor package coordinates.
//!
//! Identity of a *package asset* is the canonical purl with its version; the
//! version-less purl (`pkg:npm/lodash`) is the package's name across versions.

use packageurl::PackageUrl;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot build a package URL for {ecosystem} package '{name}': {reason}")]
pub struct PurlError {
    pub ecosystem: String,
    pub name: String,
    pub reason: String,
}

/// Maps a Semgrep `found_dependency.ecosystem` (or a plain ecosystem name) to a purl type.
pub fn purl_type(ecosystem: &str) -> &str {
    match ecosystem.trim().to_ascii_lowercase().as_str() {
        "npm" | "yarn" | "pnpm" => "npm",
        "pypi" | "pip" | "python" => "pypi",
        "gomod" | "go" | "golang" => "golang",
        "cargo" | "crates" | "crates.io" => "cargo",
        "maven" | "gradle" => "maven",
        "gem" | "rubygems" => "gem",
        "composer" | "packagist" => "composer",
        "nuget" => "nuget",
        "pub" => "pub",
        "swiftpm" | "swift" => "swift",
        "hex" | "mix" => "hex",
        "cocoapods" => "cocoapods",
        "deb" | "debian" | "ubuntu" => "deb",
        "rpm" | "redhat" | "centos" => "rpm",
        _ => "generic",
    }
}

/// Builds the canonical purl for `name@version` in `ecosystem`.
///
/// Handles the per-type namespace rules: npm scopes (`@scope/name`), Maven
/// `group:artifact`, Go module paths, Composer `vendor/name`.
pub fn build(ecosystem: &str, name: &str, version: Option<&str>) -> Result<String, PurlError> {
    let err = |reason: String| PurlError { ecosystem: ecosystem.to_string(), name: name.to_string(), reason };
    let ty = purl_type(ecosystem);
    let name = name.trim();
    if name.is_empty() {
        return Err(err("empty package name".into()));
    }
    let (namespace, short) = match ty {
        "maven" => match name.split_once(':') {
            Some((g, a)) => (Some(g), a),
            None => match name.rsplit_once('/') {
                Some((g, a)) => (Some(g), a),
                None => return Err(err("Maven packages need group:artifact".into())),
            },
        },
        "npm" | "golang" | "composer" | "swift" | "generic" => match name.rsplit_once('/') {
            Some((ns, n)) if !ns.is_empty() && !n.is_empty() => (Some(ns), n),
            _ => (None, name),
        },
        _ => (None, name),
    };
    let mut purl = PackageUrl::new(ty, short).map_err(|e| err(e.to_string()))?;
    if let Some(ns) = namespace {
        purl.with_namespace(ns).map_err(|e| err(e.to_string()))?;
    }
    if let Some(v) = version.map(str::trim).filter(|v| !v.is_empty()) {
        purl.with_version(v).map_err(|e| err(e.to_string()))?;
    }
    Ok(purl.to_string())
}

/// The purl without version, qualifiers or subpath: the package's identity across versions.
pub fn without_version(purl: &str) -> &str {
    let end = purl.find(['@', '?', '#']).unwrap_or(purl.len());
    // An npm scope's `@` is percent-encoded (`%40`), so the first raw `@` is the version.
    &purl[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_canonical_purls_per_ecosystem() {
        assert_eq!(build("npm", "lodash", Some("4.17.15")).unwrap(), "pkg:npm/lodash@4.17.15");
        assert_eq!(build("npm", "@angular/core", Some("12.3.1")).unwrap(), "pkg:npm/%40angular/core@12.3.1");
        assert_eq!(build("pypi", "Django_Foo", Some("1.0")).unwrap(), "pkg:pypi/django-foo@1.0");
        assert_eq!(
            build("maven", "org.apache.logging.log4j:log4j-core", Some("2.14.1")).unwrap(),
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
        );
        assert_eq!(
            build("gomod", "github.com/gorilla/websocket", Some("v1.4.0")).unwrap(),
            "pkg:golang/github.com/gorilla/websocket@v1.4.0"
        );
        assert_eq!(build("cargo", "rand", Some("0.7.2")).unwrap(), "pkg:cargo/rand@0.7.2");
        assert_eq!(build("nuget", "Newtonsoft.Json", Some("12.0.1")).unwrap(), "pkg:nuget/Newtonsoft.Json@12.0.1");
        assert!(build("maven", "log4j", None).is_err());
        assert!(build("npm", " ", None).is_err());
    }

    #[test]
    fn version_less_identity() {
        assert_eq!(without_version("pkg:npm/%40angular/core@12.3.1"), "pkg:npm/%40angular/core");
        assert_eq!(without_version("pkg:cargo/rand"), "pkg:cargo/rand");
    }
}
