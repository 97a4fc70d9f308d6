//! R1-R5: reboots, config and the host-config API under locks.

use anyhow::{ensure, Context};
use serde_json::json;

use super::config_prefix;
use crate::case::CaseResult;
use crate::ctx::Ctx;
use crate::outcome::Promise;
use lockcheck_macros::case;

/// `<root>/mnt/boot/config.json` (hostname and applied config vars).
fn config_json(ctx: &Ctx) -> serde_json::Value {
    ctx.files()
        .read(&ctx.at("mnt/boot/config.json"))
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(json!({}))
}

/// a config change that needs a reboot (any HOST_CONFIG_* key) is not rebooted into while any
/// lock is held; the reboot happens after release (from 7.0.0; before, the reboot ignored
/// locks: hazard); with the override config var on, the config reboot goes through a lock
#[case(
    id = "R1",
    title = "reboot deferral",
    promise = |p| Promise::hazard_if(!p.config_reboot_waits_for_locks())
)]
fn r1_reboot_deferral(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let lock = ctx.primary_path("main");
    ctx.user_lock(&lock)?;
    let boot = ctx.boot_id()?;
    let before = ctx.kill_snapshot()?;
    let key = format!("{}HOST_CONFIG_gpu_mem", config_prefix(ctx));
    ctx.set_config(&key, Some("16"));
    ctx.deploy()?;
    if !ctx.profile.config_reboot_waits_for_locks() {
        // Documented older behaviour: the reboot ignores the lock.
        return ctx.wait_for("the reboot (which ignores locks on this version)", || {
            Ok((ctx.boot_id()? != boot).then_some(()))
        });
    }
    ctx.settled()?;
    ensure!(
        ctx.boot_id()? == boot,
        "expected no reboot while locked, but the device rebooted"
    );
    ctx.ensure_not_killed(&before, 1)?;
    ctx.release_lock(&lock)?;
    ctx.wait_for("the deferred reboot after release", || {
        Ok((ctx.boot_id()? != boot).then_some(()))
    })?;
    // The permanent override covers a config reboot too: the reboot takes
    // the locks with `force || lockOverride` (v17.3.5
    // src/device-state/index.ts:494). The override goes on first (turning
    // it on deletes the locks present then) and the lock is taken after.
    let name = ctx.profile.override_names()[0];
    super::override_lock::set_override(ctx, &name, Some("1"));
    ctx.deploy()?;
    ctx.wait_applied()?;
    ctx.user_lock(&lock)?;
    let boot = ctx.boot_id()?;
    ctx.set_config(&key, Some("32"));
    ctx.deploy()?;
    ctx.wait_for(
        &format!("the config reboot despite the lock, {}=1", name.name),
        || Ok((ctx.boot_id()? != boot).then_some(())),
    )?;
    Ok(())
}

/// a config change that needs no reboot is applied at once even while locked
#[case(
    id = "R2",
    title = "non-reboot config",
    promise = |_| Promise::Pass
)]
fn r2_non_reboot_config(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let lock = ctx.primary_path("main");
    ctx.user_lock(&lock)?;
    let boot = ctx.boot_id()?;
    let before = ctx.kill_snapshot()?;
    let key = format!("{}SUPERVISOR_POLL_INTERVAL", config_prefix(ctx));
    ctx.set_config(&key, Some("60000"));
    ctx.deploy()?;
    ctx.wait_for("the config var applied", || {
        Ok((config_json(ctx)["config"][&key] == "60000").then_some(()))
    })?;
    ensure!(
        ctx.boot_id()? == boot,
        "expected no reboot for a non-reboot config var"
    );
    ctx.ensure_not_killed(&before, 1)?;
    Ok(())
}

/// POST /v1/reboot and /v1/shutdown answer 423 while locked unless force (from 2.8.0; before
/// they reboot regardless: hazard); the forced reboot stops the services
#[case(
    id = "R3",
    title = "reboot/shutdown API",
    promise = |p| Promise::hazard_if(!p.reboot_api_checks_locks())
)]
fn r3_reboot_shutdown_api(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let lock = ctx.primary_path("main");
    ctx.user_lock(&lock)?;
    let boot = ctx.boot_id()?;
    if !ctx.profile.reboot_api_checks_locks() {
        let status = ctx.post_force("/v1/reboot", false)?;
        ensure!(
            status == 202,
            "expected this version to reboot despite the lock, got {status}"
        );
        return ctx.wait_for("the reboot (which ignores locks on this version)", || {
            Ok((ctx.boot_id()? != boot).then_some(()))
        });
    }
    for path in ["/v1/reboot", "/v1/shutdown"] {
        let (status, body) = ctx.api().post(path, &json!({"force": false}))?;
        ensure!(
            status == 423,
            "expected {path} to answer 423 while locked, got {status}: {body}"
        );
        ensure!(
            body["Data"] == "" && body["Error"].is_string(),
            "expected the reboot API's {{\"Data\":\"\",\"Error\":...}} body, got {body}"
        );
    }
    ctx.settled()?;
    ensure!(ctx.boot_id()? == boot, "expected no reboot while locked");
    // Only a started service logs the SIGTERM the reboot must send it.
    ctx.wait_started(1, "main")?;
    let sigterms = ctx.sigterms(1, "main")?;
    let status = ctx.post_force("/v1/reboot", true)?;
    ensure!(
        status == 202,
        "expected a forced reboot to answer 202, got {status}"
    );
    ctx.wait_for("the forced reboot", || {
        Ok((ctx.boot_id()? != boot).then_some(()))
    })?;
    // A reboot stops the services (SIGTERM) before the device goes down;
    // a service that kept running across it was never rebooted.
    ensure!(
        ctx.sigterms(1, "main")? > sigterms,
        "expected the reboot to stop the service (SIGTERM), but it kept running"
    );
    Ok(())
}

/// from 12.8.10 rollback-health-breadcrumb or rollback-altboot-breadcrumb in the state
/// partition blocks reboots and shutdowns (423 'Waiting for Host OS update to finish'); app
/// updates are not blocked; force overrides from 12.9.3
#[case(
    id = "R4",
    title = "HUP breadcrumbs",
    promise = |p| Promise::applies_if(p.hup_breadcrumbs_block(), Promise::Pass)
)]
fn r4_hup_breadcrumbs(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let crumb = ctx.at("mnt/state/rollback-health-breadcrumb");
    ctx.files()
        .write(&crumb, b"")
        .context("creating the breadcrumb")?;
    ctx.bump(1);
    ctx.deploy()?;
    ctx.wait_applied()
        .context("an app update must not wait for a HUP breadcrumb")?;
    let boot = ctx.boot_id()?;
    let status = ctx.post_force("/v1/reboot", false)?;
    ensure!(
        status == 423,
        "expected a reboot to get 423 during a HUP rollback, got {status}"
    );
    let status = ctx.post_force("/v1/reboot", true)?;
    if ctx.profile.hup_breadcrumbs_force() {
        ensure!(
            status == 202,
            "expected a forced reboot past the breadcrumb, got {status}"
        );
        ctx.wait_for("the forced reboot", || {
            Ok((ctx.boot_id()? != boot).then_some(()))
        })?;
    } else {
        ensure!(
            status == 423,
            "expected even a forced reboot refused before 12.9.3, got {status}"
        );
        ctx.files().remove(&crumb)?;
        ensure!(
            ctx.post_force("/v1/reboot", false)? == 202,
            "expected the reboot once the breadcrumb is gone"
        );
        ctx.wait_for("the reboot", || Ok((ctx.boot_id()? != boot).then_some(())))?;
    }
    Ok(())
}

/// PATCH /v1/device/host-config takes the locks and answers 423 while locked, from 12.11.34
/// (503 with no app until 14.0.9); 16.4.0 - 16.7.x write the hostname outside the lock
/// (hazard); before 12.11.34 it applies regardless (hazard)
#[case(
    id = "R5",
    title = "host-config PATCH",
    promise = |p| Promise::hazard_if(!p.host_config_takes_locks() || p.hostname_bypasses_locks())
)]
fn r5_host_config_patch(ctx: &mut Ctx) -> CaseResult {
    let patch = |ctx: &Ctx, name: &str| {
        ctx.api().call(
            "PATCH",
            "/v1/device/host-config",
            Some(&json!({"network": {"hostname": name}})),
        )
    };
    let (status, body) = patch(ctx, "no-app-name")?;
    if ctx.profile.host_config_takes_locks()
        && ctx.profile.host_config_needs_app()
        && !ctx.profile.hostname_bypasses_locks()
    {
        ensure!(
            status == 503,
            "expected 503 'Could not find an appId' with no app: {status} {body}"
        );
    } else {
        ensure!(
            status == 200,
            "expected 200 with no app, got {status}: {body}"
        );
    }
    ctx.start_simple()?;
    let lock = ctx.primary_path("main");
    ctx.user_lock(&lock)?;
    let (status, body) = patch(ctx, "locked-name")?;
    if ctx.profile.host_config_takes_locks() && !ctx.profile.hostname_bypasses_locks() {
        ensure!(
            status == 423,
            "expected 423 while locked, got {status}: {body}"
        );
        ensure!(
            config_json(ctx)["hostname"] != "locked-name",
            "expected the hostname unchanged while locked"
        );
    } else {
        ensure!(
            status == 200,
            "expected this version to apply the hostname despite the lock, got {status}: {body}"
        );
        ensure!(
            config_json(ctx)["hostname"] == "locked-name",
            "expected the hostname applied"
        );
    }
    ctx.release_lock(&lock)?;
    let (status, body) = patch(ctx, "free-name")?;
    ensure!(
        status == 200,
        "expected 200 once unlocked, got {status}: {body}"
    );
    ensure!(
        config_json(ctx)["hostname"] == "free-name",
        "expected the hostname applied once unlocked"
    );
    Ok(())
}
