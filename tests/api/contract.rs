//! The OpenAPI document is the contract. schemathesis (PyPI) generates
//! requests from it against the running server, valid and invalid, with an
//! admin token, and checks every response: never a 5xx, and always a
//! documented status with the documented content type and schema.
//!
//! The tool is installed on first use into a virtualenv under the target
//! directory (`KATALOG_SCHEMATHESIS` names an installed one instead;
//! `KATALOG_PYTHON` the interpreter for the virtualenv).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::{Server, TestDb, python_tool, repo_path, text, token};
use crate::on_both_databases;

const VERSION: &str = "4.32.5";
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";

/// The schemathesis command, installed if need be (one installer at a time).
fn schemathesis() -> PathBuf {
    if let Ok(path) = std::env::var("KATALOG_SCHEMATHESIS") {
        return PathBuf::from(path);
    }
    let command = |root: &Path| root.join("bin/schemathesis");
    let works = |root: &Path| Command::new(command(root)).arg("--version").output().is_ok_and(|o| o.status.success());
    command(&python_tool(&format!("schemathesis-{VERSION}"), &format!("schemathesis=={VERSION}"), works))
}

async fn the_api_keeps_its_contract(db: TestDb) {
    let command = schemathesis();
    let server = Server::start(&db, &repo_path("content"));
    let admin = token(&db, "admin", &[]);
    let reports = tempfile::tempdir().unwrap();
    let output = Command::new(&command)
        .arg("run")
        .arg(server.url("/openapi.json"))
        .args(["--checks", CHECKS, "--max-examples", "25", "--seed", "4711", "--workers", "2", "--no-color"])
        .args(["--suppress-health-check", "all", "--generation-with-security-parameters", "false"])
        .args(["-H", &format!("Authorization: Bearer {admin}")])
        // Revoking tokens would revoke the run's own and lock it out of the
        // rest; the management tests cover revocation.
        .args(["--exclude-operation-id", "revokeToken"])
        .arg("--report-dir")
        .arg(reports.path())
        .current_dir(reports.path())
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "schemathesis found contract violations:\n{stdout}\n{}", text(&output.stderr));
    assert!(stdout.contains("passed"), "schemathesis ran no test:\n{stdout}");
}
on_both_databases!(the_api_keeps_its_contract);

const CLIENT_GENERATOR: &str = "openapi-python-client==0.29.1";

/// A widely used client generator turns every operation and schema of the
/// document into code: none is dropped as unreadable.
#[tokio::test]
async fn a_generated_client_covers_every_operation() {
    let command = |root: &Path| root.join("bin/openapi-python-client");
    let works = |root: &Path| Command::new(command(root)).arg("--version").output().is_ok_and(|o| o.status.success());
    let generator = command(&python_tool("openapi-python-client-0.29.1", CLIENT_GENERATOR, works));
    let db = TestDb::new(crate::helpers::Backend::Sqlite).await;
    let server = Server::start(&db, &repo_path("content"));
    let spec = server.get_json("/openapi.json").await;
    let folder = tempfile::tempdir().unwrap();
    let spec_file = folder.path().join("openapi.json");
    std::fs::write(&spec_file, spec.to_string()).unwrap();
    let output = Command::new(&generator)
        .arg("generate")
        .arg("--path")
        .arg(&spec_file)
        .arg("--output-path")
        .arg(folder.path().join("client"))
        .current_dir(folder.path())
        .output()
        .unwrap();
    let said = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{said}");
    for dropped in ["will not be generated", "Unable to process schema", "Could not find reference"] {
        assert!(!said.contains(dropped), "the generator dropped part of the document:\n{said}");
    }
    let operations = spec["paths"].as_object().unwrap().values().flat_map(|item| item.as_object().unwrap().values()).count();
    let modules = crate::helpers::paths_below(&folder.path().join("client"), |_| true)
        .into_iter()
        .filter(|path| path.components().any(|c| c.as_os_str() == "api") && !path.ends_with("__init__.py"))
        .count();
    assert_eq!(modules, operations, "one module per operation:\n{said}");
}
