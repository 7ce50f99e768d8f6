//! The quality dashboard: what the editorial team should fix first.

use minijinja::context;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Response, handler};

use super::entries::{entry_href, page_response};
use super::error_page;
use super::session::Editor;
use crate::content::Locale;
use crate::http::AppState;
use crate::quality::{self, Finding};
use crate::render::template_value;

#[derive(serde::Serialize)]
struct Section<'r> {
    key: &'static str,
    findings: Vec<ShownFinding<'r>>,
}

#[derive(serde::Serialize)]
struct ShownFinding<'r> {
    href: String,
    #[serde(flatten)]
    finding: &'r Finding,
}

fn shown<'r>(key: &'static str, findings: &'r [Finding]) -> Section<'r> {
    Section {
        key,
        findings: findings.iter().map(|finding| ShownFinding { href: entry_href(&finding.content_type, &finding.slug, Locale::SOURCE), finding }).collect(),
    }
}

#[handler]
pub async fn dashboard(state: Data<&AppState>, editor: Editor) -> Response {
    let report = match quality::report(&state.store, &state.registry, chrono::Utc::now()).await {
        Ok(report) => report,
        Err(error) => {
            tracing::error!(%error, "the quality report failed");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, editor.lang, &error.to_string());
        }
    };
    let sections = [
        shown("missing_for_kb115", &report.missing_for_kb115),
        shown("review_overdue", &report.review_overdue),
        shown("broken_references", &report.broken_references),
        shown("outdated_translations", &report.outdated_translations),
        shown("hardest_to_read", &report.hardest_to_read),
    ];
    let view = context! { here => "/admin/quality", sections => template_value(&sections), checked => report.entries_checked };
    page_response(StatusCode::OK, "quality.html", &editor, view)
}
