//! Repository URL normalization.
//!
//! Semgrep projects, Cortex Cloud repositories and file imports spell the same
//! repository in many ways: `https://github.com/Acme/Web.git/`, `git@github.com:acme/web`,
//! `ssh://git@github.com:22/acme/web`. They all normalize to `github.com/acme/web`.

use std::fmt;

/// A normalized repository key: lowercase host, then the path without `.git` or
/// slashes at either end. The path is lowercased on hosts that treat it
/// case-insensitively (GitHub, GitLab, Bitbucket, Azure DevOps).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{url}' is not a repository URL: {reason}")]
pub struct RepoUrlError {
    pub url: String,
    pub reason: &'static str,
}

const CASE_INSENSITIVE_HOSTS: &[&str] = &["github.com", "gitlab.com", "bitbucket.org", "dev.azure.com", "ssh.dev.azure.com"];

impl RepoKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `owner/name` part (everything after the host).
    pub fn path(&self) -> &str {
        self.0.split_once('/').map(|(_, p)| p).unwrap_or("")
    }

    /// A browsable `https://` URL for the repository.
    pub fn https_url(&self) -> String {
        format!("https://{}", self.0)
    }

    pub fn parse(url: &str) -> Result<RepoKey, RepoUrlError> {
        let err = |reason| RepoUrlError { url: url.to_string(), reason };
        let raw = url.trim();
        if raw.is_empty() {
            return Err(err("it is empty"));
        }
        // Split scheme, authority and path for both URL and scp-like (`git@host:path`) forms.
        let (host_port, path): (String, &str) = if let Some((scheme, rest)) = raw.split_once("://") {
            if !matches!(scheme.to_ascii_lowercase().as_str(), "https" | "http" | "ssh" | "git" | "git+ssh" | "ssh+git") {
                return Err(err("unsupported scheme (use https, http, ssh or git)"));
            }
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            (strip_user(authority).to_string(), path)
        } else if let Some((before, after)) = raw.split_once(':').filter(|(b, _)| !b.contains('/')) {
            let host = strip_user(before);
            match after.split_once('/') {
                // `host:7999/owner/name`: a port, not scp-like syntax.
                Some((port, rest)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => (format!("{host}:{port}"), rest),
                // scp-like `[user@]host:owner/name`.
                _ => (host.to_string(), after),
            }
        } else {
            let (host, path) = raw.split_once('/').unwrap_or((raw, ""));
            (host.to_string(), path)
        };
        let host = match host_port.split_once(':') {
            Some((h, "22" | "443" | "80" | "")) => h.to_ascii_lowercase(),
            _ => host_port.to_ascii_lowercase(),
        };
        let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
        if host.is_empty() || !host.contains('.') && host != "localhost" {
            return Err(err("no host name"));
        }
        let mut path = path.split(['?', '#']).next().unwrap_or("").trim_matches('/').to_string();
        if let Some(p) = path.strip_suffix(".git") {
            path = p.trim_end_matches('/').to_string();
        }
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if segments.len() < 2 {
            return Err(err("expected an owner and a repository name after the host"));
        }
        let mut path = segments.join("/");
        let host_base = host.split(':').next().unwrap_or(&host);
        if CASE_INSENSITIVE_HOSTS.contains(&host_base) {
            path = path.to_ascii_lowercase();
        }
        Ok(RepoKey(format!("{host}/{path}")))
    }
}

fn strip_user(authority: &str) -> &str {
    authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority)
}

impl fmt::Display for RepoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_normalize_to_one_key() {
        let want = "github.com/acme/payments-api";
        for url in [
            "https://github.com/acme/payments-api",
            "https://github.com/Acme/Payments-API.git",
            "https://github.com/acme/payments-api/",
            "HTTPS://GitHub.com/acme/payments-api.git/",
            "http://www.github.com/acme/payments-api",
            "git@github.com:acme/payments-api.git",
            "git@github.com:Acme/payments-api",
            "ssh://git@github.com/acme/payments-api.git",
            "ssh://git@github.com:22/acme/payments-api",
            "github.com/acme/payments-api",
        ] {
            assert_eq!(RepoKey::parse(url).map(|k| k.0), Ok(want.to_string()), "{url}");
        }
    }

    #[test]
    fn keeps_subgroups_custom_ports_and_case_on_unknown_hosts() {
        assert_eq!(RepoKey::parse("https://gitlab.com/Group/Sub/Name.git").unwrap().as_str(), "gitlab.com/group/sub/name");
        assert_eq!(RepoKey::parse("https://git.acme.io:8443/Team/Repo").unwrap().as_str(), "git.acme.io:8443/Team/Repo");
        assert_eq!(RepoKey::parse("git.acme.io:7999/team/repo").unwrap().as_str(), "git.acme.io:7999/team/repo");
        assert_eq!(RepoKey::parse("https://github.com/acme/web").unwrap().path(), "acme/web");
    }

    #[test]
    fn rejects_non_repositories() {
        for url in ["", "https://github.com", "https://github.com/acme", "ftp://x.org/a/b", "not a url"] {
            assert!(RepoKey::parse(url).is_err(), "{url}");
        }
    }
}
