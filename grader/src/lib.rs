//! berth's lab platform: catalog model, host provisioning, scenario runner, checks, reports.
