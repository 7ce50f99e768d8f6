//! The HTTP layer under the API ([`crate::api`]) and the editor UI
//! ([`crate::admin`]): the state every handler reaches, problem+json,
//! parameters, request ids, security headers and CORS, rate and size
//! limits, metrics, the editor session, and the one application that
//! assembles them all ([`routes::app`]).

// ApiError carries its problem body inline; it is built at most once per
// request, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod body;
pub mod grouped;
pub mod limits;
pub mod metrics;
pub mod params;
pub mod problem;
pub mod request_id;
pub mod routes;
pub mod security;
pub mod session;
mod state;

pub use limits::RateLimits;
pub use security::{BadOrigin, check_origin};
pub use state::{AppState, Settings};

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The `crate::…` paths a source file names, `crate::{a, b::c}` groups
    /// spelled out as `crate::a` and `crate::b::c`.
    fn crate_paths(source: &str) -> Vec<String> {
        let mut paths = Vec::new();
        for (at, _) in source.match_indices("crate::") {
            let rest = &source[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inside = &group[..group.find('}').unwrap_or(group.len())];
                paths.extend(inside.split(',').map(|item| format!("crate::{}", item.trim())));
            } else {
                let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
                paths.push(format!("crate::{}", &rest[..end]));
            }
        }
        paths
    }

    /// Every `crate::…` path in the Rust files of `folder` that names `module`.
    fn mentions(folder: &str, module: &str) -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(folder);
        let mut found = Vec::new();
        let mut folders = vec![root];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("a source folder") {
                let path = entry.expect("a folder entry").path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|extension| extension == "rs") {
                    let source = std::fs::read_to_string(&path).expect("a source file");
                    let named = crate_paths(&source).into_iter().filter(|p| p == &format!("crate::{module}") || p.starts_with(&format!("crate::{module}::")));
                    found.extend(named.map(|p| format!("{}: {p}", path.display())));
                }
            }
        }
        found
    }

    #[test]
    fn finds_paths_in_groups() {
        assert_eq!(
            crate_paths("use crate::{api, http::AppState};\nlet x = crate::admin::routes();"),
            ["crate::api", "crate::http::AppState", "crate::admin::routes"]
        );
    }

    /// What both need lives here; neither reaches into the other.
    #[test]
    fn api_and_admin_do_not_import_each_other() {
        assert_eq!(mentions("api", "admin"), Vec::<String>::new());
        assert_eq!(mentions("admin", "api"), Vec::<String>::new());
    }
}
