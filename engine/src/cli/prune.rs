//! `container prune`, `image prune`, `system prune`.

use clap::Subcommand;
use serde_json::Value;

use super::system::human_size;
use super::{CliResult, Failure};
use crate::client::{enc, Client};

#[derive(Subcommand, Debug)]
pub enum ContainerCmd {
    /// Remove all stopped containers
    Prune {
        /// Do not prompt for confirmation
        #[arg(short = 'f', long = "force")]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImageCmd {
    /// Remove unused images
    Prune {
        /// Remove all unused images, not just dangling ones
        #[arg(short = 'a', long = "all")]
        all: bool,
        /// Do not prompt for confirmation
        #[arg(short = 'f', long = "force")]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum SystemCmd {
    /// Remove unused data (stopped containers, dangling images)
    Prune {
        /// Remove all unused images not just dangling ones
        #[arg(short = 'a', long = "all")]
        all: bool,
        /// Do not prompt for confirmation
        #[arg(short = 'f', long = "force")]
        force: bool,
    },
}

fn require_force(force: bool) -> CliResult {
    // Without a terminal to ask on, Docker's prompt would read EOF and answer "no".
    if force {
        Ok(())
    } else {
        Err(Failure::new("refusing to prune without --force (non-interactive)", 1))
    }
}

fn containers(c: &Client) -> Result<u64, Failure> {
    let v: Value = c.post("/containers/prune")?.json()?;
    let d = v["ContainersDeleted"].as_array().cloned().unwrap_or_default();
    if !d.is_empty() {
        println!("Deleted Containers:");
        for x in d {
            println!("{}", x.as_str().unwrap_or(""));
        }
        println!();
    }
    Ok(v["SpaceReclaimed"].as_u64().unwrap_or(0))
}

fn images(c: &Client, all: bool) -> Result<u64, Failure> {
    let f = if all { r#"{"dangling":{"false":true}}"# } else { r#"{"dangling":{"true":true}}"# };
    let v: Value = c.post(&format!("/images/prune?filters={}", enc(f)))?.json()?;
    let d = v["ImagesDeleted"].as_array().cloned().unwrap_or_default();
    if !d.is_empty() {
        println!("Deleted Images:");
        for x in d {
            if let Some(u) = x["Untagged"].as_str() {
                println!("untagged: {u}");
            }
            if let Some(u) = x["Deleted"].as_str() {
                println!("deleted: {u}");
            }
        }
        println!();
    }
    Ok(v["SpaceReclaimed"].as_u64().unwrap_or(0))
}

pub fn container(c: &Client, cmd: ContainerCmd) -> CliResult {
    let ContainerCmd::Prune { force } = cmd;
    require_force(force)?;
    let n = containers(c)?;
    println!("Total reclaimed space: {}", human_size(n as f64));
    Ok(())
}

pub fn image(c: &Client, cmd: ImageCmd) -> CliResult {
    let ImageCmd::Prune { all, force } = cmd;
    require_force(force)?;
    let n = images(c, all)?;
    println!("Total reclaimed space: {}", human_size(n as f64));
    Ok(())
}

pub fn system(c: &Client, cmd: SystemCmd) -> CliResult {
    let SystemCmd::Prune { all, force } = cmd;
    require_force(force)?;
    let n = containers(c)? + images(c, all)?;
    println!("Total reclaimed space: {}", human_size(n as f64));
    Ok(())
}
