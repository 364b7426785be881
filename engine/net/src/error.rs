//! Errors with Docker's texts: the daemon maps `status()` to the HTTP code it answers with.
use std::net::Ipv4Addr;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("Pool overlaps with other one on this address space")]
    PoolOverlap,
    #[error("no matching subnet for gateway {0}")]
    GatewayOutsideSubnet(Ipv4Addr),
    #[error("no matching subnet for range {0}")]
    RangeOutsideSubnet(String),
    #[error("invalid CIDR address: {0}")]
    InvalidCidr(String),
    #[error("invalid gateway address {0}")]
    InvalidGateway(String),
    #[error("network with name {0} already exists")]
    DuplicateName(String),
    #[error("only one instance of \"{0}\" network is allowed")]
    OnlyOneInstance(String),
    #[error("plugin \"{0}\" not found")]
    UnknownDriver(String),
    #[error("{0} is a pre-defined network and cannot be removed")]
    PreDefined(String),
    #[error("error while removing network: network {name} id {id} has active endpoints")]
    ActiveEndpoints { name: String, id: String },
    #[error("network {0} not found")]
    NotFound(String),
    #[error("user specified IP address is supported on user defined networks only")]
    StaticIpOnDefault,
    #[error("user specified IP address is supported only when connecting to networks with user configured subnets")]
    StaticIpNoUserSubnet,
    #[error("Invalid address {0}: It does not belong to any of this network's subnets")]
    StaticIpOutsideSubnet(std::net::Ipv4Addr),
    #[error("Address already in use")]
    AddressInUse,
    #[error("requested address is out of range")]
    AddressOutOfRange,
    #[error("No available addresses on this pool")]
    PoolExhausted,
    #[error("endpoint with name {container} already exists in network {network}")]
    AlreadyConnected { container: String, network: String },
    #[error("container {container} is not connected to network {network}")]
    NotConnected { container: String, network: String },
    #[error("cannot join network of a non running container: {0}")]
    ContainerNotRunning(String),
    #[error("Bind for {0}:{1} failed: port is already allocated")]
    PortAllocated(String, u16),
    #[error("{0}")]
    PortSpec(String),
    #[error("invalid network option {0}: {1}")]
    InvalidOption(String, String),
    #[error("netlink: {0}")]
    Netlink(String),
    #[error("firewall: {0}")]
    Firewall(String),
    #[error("netns {path}: {source}")]
    Netns { path: String, source: std::io::Error },
    #[error("state file {path}: {msg}")]
    State { path: String, msg: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl NetError {
    /// HTTP status Docker answers with for this error.
    pub fn status(&self) -> u16 {
        use NetError::*;
        match self {
            DuplicateName(_) | AlreadyConnected { .. } | ContainerNotRunning(_) => 409,
            OnlyOneInstance(_) | PreDefined(_) | ActiveEndpoints { .. } | NotConnected { .. } => 403,
            UnknownDriver(_) | NotFound(_) => 404,
            PoolOverlap | GatewayOutsideSubnet(_) | RangeOutsideSubnet(_) | InvalidCidr(_)
            | InvalidGateway(_) | StaticIpOnDefault | StaticIpNoUserSubnet | StaticIpOutsideSubnet(_) | AddressInUse | AddressOutOfRange
            | PortSpec(_) | InvalidOption(..) => 400,
            _ => 500,
        }
    }
}

pub type Result<T> = std::result::Result<T, NetError>;
