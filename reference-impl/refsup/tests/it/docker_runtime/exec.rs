//! Running a command inside a container (`docker exec`) and reading its
//! output and exit code.

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::StreamExt;

/// Run `cmd` in `container` (as `user`, else the container's user);
/// returns (exit code, stdout and stderr).
pub async fn exec(
    docker: &Docker,
    container: &str,
    user: Option<&str>,
    cmd: &[&str],
) -> (i64, String) {
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd.to_vec()),
                user,
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("create exec");
    let mut text = String::new();
    match docker
        .start_exec(&created.id, None)
        .await
        .expect("start exec")
    {
        StartExecResults::Attached { mut output, .. } => {
            while let Some(chunk) = output.next().await {
                text.push_str(&chunk.expect("exec output").to_string());
            }
        }
        StartExecResults::Detached => unreachable!("attached exec"),
    }
    let code = docker
        .inspect_exec(&created.id)
        .await
        .expect("inspect exec")
        .exit_code
        .expect("exec exit code");
    (code, text)
}
