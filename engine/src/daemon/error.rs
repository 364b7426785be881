//! Daemon errors, classified the way Docker's errdefs are (the class is the HTTP status).

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DaemonError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    Forbidden(String),
    /// 304: already started / already stopped.
    #[error("not modified")]
    NotModified,
    #[error("{0}")]
    System(String),
}

impl DaemonError {
    pub fn status(&self) -> u16 {
        match self {
            DaemonError::NotFound(_) => 404,
            DaemonError::Conflict(_) => 409,
            DaemonError::InvalidParameter(_) => 400,
            DaemonError::Forbidden(_) => 403,
            DaemonError::NotModified => 304,
            DaemonError::System(_) => 500,
        }
    }

    pub fn no_such_container(name: &str) -> Self {
        DaemonError::NotFound(format!("No such container: {name}"))
    }
}

impl From<super::images::ImageError> for DaemonError {
    fn from(e: super::images::ImageError) -> Self {
        use super::images::ImageError as E;
        match e {
            E::NotFound(_) => DaemonError::NotFound(e.to_string()),
            E::InvalidReference(_) => DaemonError::InvalidParameter(e.to_string()),
            E::Conflict(_) => DaemonError::Conflict(e.to_string()),
            E::Storage(_) => DaemonError::System(e.to_string()),
        }
    }
}

impl From<crate::container::store::StoreError> for DaemonError {
    fn from(e: crate::container::store::StoreError) -> Self {
        DaemonError::System(e.to_string())
    }
}

impl From<crate::container::spec::SpecError> for DaemonError {
    fn from(e: crate::container::spec::SpecError) -> Self {
        DaemonError::InvalidParameter(e.to_string())
    }
}
